"""The frame cache: rendered frames on disk, named by everything that decides them.

A frame is a pure function of (generator weights, W+ code, resolution, noise mode), so the
sha256 of those is its name. Blender image sequences and the CLI renderer read the same files.
How channel values became the code (the rig's composition, ``latent.compose_latent``'s
``stacking``) is in the key through the code itself: capped stacking gives stacked frames new
codes and so new keys, while neutral and single-channel frames keep their codes bit for bit and
so their keys and cached files; a code still means the same frame, so ``FORMAT_VERSION`` stays.

Layout: ``<root>/<key[:2]>/<key>.png`` — lossless RGB PNG, fanned out over 256 folders so
no folder grows huge. Writes go to ``.<key>.<random>.tmp`` in the same folder, then
``os.replace``: a killed writer leaves at worst a temp file, never a half ``.png``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..files import replacing, write_atomic
from ..jobs import Progress
from .video import check_frame, decode_png, encode_png, is_complete_png

if TYPE_CHECKING:
    from ..model.generator import Generator

# Bump when anything that goes into a key, or how a frame is made from it, changes meaning.
FORMAT_VERSION = 1
# Key granularity of W+ values. A code is first cast to float32 (the generator's precision), so
# a code that went through float64 keys exactly like its float32 self; it is then rounded to a
# grid of 1e-4, so that last-bit noise from different float paths (~1e-7) mostly gives the same
# key, while a change of more than 1e-4 in any value always changes it. "Mostly": a value within
# noise δ of a grid edge rounds either way, with probability ≈ δ / W_QUANTUM per value, so a
# full 18×512 code with noise in every value will usually miss — hits come from computing codes
# the same way; rounding forgives noise in a few values. A miss costs a recomputation, never a
# wrong frame, because frames are rendered from the snapped code (see ``snap_w``).
W_QUANTUM = 1e-4
# Past this, float32 spacing nears W_QUANTUM and the grid stops meaning anything; it is far
# beyond the codes a mapping network, or a sane edit of one, produces.
W_LIMIT = 512.0
CACHEABLE_NOISE_MODES = ("const", "none")  # "random" draws new noise per call: not a function of the key
_KEY = re.compile(r"[0-9a-f]{64}")
_TEMP = re.compile(r"\.([0-9a-f]{64})\..+\.tmp")  # files.replacing's name for a frame being written
_STALE_TEMP_S = 3600.0  # a temp file this old belongs to a dead writer

Synthesize = Callable[[np.ndarray], np.ndarray]
"""W+ batch (B, num_ws, w_dim) float32 → frames (B, H, W, 3) uint8."""


def quantize_w(w_plus: np.ndarray) -> np.ndarray:
    """W+ as int32 multiples of ``W_QUANTUM`` (of its float32 value, rounding halves up: unlike
    round-half-to-even, that moves every value more than one step away to another integer)."""
    with np.errstate(over="ignore"):
        w = np.asarray(w_plus).astype(np.float32).astype(np.float64)
    if not np.isfinite(w).all():
        raise ValueError("W+ code has NaN or infinite values")
    if np.abs(w).max(initial=0) > W_LIMIT:
        raise ValueError(f"W+ values beyond ±{W_LIMIT:g} cannot be keyed (largest: {np.abs(w).max():g})")
    return np.floor(w / W_QUANTUM + 0.5).astype("<i4")


def snap_w(w_plus: np.ndarray) -> np.ndarray:
    """The grid point a code is keyed by, as float32: what the cache actually renders."""
    return (quantize_w(w_plus).astype(np.float64) * W_QUANTUM).astype(np.float32)


def frame_key(fingerprint: str, w_plus: np.ndarray, resolution: int, noise_mode: str = "const") -> str:
    """Hex sha256 naming the frame of ``w_plus`` (num_ws, w_dim) — or (1, num_ws, w_dim) — rendered
    by the generator with this weight ``fingerprint`` at ``resolution`` with ``noise_mode``."""
    if not fingerprint:
        raise ValueError("fingerprint is empty")
    if int(resolution) != resolution or resolution <= 0:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    if noise_mode not in CACHEABLE_NOISE_MODES:
        raise ValueError(f"noise_mode {noise_mode!r} cannot be cached; use one of {CACHEABLE_NOISE_MODES}")
    w = np.asarray(w_plus)
    if w.ndim == 3 and w.shape[0] == 1:
        w = w[0]
    if w.ndim != 2:
        raise ValueError(f"W+ code must have shape (num_ws, w_dim), got {w.shape}")
    header = (f"latent-emotion.frame\0v{FORMAT_VERSION}\0fingerprint={fingerprint}\0resolution={int(resolution)}"
              f"\0noise={noise_mode}\0quantum={W_QUANTUM!r}\0shape={w.shape[0]}x{w.shape[1]}\0")
    h = hashlib.sha256(header.encode())
    h.update(quantize_w(w).tobytes())
    return h.hexdigest()


def key_fingerprint(fingerprint: str, device_type: str, compiled: bool = False, engine: str = "torch") -> str:
    """The fingerprint the frame keys carry: the weights', plus what else changes pixels — the device
    class off the CPU (a GPU's kernels give other bits), torch.compile's kernels and an engine other
    than torch (``model.engines``: ONNX Runtime's kernels are within 1/255, not bit-identical) — so
    such frames never pass for plain CPU ones (whose keys stay as they were)."""
    key = fingerprint if device_type == "cpu" else f"{fingerprint}+{device_type}"
    if engine != "torch":
        key = f"{key}+{engine}"
    return f"{key}+compiled" if compiled else key


@dataclass(frozen=True)
class RenderTarget:
    """What decides a frame besides its W+ code."""

    fingerprint: str
    resolution: int
    noise_mode: str = "const"

    def key(self, w_plus: np.ndarray) -> str:
        return frame_key(self.fingerprint, w_plus, self.resolution, self.noise_mode)


class FrameCache:
    """Frames on disk under ``root``, by key. Counts ``hits``, ``misses`` and ``writes``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def path(self, key: str) -> Path:
        """Where the PNG of ``key`` lives (whether or not it is there yet)."""
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a frame key (64 lowercase hex digits): {key!r}")
        return self.root / key[:2] / f"{key}.png"

    def contains(self, key: str) -> bool:
        """Whether a complete frame is stored (counts nothing; checks the PNG's ends, decodes nothing)."""
        return is_complete_png(self.path(key))

    __contains__ = contains

    def get(self, key: str) -> np.ndarray | None:
        """The stored frame, or None (a miss). A damaged file is a miss and is deleted."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.misses += 1
            return None
        frame = decode_png(data)
        if frame is None:
            path.unlink(missing_ok=True)
            self.misses += 1
            return None
        self.hits += 1
        try:
            os.utime(path)  # mtime is the recency that prune() keeps
        except OSError:
            pass
        return frame

    def put(self, key: str, frame: np.ndarray) -> Path:
        """Store ``frame`` (uint8 H×W×3) under ``key``, atomically; returns its path."""
        path = self.path(key)
        data = encode_png(check_frame(frame))
        write_atomic(path, data, durable=False)  # no fsync: get() decodes a frame whole or deletes it
        self.writes += 1
        return path

    def size_bytes(self) -> int:
        """Bytes held by stored frames."""
        return self.count_and_size()[1]

    def count_and_size(self) -> tuple[int, int]:
        """How many frames are stored, and their bytes."""
        sizes = [p.stat().st_size for p in self._frames()]
        return len(sizes), sum(sizes)

    def prune(self, max_bytes: int, keep: Collection[str] = ()) -> int:
        """Delete least recently used frames (by mtime) until at most ``max_bytes`` remain, never
        those whose keys are in ``keep``, and temp files of dead writers; returns how many frames
        were deleted."""
        now = time.time()
        # Only this cache's own names: a frame's temp file is ".<key>.png.<random>.tmp" in the folder
        # named by the key's first two digits. Anything else (a folder that is not a frame cache,
        # given by mistake) is never touched.
        for tmp in self.root.glob("??/.*.tmp"):
            m = _TEMP.fullmatch(tmp.name)
            if m is None or tmp.parent.name != m.group(1)[:2]:
                continue
            try:
                if now - tmp.stat().st_mtime > _STALE_TEMP_S:
                    tmp.unlink()
            except OSError:
                pass
        entries = []
        for p in self._frames():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
        entries.sort()
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, p in entries:
            if total <= max_bytes:
                break
            if p.stem in keep:
                continue
            p.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    def link_sequence(self, keys: Sequence[str], folder: str | os.PathLike[str],
                      pattern: str = "frame_{:05d}.png") -> list[Path]:
        """Numbered files in ``folder`` for stored frames, as hard links (copies across file
        systems): what a Blender image sequence or a PNG export needs, without re-encoding.
        A hard link keeps its frame even after ``prune`` deletes the cache's name for it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for i, key in enumerate(keys):
            src, dst = self.path(key), folder / pattern.format(i)
            if not is_complete_png(src):
                raise FileNotFoundError(f"frame {i} ({key}) is not in the cache at {self.root}")
            with replacing(dst) as tmp:  # never a missing or half-copied file under its name
                tmp.unlink()
                try:
                    os.link(src, tmp)
                except OSError:
                    shutil.copyfile(src, tmp)
            # rename() of two links to one file does nothing and succeeds (POSIX): dst held this
            # frame already (linked by another process meanwhile) and the temporary name stays.
            tmp.unlink(missing_ok=True)
            out.append(dst)
        return out

    def _frames(self) -> Iterator[Path]:
        return (p for p in self.root.glob("??/*.png") if _KEY.fullmatch(p.stem) and p.parent.name == p.stem[:2])


def iter_frames(ws: np.ndarray, target: RenderTarget, synthesize: Synthesize, cache: FrameCache,
                batch_size: int = 8, progress: Progress | None = None) -> Iterator[np.ndarray]:
    """Frames of the W+ codes ``ws`` (N, num_ws, w_dim), in order, synthesizing only the ones
    the cache lacks, at most ``batch_size`` per ``synthesize`` call, and storing them.

    Streams: at most ``4 * batch_size`` frames are held at a time. Each frame is rendered from
    its snapped code (``snap_w``), so a hit and a fresh render of the same key are identical.
    """
    ws = np.asarray(ws)
    if ws.ndim != 3:
        raise ValueError(f"ws must have shape (N, num_ws, w_dim), got {ws.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    keys = [target.key(w) for w in ws]
    window = 4 * batch_size
    start = done = 0
    while start < len(keys):
        found: dict[str, np.ndarray] = {}
        missing: dict[str, int] = {}  # key → index of its first frame; repeats render once
        end = start
        while end < len(keys) and end - start < window and len(missing) < batch_size:
            k = keys[end]
            if k not in found and k not in missing:
                frame = cache.get(k)
                if frame is None:
                    missing[k] = end
                else:
                    found[k] = frame
            end += 1
        if missing:
            for k, frame in zip(missing, _synthesize(synthesize, ws[list(missing.values())], target.resolution)):
                cache.put(k, frame)
                found[k] = frame
        for i in range(start, end):
            yield found[keys[i]]
        done += end - start
        if progress is not None:
            progress("frames", done, len(keys))
        start = end


def render_frames(ws: np.ndarray, target: RenderTarget, synthesize: Synthesize, cache: FrameCache,
                  batch_size: int = 8, progress: Progress | None = None) -> list[np.ndarray]:
    """``iter_frames`` as a list."""
    return list(iter_frames(ws, target, synthesize, cache, batch_size, progress))


def generator_synthesizer(G: Generator, noise_mode: str = "const") -> Synthesize:
    """A ``Synthesize`` that runs ``G`` (on its own device) and returns uint8 frames."""
    from ..model.generator import synthesize_frames

    def synthesize(ws: np.ndarray) -> np.ndarray:
        # One frame at a time: a frame's bytes must not depend on which frames share its batch.
        # On CPUs batching is no faster (measured: scripts/bench_generator.py).
        return synthesize_frames(G, ws, batch=1, noise_mode=noise_mode)

    return synthesize


def _synthesize(synthesize: Synthesize, ws: np.ndarray, resolution: int) -> np.ndarray:
    frames = np.asarray(synthesize(snap_w(ws)))
    want = (len(ws), resolution, resolution, 3)
    if frames.dtype != np.uint8 or frames.shape != want:
        raise ValueError(f"synthesize must return uint8 frames of shape {want}, got {frames.dtype} {frames.shape}")
    return frames
