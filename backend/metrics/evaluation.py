"""The evaluation protocol of channel directions (Zhang & Pollett 2021, Sec. 4), for any generator.

From start faces (W+ codes), each channel goes 0 → 1 in a video of ``frames`` frames; an
*independent* reader (one that made nothing of the directions) reads every frame. Per channel:

- Spearman: rank correlation of channel value and the reading of that channel, per video,
  averaged over the videos (target ≥ 0.9); videos with unreadable frames (NaN) are left out;
- dominant: share of faces where, at value 1.0, the channel's emotion reads highest of the six
  (eye-close, mouth-open: reads ≥ 0.5; head-turn: reads ≥ 0.5 to the right) (target ≥ 80 %);
- identity drift: distance in the reader's identity embedding between the frames at value 0 and
  1, with the direction on its own rows (the directions file's) and, the paper's Fig. 4 ablation,
  at the same strength on the paper's mask (the first 8 rows: its 8 of 18 at 1024 px are the
  same 4-32 px layers) and on every row (with each one's reading at 1.0);
- ACD: mean distance between consecutive frames' identity embeddings (the paper's Table 1
  variant; ``backend.metrics.acd``), and the pairwise (MoCoGAN) variant.
``colour_shift`` (CIE ΔE of a region's mean colour) measures the colour a frame lost.
``scripts/eval_default_model.py`` runs it on the default model with the eval probe;
``python -m backend eval-directions`` on any generator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ..animation.channels import CHANNEL_NAMES, EMOTION_NAMES
from ..animation.directions import DirectionSet
from ..animation.latent import compose_latent
from ..learning.calibration import finite_mean
from ..learning.labels import MEASURE_BATCH, Reader, spearman_rows
from ..model.generator import synthesize_frames
from .acd import content_distance

EMOTIONS = EMOTION_NAMES

SPEARMAN_TARGET = 0.9
DOMINANT_TARGET = 0.8
PAPER_MASK_ROWS = 8  # the paper's first 8 W+ rows: the 4-32 px layers at any resolution from 32 px up


@dataclass(frozen=True)
class ChannelScores:
    """One channel's numbers over its videos."""

    name: str
    videos: int
    frames: int
    spearman: float  # mean over videos
    spearman_min: float
    dominant: float  # share of faces
    reading_at_0: float
    reading_at_1: float
    drift_masked: float  # identity drift 0 → 1 on the direction's own rows
    drift_paper_mask: float  # ... on the paper's mask, the first PAPER_MASK_ROWS rows
    drift_all_rows: float  # ... on every row
    reading_at_1_paper_mask: float
    reading_at_1_all_rows: float
    acd_consecutive: float
    acd_pairwise: float
    layers: tuple[int, int]


def dominant(readings: np.ndarray, name: str) -> np.ndarray:
    """Per face (readings (N, 9) at value 1.0): does the channel show as the intended one?"""
    c = CHANNEL_NAMES.index(name)
    if name in EMOTIONS:
        return np.argmax(readings[:, :len(EMOTIONS)], axis=1) == c
    return readings[:, c] >= 0.5


def evaluate_channel(G, directions: DirectionSet, read: Reader, faces: np.ndarray, name: str,
                     frames: int) -> tuple[ChannelScores, np.ndarray]:
    """Scores of one channel's videos from ``faces`` (W+ codes); also the frames at value 1.0."""
    d = directions[name]
    c = CHANNEL_NAMES.index(name)
    values = np.linspace(0.0, 1.0, frames)
    ws = np.stack([compose_latent(face, {name: values}, directions) for face in faces])  # (F, T, rows, w)
    n, t = ws.shape[:2]
    images = synthesize_frames(G, ws.reshape(n * t, *ws.shape[2:]), MEASURE_BATCH)
    reading = read(images)
    vals = reading.values.reshape(n, t, -1)
    emb = reading.embedding.reshape(n, t, -1)
    readable = np.isfinite(vals[:, :, c]).all(axis=1)
    rho = spearman_rows(np.broadcast_to(values, (n, t))[readable], vals[readable][:, :, c])
    def at_one(rows: int) -> object:
        moved = replace(directions, directions=(replace(d, layers=(0, rows)),))
        return read(synthesize_frames(G, np.stack([compose_latent(face, {name: 1.0}, moved) for face in faces]),
                                     MEASURE_BATCH))

    mask, full = at_one(min(PAPER_MASK_ROWS, directions.num_ws)), at_one(directions.num_ws)
    at_end = np.isfinite(vals[:, -1]).all(axis=1)
    scores = ChannelScores(
        name, n, t, _finite(rho), float(rho.min()) if rho.size else float("nan"),
        _finite(dominant(vals[at_end, -1], name)), _finite(vals[:, 0, c]), _finite(vals[:, -1, c]),
        _finite(np.linalg.norm(emb[:, -1] - emb[:, 0], axis=1)),
        _finite(np.linalg.norm(mask.embedding - emb[:, 0], axis=1)),
        _finite(np.linalg.norm(full.embedding - emb[:, 0], axis=1)),
        _finite(mask.values[:, c]), _finite(full.values[:, c]),
        _finite(np.array([content_distance(e, "consecutive") for e in emb[readable]])),
        _finite(np.array([content_distance(e, "pairwise") for e in emb[readable]])), d.layers)
    last = images.reshape(n, t, *images.shape[1:])
    return scores, np.stack([last[:, 0], last[:, -1]], axis=1)


