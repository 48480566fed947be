"""Rendering a timeline: W+ codes → frames through the frame cache → an mp4 or PNG folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .frame_cache import FrameCache, RenderTarget, generator_synthesizer, iter_frames
from .generator import Generator


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


def render_frames_cached(G: Generator, fingerprint: str, ws: np.ndarray, cache: FrameCache, *,
                         size: int | None = None, progress: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
    """Frames (uint8 H×W×3) of the W+ codes ``ws``, computing only those the cache lacks."""
    target = RenderTarget(fingerprint, G.config.img_resolution)
    for frame in iter_frames(ws, target, generator_synthesizer(G), cache, progress=progress):
        yield frame if size is None or size == frame.shape[0] else resize(frame, size)


def resize(frame: np.ndarray, size: int) -> np.ndarray:
    import cv2

    interpolation = cv2.INTER_AREA if size < frame.shape[0] else cv2.INTER_LANCZOS4
    return cv2.resize(frame, (size, size), interpolation=interpolation)


def write_frames(frames: Iterator[np.ndarray], out: Path, fps: float) -> int:
    """To ``out``: an .mp4 file (H.264), or else a folder of PNG frames. Returns the frame count."""
    from .video import write_mp4, write_png_sequence

    if out.suffix.lower() == ".mp4":
        return write_mp4(frames, out, fps)
    return len(write_png_sequence(frames, out))
