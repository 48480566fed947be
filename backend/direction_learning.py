"""Learning channel directions for a generator: labelled latents, classifiers, calibration.

Zhang & Pollett (2021), Sec. 3 stage 1, for any generator (the default model's recipe, with its
procedural renders, is ``lab.default_directions``):

- labelled latents: ``self_labeled_latents`` (the paper's suggested future work) draws
  w = mapping(z), draws G(w) and lets a reader (e.g. a probe) read the channels of the drawing;
  inverted labelled images (the paper's way) give the same ``LabeledLatents``.
- ``learn_directions`` fits one classifier per channel with
  ``backend.direction_training.train_directions`` (logistic regression by default);
- ``calibrate_directions`` then measures, on neutral faces, the strength at which value 1.0
  reads as a full expression and the W+ rows the direction is best added to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from .channels import CHANNEL_NAMES
from .direction_training import LabelReport, Method, train_directions
from .directions import DirectionSet
from .generator import Generator, synthesize_frames
from .inversion import w_statistics
from .jobs import Cancel, Progress, check_cancel
from .latent import compose_latent
from .probe import FaceProbe, probe_predict

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


# --- labelled latents -------------------------------------------------------------------------------

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


# --- classifiers ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LearnedDirections:
    """Directions as the classifiers give them (class-means strengths, default rows) and their reports."""

    directions: DirectionSet
    reports: tuple[LabelReport, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (channel, why) for channels with too few examples


def channel_classes(values: np.ndarray, name: str, thresholds: Thresholds | Shares) -> tuple[np.ndarray, np.ndarray]:
    """(rows used, positive) for one channel: see ``Thresholds`` and ``Shares``."""
    v = np.asarray(values, dtype=np.float64)[:, CHANNEL_NAMES.index(name)]
    return thresholds.classes(v, name == SIGNED_CHANNEL)


def learn_directions(data: LabeledLatents, *, generator_fingerprint: str, num_ws: int,
                     thresholds: Thresholds | Shares, names: Sequence[str] = CHANNEL_NAMES, method: Method = "logistic",
                     layers: tuple[int, int] | None = None, test_size: float = 0.2, seed: int = 0,
                     min_examples: int = 10, C: float = 1.0) -> LearnedDirections:
    """One direction per channel (``train_directions``, one-vs-rest on that channel's classes).

    Each channel is fitted on its own rows (``channel_classes``); head turn is right against left,
    so its direction turns the head right and −1 turns it left. A channel with fewer than
    ``min_examples`` positives or negatives gets no direction and is listed in ``skipped``
    (self-labelled faces of a generator that hardly draws an expression have none to learn from).
    """
    directions, reports, skipped = [], [], []
    for name in names:
        used, positive = channel_classes(data.values, name, thresholds)
        n_pos, n_neg = int(positive[used].sum()), int((~positive[used]).sum())
        if min(n_pos, n_neg) < min_examples:
            skipped.append((name, f"{n_pos} positive and {n_neg} negative latents (fewer than {min_examples})"))
            continue
        result = train_directions(data.latents[used], positive[used, None].astype(np.int64), [name],
                                  generator_fingerprint=generator_fingerprint, num_ws=num_ws, layers=layers,
                                  method=method, test_size=test_size, seed=seed, C=C)
        directions.append(result.directions[name])
        reports.append(result.reports[0])
    dset = DirectionSet(generator_fingerprint, num_ws, data.latents.shape[1], tuple(directions))
    return LearnedDirections(dset, tuple(reports), tuple(skipped))


# --- calibration and rows ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RowsTrial:
    """One channel with one W+ row range: the strength that reaches the target and its cost."""

    layers: tuple[int, int]
    strength: float
    reading: float  # mean reading of the channel at that strength
    reached: bool  # the target was reached within the strengths tried
    identity_drift: float  # mean |embedding(value 1) − embedding(value 0)|


@dataclass(frozen=True)
class ChannelCalibration:
    """The trials of one channel and the one chosen."""

    name: str
    target: float
    baseline: float  # mean reading at value 0
    trials: tuple[RowsTrial, ...]
    chosen: RowsTrial


# Strengths tried, in units of W's spread (total std, ``inversion.w_statistics``): value 1.0 never
# moves a face farther than one spread, where on the default model identity is already mostly
# gone (features-probe embedding distance ~0.5 of a possible 2).
DEFAULT_STRENGTH_GRID: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
NEAR_BEST = 0.9  # rows reading at least this share of the best rows' reading count as equally good


def calibrate_directions(G: Generator, directions: DirectionSet, read: Reader, faces: np.ndarray,
                         targets: np.ndarray, *, row_candidates: Sequence[tuple[int, int]],
                         strength_grid: Sequence[float] = DEFAULT_STRENGTH_GRID, w_spread: float | None = None,
                         reader_name: str = "features-probe", target_name: str = "a full render's",
                         progress: Progress | None = None,
                         cancel: Cancel | None = None) -> tuple[DirectionSet, tuple[ChannelCalibration, ...]]:
    """Each direction's strength and W+ rows, by measurement on ``faces`` (W+ codes of start faces).

    For every candidate row range, the channel's mean reading is measured at the strengths
    ``strength_grid`` × ``w_spread`` (default: W's total std); the strength at value 1.0 is where
    that curve first reaches the channel's ``targets`` entry (linear between grid points), or the
    grid's best when it never does. The rows are then picked by ``choose_rows``; every trial's
    identity drift (embedding distance between value 0 and 1) is kept in the report. Faces a
    reader could not read (NaN, e.g. no face detected) are left out of the means.
    """
    if not row_candidates:
        raise ValueError("row_candidates must name at least one (start, stop) range")
    grid = np.asarray(sorted(strength_grid), dtype=np.float64)
    if grid.size == 0 or grid[0] <= 0:
        raise ValueError(f"strength_grid must hold positive factors, got {strength_grid!r}")
    if w_spread is None:
        w_spread = w_statistics(G)[2]
    faces = np.asarray(faces, dtype=np.float32)
    base = read(synthesize_frames(G, faces, MEASURE_BATCH))
    if not np.isfinite(base.values).all(axis=1).any():
        raise ValueError(f"the reader read none of the {len(faces)} calibration faces (no face found): it cannot "
                         "calibrate this generator's directions; use a reader that reads its faces")
    total = len(directions) * len(row_candidates)
    out_dirs, reports = [], []
    for d in directions:
        c = CHANNEL_NAMES.index(d.name)
        trials = []
        for layers in row_candidates:
            check_cancel(cancel, "calibration cancelled")
            trial_dir = replace(d, layers=tuple(layers), strength=1.0)
            trial_set = replace(directions, directions=(trial_dir,))
            strengths = grid * w_spread
            ws = np.concatenate([compose_latent(faces, {d.name: s}, trial_set) for s in strengths])
            reading = read(synthesize_frames(G, ws, MEASURE_BATCH))
            curve = finite_mean(reading.values[:, c].reshape(len(grid), len(faces)))
            emb = reading.embedding.reshape(len(grid), len(faces), -1)
            drift = finite_mean(np.linalg.norm(emb - base.embedding[None], axis=2))
            strength, at, reached = _first_crossing(strengths, curve, float(targets[c]))
            trials.append(RowsTrial(tuple(layers), strength, at, reached, float(np.interp(strength, strengths, drift))))
            if progress is not None:
                progress("calibration", len(trials) + len(reports) * len(row_candidates), total)
        baseline = float(finite_mean(base.values[:, c]))
        chosen = choose_rows(trials, baseline)
        out_dirs.append(replace(d, layers=chosen.layers, strength=chosen.strength,
                                calibration=f"{reader_name} reading {chosen.reading:.2f} at value 1 "
                                            f"(target {float(targets[c]):.2f}, {target_name})"))
        reports.append(ChannelCalibration(d.name, float(targets[c]), baseline,
                                          tuple(trials), chosen))
    return replace(directions, directions=tuple(out_dirs)), tuple(reports)


def finite_mean(x: np.ndarray) -> np.ndarray:
    """Means over the last axis of the finite values only (unreadable faces are NaN); NaN, without
    a warning, where there are none."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    count = ok.sum(axis=-1)
    return np.where(count > 0, np.where(ok, x, 0.0).sum(axis=-1) / np.maximum(count, 1), np.nan)


def choose_rows(trials: Sequence[RowsTrial], baseline: float) -> RowsTrial:
    """Of the trials whose reading gain over ``baseline`` is within ``NEAR_BEST`` of the best
    gain, the one with the fewest rows (ties: the least identity drift). Fewer rows leave more
    of the face alone, the reason for the paper's mask; a range that reaches the target reads
    the target, so the smallest such range wins."""
    readable = [t for t in trials if np.isfinite(t.reading)]
    if not readable:
        raise ValueError("no row range gave a reading (the reader read none of the edited faces)")
    best = max(t.reading for t in readable) - baseline
    good = [t for t in readable if t.reading - baseline >= best - (1.0 - NEAR_BEST) * abs(best)]
    return min(good, key=lambda t: (t.layers[1] - t.layers[0], t.identity_drift))


def _first_crossing(strengths: np.ndarray, curve: np.ndarray, target: float) -> tuple[float, float, bool]:
    """(strength, reading there, reached): where ``curve`` first reaches ``target``."""
    above = np.flatnonzero(curve >= target)
    if above.size == 0:
        k = int(np.argmax(curve))
        return float(strengths[k]), float(curve[k]), False
    k = int(above[0])
    if k == 0:
        return float(strengths[0]), float(curve[0]), True
    # Linear between the last grid point below and the first at or above.
    f = (target - curve[k - 1]) / (curve[k] - curve[k - 1])
    s = strengths[k - 1] + f * (strengths[k] - strengths[k - 1])  # curve[k - 1] < target <= curve[k]
    return float(s), float(target), True