def evaluate(G, directions: DirectionSet, read: Reader, faces: np.ndarray, frames: int, extra_frames: int,
             channels: tuple[str, ...] = CHANNEL_NAMES,
             log=print) -> tuple[list[ChannelScores], np.ndarray, dict[str, np.ndarray]]:
    """Every channel's scores, and the sheet's columns (neutral frames, frames at 1.0 per channel)."""
    scores, edited = [], {}
    neutral = None
    for name in channels:
        start = time.perf_counter()
        s, ends = evaluate_channel(G, directions, read, faces, name, frames if name in EMOTIONS else extra_frames)
        scores.append(s)
        neutral = ends[:, 0] if neutral is None else neutral
        edited[name] = ends[:, 1]
        log(f"  {name}: {s.videos} videos x {s.frames} frames, {time.perf_counter() - start:.0f} s")
    return scores, neutral, edited


def print_table(scores: list[ChannelScores]) -> None:
    print(f"\n{'':<26}{'':>25}{'identity drift 0->1 (reading at 1)':^39}{'ACD':^16}")
    print(f"{'channel':<11}{'rows':>6}{'videos':>7}{'Spearman':>9}{'(min)':>7}{'dominant':>9}{'read 0':>7}"
          f"{'own rows':>13}{f'0-{PAPER_MASK_ROWS}':>13}{'all rows':>13}{'consec':>8}{'pairs':>8}")
    for s in scores:
        flag = "" if s.spearman >= SPEARMAN_TARGET and s.dominant >= DOMINANT_TARGET else "  *"
        print(f"{s.name:<11}{f'{s.layers[0]}-{s.layers[1]}':>6}{s.videos:>7}{s.spearman:>9.3f}{s.spearman_min:>7.2f}"
              f"{s.dominant:>8.0%} {s.reading_at_0:>7.2f}"
              f"{s.drift_masked:>7.3f} ({s.reading_at_1:4.2f})"
              f"{s.drift_paper_mask:>7.3f} ({s.reading_at_1_paper_mask:4.2f})"
              f"{s.drift_all_rows:>7.3f} ({s.reading_at_1_all_rows:4.2f}){s.acd_consecutive:>8.4f}"
              f"{s.acd_pairwise:>8.4f}{flag}")


def between_faces(embedding: np.ndarray) -> float:
    """Mean identity-embedding distance between different faces (N, D): the scale drift is read on.
    Unreadable faces (NaN rows) are left out."""
    embedding = embedding[np.isfinite(embedding).all(axis=1)]
    d = np.linalg.norm(embedding[:, None] - embedding[None], axis=2)
    return float(d[np.triu_indices(len(embedding), 1)].mean()) if len(embedding) > 1 else 0.0


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB values in [0, 1], shape (..., 3)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def colour_shift(frame: np.ndarray, reference: np.ndarray, mask: np.ndarray, reference_mask: np.ndarray) -> float:
    """CIE ΔE 1976 between the mean L*a*b* of ``frame``'s pixels in ``mask`` and of ``reference``'s in
    ``reference_mask`` (uint8 H×W×3 frames, bool H×W masks): how far a region's colour moved."""
    if not (np.any(mask) and np.any(reference_mask)):
        raise ValueError("colour_shift needs at least one pixel in each mask")
    means = [srgb_to_lab(f[m].astype(np.float64) / 255.0).mean(axis=0)
             for f, m in ((frame, mask), (reference, reference_mask))]
    return float(np.linalg.norm(means[0] - means[1]))


_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def summary(scores: list[ChannelScores]) -> dict[str, float | int]:
    emo = [s for s in scores if s.name in EMOTIONS]
    return {
        "emotions_measured": len(emo),
        "emotions_spearman_mean": float(np.mean([s.spearman for s in emo])),
        "emotions_dominant_mean": float(np.mean([s.dominant for s in emo])),
        "emotions_meeting_spearman_target": sum(s.spearman >= SPEARMAN_TARGET for s in emo),
        "emotions_meeting_dominant_target": sum(s.dominant >= DOMINANT_TARGET for s in emo),
        "drift_masked_mean": float(np.mean([s.drift_masked for s in scores])),
        "drift_paper_mask_mean": float(np.mean([s.drift_paper_mask for s in scores])),
        "drift_all_rows_mean": float(np.mean([s.drift_all_rows for s in scores])),
        "acd_consecutive_emotion_videos": float(np.mean([s.acd_consecutive for s in emo])),
        "acd_pairwise_emotion_videos": float(np.mean([s.acd_pairwise for s in emo])),
    }





def _finite(x: np.ndarray) -> float:
    return float(finite_mean(np.asarray(x, dtype=np.float64).ravel()))
