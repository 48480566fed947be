"""How many CPU threads torch gets: chosen from the model's size and the machine's load.

Measured on a 2-core machine with another process on one core (the README's main job): the
default model (1 GFLOP a frame) took 24 ms a frame on one thread and 112 ms on two, which spin
waiting for each other; config-F 1024 (284 GFLOP) 2.7 s on one and 6.6 s on two. Small models
therefore always get one thread; big ones get the cores nobody else is using, and OpenMP's
waiting threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``, set before torch starts
by ``prepare_openmp``). A user's own ``OMP_NUM_THREADS`` always wins, for every pool below.

The same count goes to the other thread pools a frame or a face reading may wake: numpy's and
scipy's BLAS (OpenBLAS/MKL, through threadpoolctl, which scikit-learn brings) and OpenCV's. Left
alone, OpenBLAS starts a thread per CPU of its own: "one thread" capture used 1.65-1.93 cores.
ONNX Runtime sessions (``engines.OnnxEngine``) take torch's count as their intra-op threads (one
inter-op thread, no spinning under ``OMP_WAIT_POLICY=PASSIVE``), and are remade when it changes.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not at run time: prepare_openmp must run before torch is imported
    from .generator import GeneratorConfig

# Below this much work a frame, a second thread's synchronisation costs more than it saves.
PARALLEL_FLOPS = 10e9


def prepare_openmp() -> None:
    """Call before torch is imported: waiting OpenMP threads sleep rather than spin."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def synthesis_flops(cfg: GeneratorConfig) -> float:
    """Multiply-adds ×2 of one frame's convolutions (toRGB included): the work threads share."""
    total = 0
    for res in cfg.block_resolutions:
        out = cfg.channels(res)
        inp = cfg.channels(res // 2) if res > 4 else 0
        total += (inp * out + out * out) * cfg.kernel_size**2 * res * res + out * cfg.img_channels * res * res
    return 2.0 * total


def free_cpus() -> int:
    """CPUs this process may use, less those other work keeps busy (1-minute load average)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = round(os.getloadavg()[0])
    except OSError:
        busy = 0
    return max(1, min(cpus, cpus - busy + 1))  # +1: the load may include this process's own start


def choose_threads(flops: float, cpus: int) -> int:
    """Threads for a model costing ``flops`` a frame, with ``cpus`` free."""
    return 1 if flops < PARALLEL_FLOPS else max(1, cpus)


def use_threads_for(cfg: GeneratorConfig) -> int:
    """Set torch's intra-op threads for frames of ``cfg`` on the CPU (unless OMP_NUM_THREADS is
    set); returns the count in use."""
    return use_threads(synthesis_flops(cfg))


def use_threads(flops: float) -> int:
    """Set torch's intra-op threads for work of ``flops`` a frame, and the other pools to the same
    (a user's OMP_NUM_THREADS chooses the count instead: OpenBLAS reads it, OpenCV would not);
    returns the count in use."""
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        limit_other_pools(torch.get_num_threads())
    else:
        set_threads(choose_threads(flops, free_cpus()))
    return torch.get_num_threads()


def set_threads(count: int) -> None:
    """Torch's intra-op threads and every other pool (``limit_other_pools``) at ``count``: a
    script's ``--threads`` too, or numpy's BLAS and OpenCV run a thread per CPU beside it (the face
    readers took 194 ms of CPU a 1024 px face with torch alone at one thread, 104 with all at one)."""
    import torch

    torch.set_num_threads(count)
    limit_other_pools(count)


# (threads, modules loaded) when the pools were last limited: threadpoolctl scans the loaded
# libraries (~1 ms), too much to repeat before every preview frame; a new import may load a new BLAS.
_limited: tuple[int, int] | None = None


def limit_other_pools(threads: int) -> None:
    """BLAS (every OpenBLAS/MKL loaded) and OpenCV get at most ``threads`` threads."""
    global _limited
    if _limited == (threads, len(sys.modules)):
        return
    _limited = (threads, len(sys.modules))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn's dependency; without it BLAS keeps its own count
        pass
    else:
        threadpool_limits(limits=threads, user_api="blas")
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(threads)
