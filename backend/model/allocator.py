"""Keep freed memory for the next frame instead of handing it back to the system.

glibc's malloc serves every block over 32 MB (at most; its threshold adapts up to that) with a
fresh ``mmap`` and unmaps it on ``free``. A 1024 px frame's activations are 128-135 MB each, so
every layer's output arrived as fresh pages that the kernel had to fault in and zero: measured on
config-F 1024 on one thread (scripts/bench_generator.py, random weights), 5.2 s of system time in
three frames, 3.9 s a frame; with the blocks kept, 2.2 s a frame and no system time to speak of.
The same happens to inversion and learning at 1024 px, and to batches of smaller frames (the
default model's 16 a call).

``keep_freed_memory`` has malloc take large blocks from the heap and keep up to ``TRIM_BYTES`` of
freed memory for reuse. The cost is that a process holds on to its peak memory (up to that much
freed) until it exits, plus what the heap's fragments waste: config-F's peak resident memory
(scripts/bench_generator.py) was 1321 MB against 1102 MB at batch 1 and 8639 against 5231 MB at
batch 8, and a bare loop of one 64 MB block at a time grew the heap by 3-6 blocks before it settled
(layer-like work, tests/test_threads.py, settles at once).

Elsewhere than glibc (macOS, Windows, musl) it does nothing, and
``LATENT_EMOTION_KEEP_FREED=0`` in the environment leaves malloc as it was (benchmarks' "before").
The CLI (``python -m backend``) applies it at start, where its work runs on the main thread; so
do the tests and the benchmarks. The add-on does not: its work runs on a worker thread, and glibc
serves a thread other than the main one blocks over 64 MB (its arenas' largest heap) from a fresh
``mmap`` whatever is set (ten layer-like calls in a thread: 409,625 faults either way), so Blender
would only keep its own freed memory for nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
# Freed memory above this at the top of the heap is still returned (mallopt takes a C int).
TRIM_BYTES = 2**31 - 1

_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse large freed blocks (once per process); True where it applies."""
    global _kept
    if _kept is None:
        wanted = os.environ.get("LATENT_EMOTION_KEEP_FREED", "1") != "0"
        _kept = wanted and _mallopt(M_MMAP_MAX, 0) and _mallopt(M_TRIM_THRESHOLD, TRIM_BYTES)
    return _kept


def freed_memory_kept() -> bool:
    """Whether ``keep_freed_memory`` has made malloc keep freed blocks in this process."""
    return bool(_kept)


def _mallopt(param: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    # glibc only: musl's mallopt ignores its arguments.
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(param, value) == 1
