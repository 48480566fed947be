"""Emotion directions from labelled latents: linear classifiers, calibration, independence.

Zhang & Pollett (2021), Sec. 3 stage 1: fit a linear classifier (logistic regression with an L2
penalty, or a linear SVM, scikit-learn defaults) on (latent, expression) pairs; its unit weight
vector, pointing toward the expression, is the emotion's direction. InterFaceGAN's conditional
manipulation (Shen et al. 2020) is ``project_orthogonal``: remove the components along other
directions so that moving one channel leaves the others' classifiers unchanged. The result is a
``DirectionSet`` (``backend.animation.directions``, the file format).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ..animation.directions import Direction, DirectionSet
from ..animation.latent import default_layer_range

METHODS: tuple[str, ...] = ("logistic", "svm")
CALIBRATION_RULES: Mapping[str, str] = MappingProxyType({
    "class-means": "mean projection w·d of the positive latents minus that of the negatives",
    "projection-std": "standard deviation of the projections w·d over all latents",
})

Method = Literal["logistic", "svm"]
CalibrationRule = Literal["class-means", "projection-std"]

_NEAR_ZERO = 1e-6  # relative norm below which a projected direction is considered gone


@dataclass(frozen=True)
class LabelReport:
    """How well one label's classifier separates its latents."""

    name: str
    accuracy: float | None  # on the held-out split; None when test_size is 0
    train_accuracy: float
    n_train: int
    n_test: int
    n_positive: int


@dataclass(frozen=True)
class TrainingResult:
    """What ``train_directions`` learned: the directions and a report per label."""

    directions: DirectionSet
    reports: tuple[LabelReport, ...] = field(default=())


@dataclass(frozen=True)
class Calibration:
    """The strength at which value 1.0 is the full expression, and the rule that gave it."""

    strength: float
    rule: str


