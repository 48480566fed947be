"""Rendering a timeline: W+ codes → frames through the frame cache → an mp4 or PNG folder."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..jobs import Progress
from ..model.engines import Engine
from ..model.generator import Generator
from .frame_cache import FrameCache, RenderTarget, generator_synthesizer, iter_frames, key_fingerprint


@dataclass(frozen=True)
class RenderStats:
    """How a render went: frames written, and how many were computed vs taken from the cache."""

    frames: int
    computed: int
    cached: int


def default_cache_dir() -> Path:
    """$LATENT_EMOTION_CACHE, else the user's cache folder (XDG) / latent-emotion / frames."""
    if os.environ.get("LATENT_EMOTION_CACHE"):
        return Path(os.environ["LATENT_EMOTION_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "latent-emotion" / "frames"


def render_frames_cached(G: Generator, fingerprint: str, ws: np.ndarray | Iterable[np.ndarray], cache: FrameCache, *,
                         size: int | None = None, progress: Progress | None = None, total: int = 0,
                         compiled: bool = False, engine: Engine | None = None) -> Iterator[np.ndarray]:
    """Frames (uint8 H×W×3) of the W+ codes ``ws`` — one (N, num_ws, w_dim) array or chunks of
    them (``timeline.iter_latents``), so a long render holds one chunk at a time — computing only
    the frames the cache lacks. ``progress("frames", done, total)`` (``total``: the caller's count of
    frames, 0 when unknown); ``compiled``:
    G's synthesis runs compiled kernels (``compile_synthesis``), whose frames are keyed apart;
    ``engine``: what makes the frames (``model.engines.pick_engine``; default torch eager), keyed
    apart unless it is torch."""
    name = "torch" if engine is None else engine.name
    target = RenderTarget(key_fingerprint(fingerprint, G.device.type, compiled, name), G.config.img_resolution)
    synthesize = generator_synthesizer(G) if engine is None else engine.frames
    done = 0
    for chunk in ([ws] if isinstance(ws, np.ndarray) else ws):
        offset = done
        report = None if progress is None else (lambda stage, n, _: progress(stage, offset + n, total))
        for frame in iter_frames(chunk, target, synthesize, cache, progress=report):
            done += 1
            yield frame if size is None or size == frame.shape[0] else resize(frame, size)


def graph_dir(frames_root: Path) -> Path:
    """Where exported generator graphs (``model.engines``) are cached: beside the frame cache."""
    return Path(frames_root).resolve().parent / "graphs"


def compile_synthesis(G: Generator, frames_root: Path) -> None:
    """Run G's synthesis through torch.compile: on a CPU about 1.5× faster a frame, within 1/255 of
    the plain frames, but ~30 s to compile the first time — for long renders. Kernels are cached on
    disk beside the frame cache (``frames_root``), so later runs start in seconds."""
    import torch

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(frames_root).resolve().parent / "compiled"))
    G.synthesis = torch.compile(G.synthesis)


def resize(frame: np.ndarray, size: int) -> np.ndarray:
    import cv2

    interpolation = cv2.INTER_AREA if size < frame.shape[0] else cv2.INTER_LANCZOS4
    return cv2.resize(frame, (size, size), interpolation=interpolation)


def write_frames(frames: Iterator[np.ndarray], out: Path, fps: float, first: int = 0) -> int:
    """To ``out``: a video file (``video.VIDEO_FORMATS``, by suffix), or a folder of PNG frames
    numbered from ``first`` when ``out`` has no suffix or is a folder. Returns the frame count."""
    from .video import video_format, write_png_sequence, write_video

    if out.suffix and not out.is_dir():
        video_format(out)  # an unsupported suffix fails before any frame is made
        return write_video(frames, out, fps)
    return len(write_png_sequence(frames, out, first=first))
