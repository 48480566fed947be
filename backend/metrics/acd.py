"""Average Content Distance (ACD): how much a video's content (the person) drifts over its frames.

From MoCoGAN (Tulyakov et al., CVPR 2018, Table 1): each frame is embedded (OpenFace face
features for face videos; the shape's mean colour for their toy data) and "the ACD is then
computed using the average pairwise L2 distance of the per-frame feature vectors". For a
video with frame embeddings e_1..e_T:

    pairwise (MoCoGAN):                 ACD = 2 / (T (T-1)) · Σ_{i<j} ‖e_i − e_j‖₂
    consecutive (Zhang & Pollett 2021): ACD = 1 / (T-1)      · Σ_t   ‖e_{t+1} − e_t‖₂

"Pairwise" is read literally, as all pairs; MoCoGAN published no ACD code to settle it.
Zhang & Pollett (§4.5, Table 1) describe theirs as "the average L2 distance among all
consecutive frames". A set of videos scores the mean of its per-video values (each video
weighs the same; neither paper says otherwise). Lower means more consistent content.
The numbers in those tables come from OpenFace embeddings and are only comparable with
scores from the same embedder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Union

import cv2
import numpy as np

from ..rendering.video import check_frame, read_frames

Variant = Literal["pairwise", "consecutive"]
VARIANTS: tuple[Variant, ...] = ("pairwise", "consecutive")
Embed = Callable[[np.ndarray], np.ndarray]
"""Frames (N, H, W, 3) uint8 → embeddings (N, D) float; a row all NaN marks a frame the embedder
cannot embed (the face embedder's frames without a face), which ACD skips and counts."""
VideoSource = Union[np.ndarray, Sequence[np.ndarray], str, os.PathLike]
"""Frames as a (T, H, W, 3) array or a sequence of frames, or an MP4 / PNG folder to read."""


@dataclass(frozen=True)
class AcdResult:
    """The ACD of a set of videos and of each one."""

    value: float
    per_video: tuple[float, ...]
    variant: Variant
    skipped: tuple[int, ...] = ()  # frames per video the embedder could not embed (no face)


def pixel_embedding(frames: np.ndarray, size: int = 32) -> np.ndarray:
    """PLACEHOLDER embedder until a face-identity one exists: grey levels at ``size``×``size``,
    mean removed, scaled to unit length.

    Needs no weights. It measures how much the picture changes, not whether it is the same
    person, so an expression change scores like an identity change. Like OpenFace's, its
    vectors have unit length, so distances lie in [0, 2]; the values still are not comparable
    with the papers'. Removing mean and norm ignores uniform brightness and contrast changes.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (N, H, W, 3), got {frames.shape}")
    out = np.empty((len(frames), size * size), np.float64)
    for i, frame in enumerate(frames):
        grey = cv2.cvtColor(check_frame(frame, f"frame {i}"), cv2.COLOR_RGB2GRAY)
        small = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float64).ravel()
        small -= small.mean()
        norm = np.linalg.norm(small)
        # A flat frame has no direction; zero keeps equal frames at distance 0.
        out[i] = small / norm if norm > 1e-9 else 0.0
    return out


def content_distance(embeddings: np.ndarray, variant: Variant = "pairwise") -> float:
    """ACD of one video from its frame embeddings (T, D), T ≥ 2."""
    e = np.asarray(embeddings, dtype=np.float64)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if e.ndim != 2 or len(e) < 2:
        raise ValueError(f"need embeddings of shape (T, D) with T >= 2 frames, got {e.shape}")
    if variant == "consecutive":
        return float(np.linalg.norm(np.diff(e, axis=0), axis=1).mean())
    # Row by row rather than a T×T×D block: memory stays O(T·D) for long videos, and equal
    # embeddings give exactly 0 (a Gram-matrix shortcut would leave rounding residue).
    total = sum(np.linalg.norm(e[i + 1:] - e[i], axis=1).sum() for i in range(len(e) - 1))
    return float(total / (len(e) * (len(e) - 1) / 2))


def video_embeddings(video: VideoSource, embed: Embed = pixel_embedding, batch_size: int = 64) -> np.ndarray:
    """Embeddings (T, D) of a video's frames, embedded ``batch_size`` frames at a time."""
    frames: Iterable[np.ndarray] = read_frames(video) if isinstance(video, (str, os.PathLike)) else video
    chunks, batch = [], []
    for frame in frames:
        batch.append(frame)
        if len(batch) == batch_size:
            chunks.append(_embed(embed, batch))
            batch = []
    if batch:
        chunks.append(_embed(embed, batch))
    if not chunks:
        raise ValueError("video has no frames")
    return np.concatenate(chunks)


def acd_result(videos: Iterable[VideoSource], embed: Embed = pixel_embedding,
               variant: Variant = "pairwise") -> AcdResult:
    """ACD over ``videos``: the mean of the per-video values, which are kept too."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    per_video, skipped = [], []
    for i, video in enumerate(videos):
        e = video_embeddings(video, embed)
        kept = ~np.isnan(e).all(axis=1)
        if kept.sum() < 2 and not kept.all():
            name = video if isinstance(video, (str, os.PathLike)) else f"video {i}"
            raise ValueError(f"{name}: only {kept.sum()} of its {len(e)} frames could be embedded "
                             f"(ACD needs 2; with the face embedder, frames without a face are skipped)")
        per_video.append(content_distance(e[kept], variant))
        skipped.append(int((~kept).sum()))
    if not per_video:
        raise ValueError("no videos to score")
    return AcdResult(float(np.mean(per_video)), tuple(per_video), variant, tuple(skipped))


def acd(videos: Iterable[VideoSource], embed: Embed = pixel_embedding, variant: Variant = "pairwise") -> float:
    """ACD over ``videos`` (see the module docstring); lower is more consistent."""
    return acd_result(videos, embed, variant).value


def _embed(embed: Embed, frames: list[np.ndarray]) -> np.ndarray:
    out = np.asarray(embed(np.stack(frames)), dtype=np.float64)
    if out.ndim != 2 or len(out) != len(frames):
        raise ValueError(f"embed must return shape ({len(frames)}, D), got {out.shape}")
    if not (np.isfinite(out) | np.isnan(out).all(axis=1, keepdims=True)).all():
        raise ValueError("embed returned NaN or infinite values (only whole rows of NaN may mark skipped frames)")
    return out