def train_directions(latents: ArrayLike, labels: ArrayLike, names: Sequence[str] | None = None, *,
                     generator_fingerprint: str, num_ws: int | None = None, layers: tuple[int, int] | None = None,
                     method: Method = "logistic", test_size: float = 0.2, seed: int = 0,
                     calibration: CalibrationRule = "class-means", calibration_scale: float = 1.0,
                     C: float = 1.0) -> TrainingResult:
    """Learn one direction per label, one-vs-rest (paper Sec. 3, stage 1).

    ``latents``: W codes (N, w_dim), or W+ codes (N, num_ws, w_dim), which are fitted on the mean of
    their ``layers`` rows (adding d to those rows moves that mean by exactly d). ``labels``:
    - (N,) strings: class names; ``names`` picks the classes that get a direction (default: all,
      sorted); the other classes (e.g. "neutral") are negatives only;
    - (N,) integers: class indices, class i named ``names[i]``;
    - (N, L) 0/1: multi-label, column j named ``names[j]``.
    Latents are centred and divided by their overall standard deviation (one scalar, so directions
    are unchanged) before the fit, which makes ``C`` (sklearn's inverse regularisation strength,
    default 1) independent of the W scale; a smaller C suits few latents in many dimensions. Each
    label gets its own stratified split; the direction is the unit weight vector of the classifier
    fitted on the training part (as InterFaceGAN does), its accuracy that of the held-out part.
    Strengths are calibrated on all latents (``calibrate_strength``), in W units.
    ``layers`` defaults to ``default_layer_range(num_ws)``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    test_size = float(test_size)
    if not 0.0 <= test_size < 1.0:
        raise ValueError(f"test_size must be in [0, 1), got {test_size}")
    if not C > 0:
        raise ValueError(f"C must be positive, got {C}")
    x = np.asarray(latents, dtype=np.float64)
    if x.ndim == 3:
        if num_ws is not None and num_ws != x.shape[1]:
            raise ValueError(f"latents have {x.shape[1]} W+ rows but num_ws is {num_ws}")
        num_ws = x.shape[1]
    elif x.ndim == 2:
        if num_ws is None:
            raise ValueError("num_ws is required with W latents (N, w_dim): the directions need a W+ row count")
    else:
        raise ValueError(f"latents must be W codes (N, w_dim) or W+ codes (N, num_ws, w_dim), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("latents hold NaN or infinite values")
    layers = default_layer_range(num_ws) if layers is None else (int(layers[0]), int(layers[1]))
    if not 0 <= layers[0] < layers[1] <= num_ws:
        raise ValueError(f"layers must be (start, stop) with 0 <= start < stop <= {num_ws}, got {layers}")
    if x.ndim == 3:
        x = x[:, layers[0]:layers[1]].mean(axis=1)
    y, names = _binary_labels(labels, names, x.shape[0])
    # Centre and divide by one overall scale: the hyperplane's normal is unchanged (a single scalar
    # keeps the geometry), but C=1 regularises alike whatever the generator's W spread.
    centred = x - x.mean(axis=0)
    spread = float(centred.std())
    if spread == 0:
        raise ValueError("all latents are identical: there is nothing to separate")

    directions, reports = [], []
    for j, name in enumerate(names):
        vector, report = _fit_one(centred / spread, y[:, j], name, method, test_size, seed, C)
        cal = calibrate_strength(x, y[:, j], vector, rule=calibration, scale=calibration_scale)
        directions.append(Direction(name, vector, layers, cal.strength, cal.rule, method, report.accuracy))
        reports.append(report)
    dset = DirectionSet(generator_fingerprint, num_ws, x.shape[1], tuple(directions))
    return TrainingResult(dset, tuple(reports))


def calibrate_strength(latents: ArrayLike, positive: ArrayLike, direction: ArrayLike,
                       rule: CalibrationRule = "class-means", scale: float = 1.0) -> Calibration:
    """The latent distance along ``direction`` that value 1.0 stands for.

    ``class-means``: scale × (mean of w·d over positives − mean over negatives): value 1 moves a
    face by the typical gap between faces without and with the expression. ``projection-std``:
    scale × the standard deviation of w·d. ``latents`` (N, w_dim), ``positive`` (N,) 0/1.
    """
    if rule not in CALIBRATION_RULES:
        raise ValueError(f"rule must be one of {tuple(CALIBRATION_RULES)}, got {rule!r}")
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    x = np.asarray(latents, dtype=np.float64)
    pos = np.asarray(positive)
    d = _unit(np.asarray(direction, dtype=np.float64), "direction")
    if x.ndim != 2 or x.shape[1] != d.size or pos.shape != (x.shape[0],):
        raise ValueError(f"latents must be (N, {d.size}) and positive (N,), got {x.shape} and {pos.shape}")
    pos = pos.astype(bool)
    proj = x @ d
    if rule == "class-means":
        if pos.all() or not pos.any():
            raise ValueError("class-means calibration needs both positive and negative latents")
        strength = scale * (proj[pos].mean() - proj[~pos].mean())
    else:
        strength = scale * proj.std()
    if not math.isfinite(strength) or strength <= 0:
        raise ValueError(f"{rule} calibration gave a non-positive strength ({strength:.4g}); "
                         "the direction does not point from the negatives toward the positives")
    return Calibration(float(strength), rule if scale == 1.0 else f"{rule} x{scale:g}")


def project_orthogonal(direction: ArrayLike, others: ArrayLike | Sequence[ArrayLike]) -> np.ndarray:
    """``direction`` without its components along ``others``, re-normalised (InterFaceGAN's
    conditional manipulation). The others are orthonormalised first (Gram-Schmidt), so they need
    not be orthogonal to each other; the result keeps the sign of ``direction``."""
    d = np.asarray(direction, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"direction must be 1-D, got shape {d.shape}")
    d = _unit(d, "direction")
    rest = np.asarray(others, dtype=np.float64)
    rest = rest.reshape(0, d.size) if rest.size == 0 else np.atleast_2d(rest)
    if rest.ndim != 2 or rest.shape[1] != d.size:
        raise ValueError(f"others must be vectors of length {d.size}, got shape {rest.shape}")
    if not np.isfinite(rest).all():
        raise ValueError("others hold non-finite values")
    basis: list[np.ndarray] = []
    for v in rest:
        for u in basis:
            v = v - (v @ u) * u
        norm = np.linalg.norm(v)
        if norm > _NEAR_ZERO * max(1.0, np.linalg.norm(rest, axis=1).max()):
            basis.append(v / norm)
    for u in basis:
        d = d - (d @ u) * u
    norm = np.linalg.norm(d)
    if norm < _NEAR_ZERO:
        raise ValueError("the direction lies (almost) in the span of the others: nothing is left after projection")
    return (d / norm).astype(np.float32)


def _binary_labels(labels: ArrayLike, names: Sequence[str] | None, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Any accepted label layout → an (N, L) boolean matrix and its L names."""
    y = np.asarray(labels)
    if y.shape[:1] != (n,):
        raise ValueError(f"latents have {n} rows but labels have {y.shape[0] if y.ndim else 0}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("labels hold NaN or infinite values")
    if y.ndim == 2:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("multi-label labels (N, L) must hold only 0 and 1")
        if names is None or len(names) != y.shape[1]:
            raise ValueError(f"names must give one name per label column ({y.shape[1]}), got {names!r}")
        return y.astype(bool), tuple(names)
    if y.ndim != 1:
        raise ValueError(f"labels must be (N,) classes or an (N, L) 0/1 matrix, got shape {y.shape}")
    if y.dtype.kind in "iu" or (y.dtype.kind == "f" and np.array_equal(y, np.round(y))):
        if names is None:
            raise ValueError("names are required with integer class labels (class i is named names[i])")
        k = y.astype(np.int64)
        if k.min() < 0 or k.max() >= len(names):
            raise ValueError(f"integer labels must be class indices 0..{len(names) - 1} (one per name), "
                             f"got {k.min()}..{k.max()}")
        return k[:, None] == np.arange(len(names)), tuple(names)
    if y.dtype.kind not in "UO":
        raise ValueError(f"labels of dtype {y.dtype} are not supported: use strings, class indices or 0/1")
    y = y.astype(str)
    classes = tuple(np.unique(y))
    names = classes if names is None else tuple(names)
    missing = [c for c in names if c not in classes]
    if missing:
        raise ValueError(f"no latents are labelled {', '.join(map(repr, missing))}; labels are {', '.join(classes)}")
    return y[:, None] == np.asarray(names), names


def _fit_one(x: np.ndarray, y: np.ndarray, name: str, method: str, test_size: float,
             seed: int, C: float = 1.0) -> tuple[np.ndarray, LabelReport]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.svm import LinearSVC

    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        which = "positive" if n_pos == 0 else "negative"
        raise ValueError(f"label {name!r} has only one class: no {which} latents")
    idx = np.arange(y.size)
    if test_size > 0:
        try:
            train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)
        except ValueError as e:
            raise ValueError(f"label {name!r}: cannot split {n_pos} positive and {y.size - n_pos} negative latents "
                             f"with test_size={test_size} ({e})") from None
    else:
        train, test = idx, idx[:0]
    # The paper's models: sklearn defaults (L2, C=1); max_iter only so that unscaled latents converge.
    model = (LogisticRegression(C=C, max_iter=1000) if method == "logistic"
             else LinearSVC(C=C, random_state=seed, max_iter=10000))
    model.fit(x[train], y[train])
    # classes_ is [False, True], so coef_ points toward the positive class.
    vector = _unit(model.coef_[0], f"the {method} weights of label {name!r}").astype(np.float32)
    accuracy = float(model.score(x[test], y[test])) if test.size else None
    report = LabelReport(name, accuracy, float(model.score(x[train], y[train])), int(train.size), int(test.size),
                         n_pos)
    return vector, report


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    norm = np.linalg.norm(v)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError(f"{what} has zero or non-finite length")
    return v / norm
