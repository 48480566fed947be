"""Learning channel directions for a generator: labelled latents, classifiers, calibration.

Zhang & Pollett (2021), Sec. 3 stage 1, for any generator (the default model's recipe, with its
procedural renders, is ``lab.default_directions``):

- labelled latents: ``self_labeled_latents`` (the paper's suggested future work) draws
  w = mapping(z), draws G(w) and lets a reader (e.g. a probe) read the channels of the drawing;
  inverted labelled images (the paper's way) give the same ``LabeledLatents``.
- ``learn_directions`` fits one classifier per channel with
  ``backend.learning.classifiers.train_directions`` (logistic regression by default);
- ``calibrate_directions`` then measures, on neutral faces, the strength at which value 1.0
  reads as a full expression and the W+ rows the direction is best added to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from ..animation.channels import CHANNEL_NAMES
from ..jobs import Cancel, Progress
from ..model.generator import Generator, synthesize_frames
from ..readers.probe import FaceProbe, probe_predict

SIGNED_CHANNEL = "head_turn"  # learned as right (+) against left (−); the others as on against off


# Entropy tag of the self-labelled z stream, so that it repeats no stream of the generator's or
# the probes' training (lab.default_directions has the tags of its own streams).
_SAMPLE_STREAM = 0x44495253  # "DIRS"


MEASURE_BATCH = 16  # codes per generator call when only readings of the frames count


@dataclass(frozen=True)
class LabeledLatents:
    """W codes with the channel values of their faces."""

    latents: np.ndarray  # (N, w_dim) float32
    values: np.ndarray  # (N, 9) float32, CHANNEL_NAMES order: exact labels or probe readings
    source: str  # "inversion" or "self-labeled"
    pixel_mae: np.ndarray | None = None  # (N,) reconstruction error of inverted codes, 0..255 units
    cancelled: bool = False  # True when the sampling was cancelled: fewer than asked


@dataclass(frozen=True)
class Thresholds:
    """Classes from exact labels: ``positive`` and above is on, ``negative`` and below is off,
    anything between is left out of that channel's fit. Head turn: |value| ≥ ``turn``, by sign."""

    positive: float
    negative: float
    turn: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.negative < self.positive <= 1.0 or not 0.0 < self.turn <= 1.0:
            raise ValueError(f"thresholds need 0 <= negative < positive <= 1 and 0 < turn <= 1, got {self}")

    def classes(self, v: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray]:
        """(rows used, positive) for one channel's values ``v`` (N,)."""
        if signed:
            return np.abs(v) >= self.turn, v > 0
        return (v >= self.positive) | (v <= self.negative), v >= self.positive


@dataclass(frozen=True)
class Shares:
    """Classes from soft readings, by rank: the ``top`` share of the faces (that read at least
    ``floor``) is on, the ``bottom`` share off, the rest left out. Ranks rather than fixed cuts,
    because how strongly a generator draws an expression, and so how high a probe reads it,
    differs from model to model. Head turn: the ``top`` share each way, by sign of the reading
    (``turn_by_rank``: the top and bottom shares whatever their sign, for readers whose zero
    is not a frontal face of this generator)."""

    top: float = 0.15
    bottom: float = 0.5
    floor: float = 0.05
    turn_by_rank: bool = False

    def __post_init__(self) -> None:
        if not (0.0 < self.top < 0.5 and 0.0 < self.bottom <= 1.0 - self.top and 0.0 <= self.floor < 1.0):
            raise ValueError(f"shares need 0 < top < 0.5, 0 < bottom <= 1 - top and 0 <= floor < 1, got {self}")

    def classes(self, v: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray]:
        """(rows used, positive) for one channel's readings ``v`` (N,)."""
        if signed:
            right = v >= np.quantile(v, 1.0 - self.top)
            left = v <= np.quantile(v, self.top)
            if not self.turn_by_rank:
                right, left = right & (v > 0), left & (v < 0)
            return right | left, right
        positive = (v >= np.quantile(v, 1.0 - self.top)) & (v >= self.floor)
        return positive | (v <= np.quantile(v, self.bottom)), positive


PROBE_SHARES = Shares()


@dataclass(frozen=True)
class Reading:
    """What a reader sees in N images: channel values (N, 9) and an identity embedding (N, D)."""

    values: np.ndarray
    embedding: np.ndarray


Reader = Callable[[np.ndarray], Reading]  # uint8 images (N, H, W, 3) → Reading


def probe_reader(probe: FaceProbe) -> Reader:
    """A ``Reader`` from a probe's channel readings and identity embedding."""
    def read(images: np.ndarray) -> Reading:
        pred = probe_predict(probe, images)
        return Reading(pred.emotions.astype(np.float64), pred.embedding.astype(np.float64))
    return read


def run_in_batches(n: int, batch: int, work: Callable[[int, int], bool], *, stage: str = "",
                   progress: Progress | None = None, cancel: Cancel | None = None) -> bool:
    """``work(start, stop)`` on [0, n) in steps of ``batch``, ``progress(stage, stop, n)`` after each.
    Returns True when cancelled: ``cancel()`` before a batch, or ``work`` returning False."""
    for start in range(0, n, batch):
        if cancel is not None and cancel():
            return True
        stop = min(start + batch, n)
        if not work(start, stop):
            return True
        if progress is not None:
            progress(stage, stop, n)
    return False


def self_labeled_latents(G: Generator, read: Reader, n: int = 1500, *, batch: int = 32, seed: int = 0,
                         progress: Progress | None = None, cancel: Cancel | None = None) -> LabeledLatents:
    """Self-labelled latents: w = mapping(z) for z ~ N(0, I), labelled by ``read``-ing G(w)."""
    rng = np.random.default_rng([_SAMPLE_STREAM, seed])
    z = rng.standard_normal((n, G.config.z_dim)).astype(np.float32)
    latents, values = [], []

    def label(start: int, stop: int) -> bool:
        with torch.no_grad():
            ws = G.mapping(torch.from_numpy(z[start:stop]).to(G.device))
        values.append(read(synthesize_frames(G, ws.cpu().numpy(), MEASURE_BATCH)).values)
        latents.append(ws[:, 0].cpu().numpy())
        return True

    cancelled = run_in_batches(n, batch, label, stage="labelling", progress=progress, cancel=cancel)
    w_dim = G.w_dim
    return LabeledLatents(np.concatenate(latents) if latents else np.zeros((0, w_dim), np.float32),
                          np.concatenate(values).astype(np.float32) if values else np.zeros((0, len(CHANNEL_NAMES)), np.float32),
                          "self-labeled", None, cancelled)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of (V, T) arrays (ties get average ranks; a constant row 0)."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    return np.where(den > 0, (rx * ry).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)
