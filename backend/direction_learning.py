"""Learning the nine channel directions of a generator: labelled latents, classifiers, calibration.

Zhang & Pollett (2021), Sec. 3 stage 1, done two ways on the default model:

- ``inverted_latents`` (the paper's way): labelled images → latent codes by optimisation against
  the generator (Sec. 3.2, ``backend.inversion`` in W with the features probe's perceptual loss).
  The labelled images are procedural renders, whose channel values are exact.
- ``self_labeled_latents`` (the paper's suggested future work): draw w = mapping(z), draw G(w)
  and let the features probe read the channels of the drawing.

Either gives ``LabeledLatents``; ``learn_directions`` fits one classifier per channel with
``backend.directions.train_directions`` (logistic regression by default) and
``calibrate_directions`` then measures, on neutral faces, the strength at which value 1.0 reads
as a full expression and the W+ rows the direction is best added to. Measurements use the
features probe only: the eval probe must stay independent of everything that makes a direction.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from .channels import CHANNEL_NAMES
from .checkpoints import generator_metadata
from .directions import DirectionSet, LabelReport, Method, train_directions
from .face_prior import FacePrior
from .generator import Generator, synthesize_frames
from .inversion import invert_batch, w_statistics
from .latent import compose_latent
from .probe import FaceProbe, probe_predict
from .procedural import EMOTION_NAMES, Emotions, face_params_from_emotions, render_face, sample_identity

Progress = Callable[[int, int], None]  # (items done, items in all)
Cancel = Callable[[], bool]

SIGNED_CHANNEL = "head_turn"  # learned as right (+) against left (−); the others as on against off
# Entropy tags of this module's random streams (labelled renders, self-labelled z, neutral faces),
# so that none of them repeats a stream of the generator's or the probes' training.
_RENDER_STREAM = 0x44495252  # "DIRR"
_SAMPLE_STREAM = 0x44495253  # "DIRS"
_FACE_STREAM = 0x44495246  # "DIRF"
MEASURE_BATCH = 16  # codes per generator call when only readings of the frames count


class Cancelled(Exception):
    """Raised by ``calibrate_directions`` when its ``cancel()`` returns True."""


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
    differs from model to model. Head turn: the ``top`` share each way, by sign of the reading."""

    top: float = 0.15
    bottom: float = 0.5
    floor: float = 0.05

    def __post_init__(self) -> None:
        if not (0.0 < self.top < 0.5 and 0.0 < self.bottom <= 1.0 - self.top and 0.0 <= self.floor < 1.0):
            raise ValueError(f"shares need 0 < top < 0.5, 0 < bottom <= 1 - top and 0 <= floor < 1, got {self}")

    def classes(self, v: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray]:
        """(rows used, positive) for one channel's readings ``v`` (N,)."""
        if signed:
            right = (v >= np.quantile(v, 1.0 - self.top)) & (v > 0)
            left = (v <= np.quantile(v, self.top)) & (v < 0)
            return right | left, right
        positive = (v >= np.quantile(v, 1.0 - self.top)) & (v >= self.floor)
        return positive | (v <= np.quantile(v, self.bottom)), positive


# Exact labels: renders are drawn either off (0) or at 0.4..1, so any cut between separates them.
EXACT_THRESHOLDS = Thresholds(positive=0.35, negative=0.0, turn=0.35)
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

def labeled_channel_values(n: int, seed: int = 0, min_intensity: float = 0.4) -> np.ndarray:
    """The channel values (n, 9) of a balanced labelled set.

    Face i shows one of {neutral, the six emotions} in turn (so each emotion has n/7 positives),
    and, independently, eyes closed on a quarter of the faces, mouth open on another quarter
    (shuffled) and the head turned left on a third and right on a third. Intensities are
    uniform in [``min_intensity``, 1], turns in ±[``min_intensity``, 1].
    """
    if n < 7:
        raise ValueError(f"a labelled set needs at least 7 faces (neutral and the six emotions), got {n}")
    rng = np.random.default_rng([_RENDER_STREAM, seed, 0])
    values = np.zeros((n, len(CHANNEL_NAMES)), np.float32)
    intensity = lambda k: rng.uniform(min_intensity, 1.0, k)  # noqa: E731
    primary = np.arange(n) % (len(EMOTION_NAMES) + 1)  # 0 neutral, 1..6 the emotions
    for k in range(1, len(EMOTION_NAMES) + 1):
        rows = np.flatnonzero(primary == k)
        values[rows, k - 1] = intensity(rows.size)
    for name in ("eye_close", "mouth_open"):
        rows = rng.permutation(n)[:n // 4]
        values[rows, CHANNEL_NAMES.index(name)] = intensity(rows.size)
    order = rng.permutation(n)
    left, right = order[:n // 3], order[n // 3:2 * n // 3]
    turn = CHANNEL_NAMES.index(SIGNED_CHANNEL)
    values[left, turn] = -intensity(left.size)
    values[right, turn] = intensity(right.size)
    return values


def labeled_renders(values: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Renders (N, size, size, 3) uint8 of random identities showing ``values`` (N, 9) exactly."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape[1] != len(CHANNEL_NAMES):
        raise ValueError(f"values must be (N, {len(CHANNEL_NAMES)}) channel values, got shape {values.shape}")
    rng = np.random.default_rng([_RENDER_STREAM, seed, 1])
    return np.stack([render_face(face_params_from_emotions(sample_identity(rng), Emotions.from_array(v)), size)
                     for v in values])


def inverted_latents(G: Generator, features: FaceProbe, n: int = 196, *, steps: int = 60, batch: int = 7,
                     seed: int = 0, progress: Progress | None = None,
                     cancel: Cancel | None = None) -> LabeledLatents:
    """The paper's labelled latents: ``n`` labelled renders, each inverted into W (Sec. 3.2).

    Inversion is ``backend.inversion.invert_batch`` in W from ``w_avg``, with pixels plus the
    features probe's feature maps as the loss; ``batch`` images are inverted together.
    ``progress(images done, n)`` after each batch; a cancel keeps the batches finished so far.
    """
    values = labeled_channel_values(n, seed)
    images = labeled_renders(values, G.config.img_resolution, seed)
    latents, errors = [], []
    cancelled = False
    for start in range(0, n, batch):
        if cancel is not None and cancel():
            cancelled = True
            break
        result = invert_batch(G, images[start:start + batch], space="w", steps=steps, features=features.features,
                              seed=seed + start, cancel=cancel)
        if result.cancelled:
            cancelled = True
            break
        latents.append(result.w_plus[:, 0])
        errors.append(result.pixel_mae)
        if progress is not None:
            progress(start + len(result), n)
    done = sum(len(x) for x in latents)
    w_dim = G.w_dim
    return LabeledLatents(np.concatenate(latents) if latents else np.zeros((0, w_dim), np.float32),
                          values[:done], "inversion",
                          np.concatenate(errors) if errors else np.zeros(0, np.float32), cancelled)


def self_labeled_latents(G: Generator, read: Reader, n: int = 1500, *, batch: int = 32, seed: int = 0,
                         progress: Progress | None = None, cancel: Cancel | None = None) -> LabeledLatents:
    """Self-labelled latents: w = mapping(z) for z ~ N(0, I), labelled by ``read``-ing G(w)."""
    rng = np.random.default_rng([_SAMPLE_STREAM, seed])
    z = rng.standard_normal((n, G.config.z_dim)).astype(np.float32)
    latents, values = [], []
    cancelled = False
    for start in range(0, n, batch):
        if cancel is not None and cancel():
            cancelled = True
            break
        with torch.no_grad():
            ws = G.mapping(torch.from_numpy(z[start:start + batch]).to(G.device))
        values.append(read(synthesize_frames(G, ws.cpu().numpy(), MEASURE_BATCH)).values)
        latents.append(ws[:, 0].cpu().numpy())
        if progress is not None:
            progress(start + len(ws), n)
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

def model_prior(path: str | os.PathLike[str], z_dim: int) -> FacePrior:
    """The face prior a generator of ours was fitted to (its file's ``face_prior`` metadata), else
    ``FacePrior(z_dim)``, the prior of ``FitConfig``'s defaults."""
    recorded = generator_metadata(path).get("face_prior")
    return FacePrior.from_dict(json.loads(recorded)) if recorded else FacePrior(z_dim=z_dim)


def neutral_faces(G: Generator, prior: FacePrior, n: int, *, seed: int = 0,
                  truncation_psi: float = 0.7) -> np.ndarray:
    """W+ codes (n, num_ws, w_dim) of faces the prior draws neutral (every channel 0), frontal.

    The prior gives the intended face of any z, so neutral start faces are picked without
    looking at a drawing; truncation as ``backend sample`` uses by default.
    """
    rng = np.random.default_rng([_FACE_STREAM, seed])
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < n:
        z = rng.standard_normal((256, prior.z_dim)).astype(np.float32)
        found.append(z[~prior.channels(z).any(axis=1)])
    z = np.concatenate(found)[:n]
    with torch.no_grad():
        ws = G.mapping(torch.from_numpy(z).to(G.device), truncation_psi=truncation_psi)
    return ws.cpu().numpy()


def full_expression_targets(read: Reader, size: int, n: int = 16, seed: int = 0) -> np.ndarray:
    """(9,) what ``read`` sees, on average, in renders of each channel alone at value 1.0
    (head turn: +1.0) over ``n`` identities: the reading that value 1.0 should give."""
    targets = np.zeros(len(CHANNEL_NAMES))
    rng = np.random.default_rng([_RENDER_STREAM, seed, 2])
    identities = [sample_identity(rng) for _ in range(n)]
    for c in range(len(CHANNEL_NAMES)):
        v = np.zeros(len(CHANNEL_NAMES), np.float32)
        v[c] = 1.0
        images = np.stack([render_face(face_params_from_emotions(p, Emotions.from_array(v)), size)
                           for p in identities])
        targets[c] = read(images).values[:, c].mean()
    return targets


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
                         progress: Progress | None = None,
                         cancel: Cancel | None = None) -> tuple[DirectionSet, tuple[ChannelCalibration, ...]]:
    """Each direction's strength and W+ rows, by measurement on ``faces`` (W+ codes of start faces).

    For every candidate row range, the channel's mean reading is measured at the strengths
    ``strength_grid`` × ``w_spread`` (default: W's total std); the strength at value 1.0 is where
    that curve first reaches the channel's ``targets`` entry (linear between grid points), or the
    grid's best when it never does. The rows are then picked by ``choose_rows``; every trial's
    identity drift (embedding distance between value 0 and 1) is kept in the report.
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
    total = len(directions) * len(row_candidates)
    out_dirs, reports = [], []
    for d in directions:
        c = CHANNEL_NAMES.index(d.name)
        trials = []
        for layers in row_candidates:
            if cancel is not None and cancel():
                raise Cancelled("calibration cancelled")
            trial_dir = replace(d, layers=tuple(layers), strength=1.0)
            trial_set = replace(directions, directions=(trial_dir,))
            strengths = grid * w_spread
            ws = np.concatenate([compose_latent(faces, {d.name: s}, trial_set) for s in strengths])
            reading = read(synthesize_frames(G, ws, MEASURE_BATCH))
            curve = reading.values[:, c].reshape(len(grid), len(faces)).mean(axis=1)
            emb = reading.embedding.reshape(len(grid), len(faces), -1)
            drift = np.linalg.norm(emb - base.embedding[None], axis=2).mean(axis=1)
            strength, at, reached = _first_crossing(strengths, curve, float(targets[c]))
            trials.append(RowsTrial(tuple(layers), strength, at, reached, float(np.interp(strength, strengths, drift))))
            if progress is not None:
                progress(len(trials) + len(reports) * len(row_candidates), total)
        chosen = choose_rows(trials, float(base.values[:, c].mean()))
        out_dirs.append(replace(d, layers=chosen.layers, strength=chosen.strength,
                                calibration=f"features-probe reading {chosen.reading:.2f} at value 1 "
                                            f"(target {float(targets[c]):.2f}, a full render's)"))
        reports.append(ChannelCalibration(d.name, float(targets[c]), float(base.values[:, c].mean()),
                                          tuple(trials), chosen))
    return replace(directions, directions=tuple(out_dirs)), tuple(reports)


def choose_rows(trials: Sequence[RowsTrial], baseline: float) -> RowsTrial:
    """Of the trials whose reading gain over ``baseline`` is within ``NEAR_BEST`` of the best
    gain, the one with the fewest rows (ties: the least identity drift). Fewer rows leave more
    of the face alone, the reason for the paper's mask; a range that reaches the target reads
    the target, so the smallest such range wins."""
    best = max(t.reading for t in trials) - baseline
    good = [t for t in trials if t.reading - baseline >= best - (1.0 - NEAR_BEST) * abs(best)]
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
