"""Emotion directions in W space: learning them, making them independent, storing them.

Zhang & Pollett (2021), Sec. 3 stage 1: fit a linear classifier (logistic regression with an L2
penalty, or a linear SVM, scikit-learn defaults) on (latent, expression) pairs; its unit weight
vector, pointing toward the expression, is the emotion's direction. InterFaceGAN's conditional
manipulation (Shen et al. 2020) is ``project_orthogonal``: remove the components along other
directions so that moving one channel leaves the others' classifiers unchanged.

One representation: a direction is a single (w_dim,) W-space vector, added to every row of its
half-open ``layers`` range of the W+ code (the paper's first 8 of 18 rows by default).

The directions file is JSON, never pickle (format ``latent-emotion.directions``, version 1)::

    {
      "format": "latent-emotion.directions",
      "format_version": 1,
      "generator_fingerprint": "<sha256 hex of the generator's weights, checkpoints.fingerprint>",
      "num_ws": 18,
      "w_dim": 512,
      "directions": [
        {"name": "joy", "layers": [0, 8], "strength": 4.2, "calibration": "class-means",
         "method": "logistic", "accuracy": 0.93, "vector": [0.0132, -0.0457, ...]}
      ]
    }

``layers`` is [start, stop) over W+ rows; ``strength`` is the latent distance that value 1.0
moves; ``accuracy`` is the held-out accuracy of the classifier, or null.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .files import write_atomic
from .latent import default_layer_range

FORMAT = "latent-emotion.directions"
FORMAT_VERSION = 1
METHODS: tuple[str, ...] = ("logistic", "svm")
CALIBRATION_RULES: Mapping[str, str] = MappingProxyType({
    "class-means": "mean projection w·d of the positive latents minus that of the negatives",
    "projection-std": "standard deviation of the projections w·d over all latents",
})

Method = Literal["logistic", "svm"]
CalibrationRule = Literal["class-means", "projection-std"]

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_NEAR_ZERO = 1e-6  # relative norm below which a projected direction is considered gone


class DirectionsError(Exception):
    """A directions file we cannot use; the message names the file and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True, eq=False)
class Direction:
    """One channel's direction: a (w_dim,) vector added, times value · strength, to ``layers`` rows."""

    name: str
    vector: np.ndarray
    layers: tuple[int, int]
    strength: float
    calibration: str
    method: str
    accuracy: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or self.name != self.name.strip() \
                or any(ord(ch) < 32 for ch in self.name):
            raise ValueError(f"direction name must be a non-empty string without surrounding spaces, got {self.name!r}")
        vector = np.array(self.vector, dtype=np.float32)  # a private copy, made read-only below
        if vector.ndim != 1 or vector.size == 0:
            raise ValueError(f"direction {self.name!r}: vector must be 1-D, got shape {vector.shape}")
        if not np.isfinite(vector).all():
            raise ValueError(f"direction {self.name!r}: vector holds non-finite values")
        if not np.any(vector):
            raise ValueError(f"direction {self.name!r}: vector is all zeros")
        vector.setflags(write=False)
        object.__setattr__(self, "vector", vector)
        layers = tuple(self.layers)
        if len(layers) != 2 or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in layers) \
                or not 0 <= layers[0] < layers[1]:
            raise ValueError(f"direction {self.name!r}: layers must be (start, stop) with 0 <= start < stop, "
                             f"got {self.layers!r}")
        object.__setattr__(self, "layers", (int(layers[0]), int(layers[1])))
        strength = float(self.strength)
        if not math.isfinite(strength) or strength <= 0:
            raise ValueError(f"direction {self.name!r}: strength must be a positive number, got {self.strength!r}")
        object.__setattr__(self, "strength", strength)
        for attr in ("calibration", "method"):
            if not isinstance(getattr(self, attr), str):
                raise ValueError(f"direction {self.name!r}: {attr} must be a string")
        if self.accuracy is not None:
            accuracy = float(self.accuracy)
            if not 0.0 <= accuracy <= 1.0:
                raise ValueError(f"direction {self.name!r}: accuracy must be in [0, 1] or None, got {self.accuracy!r}")
            object.__setattr__(self, "accuracy", accuracy)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Direction):
            return NotImplemented
        return (self.name, self.layers, self.strength, self.calibration, self.method, self.accuracy) == \
            (other.name, other.layers, other.strength, other.calibration, other.method, other.accuracy) \
            and np.array_equal(self.vector, other.vector)

    __hash__ = None  # type: ignore[assignment]  # holds an array


@dataclass(frozen=True)
class DirectionSet:
    """The directions learned for one generator (checked by fingerprint), looked up by name."""

    generator_fingerprint: str
    num_ws: int
    w_dim: int
    directions: tuple[Direction, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.generator_fingerprint, str) or not _FINGERPRINT.fullmatch(self.generator_fingerprint):
            raise ValueError("generator_fingerprint must be the generator's sha256 hex digest "
                             f"(checkpoints.fingerprint), got {self.generator_fingerprint!r}")
        for attr in ("num_ws", "w_dim"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{attr} must be a positive integer, got {value!r}")
            object.__setattr__(self, attr, int(value))
        directions = tuple(self.directions)
        object.__setattr__(self, "directions", directions)
        seen: set[str] = set()
        for d in directions:
            if not isinstance(d, Direction):
                raise ValueError(f"directions must be Direction objects, got {type(d).__name__}")
            if d.name in seen:
                raise ValueError(f"duplicate direction name {d.name!r}")
            seen.add(d.name)
            if d.vector.shape != (self.w_dim,):
                raise ValueError(f"direction {d.name!r}: vector has {d.vector.size} values, w_dim is {self.w_dim}")
            if d.layers[1] > self.num_ws:
                raise ValueError(f"direction {d.name!r}: layers {list(d.layers)} go past the {self.num_ws} W+ rows")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.directions)

    def __getitem__(self, name: str) -> Direction:
        for d in self.directions:
            if d.name == name:
                return d
        raise KeyError(f"no direction {name!r}; the set has: {', '.join(self.names) or '(none)'}")

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[Direction]:
        return iter(self.directions)

    def __len__(self) -> int:
        return len(self.directions)


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


def save_directions(directions: DirectionSet, path: str | os.PathLike[str]) -> str:
    """Write ``directions`` as a JSON directions file, atomically (temp file, then rename)."""
    doc: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "generator_fingerprint": directions.generator_fingerprint,
        "num_ws": directions.num_ws, "w_dim": directions.w_dim,
        "directions": [
            {"name": d.name, "layers": list(d.layers), "strength": d.strength, "calibration": d.calibration,
             "method": d.method, "accuracy": d.accuracy, "vector": f"\0vector{i}"}
            for i, d in enumerate(directions.directions)
        ],
    }
    text = json.dumps(doc, indent=2, allow_nan=False)
    for i, d in enumerate(directions.directions):
        # One line per vector; the shortest repr of a float32 reads back as the same float32.
        numbers = ", ".join(repr(float(str(v))) for v in d.vector)
        text = text.replace(json.dumps(f"\0vector{i}"), f"[{numbers}]", 1)
    write_atomic(path, text + "\n")
    return path


def load_directions(path: str | os.PathLike[str], *, expect_fingerprint: str | None = None,
                    num_ws: int | None = None, w_dim: int | None = None) -> DirectionSet:
    """Read a directions file; with ``expect_fingerprint``/``num_ws``/``w_dim``, check it fits the
    generator. Anything wrong raises ``DirectionsError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DirectionsError(path, "no such file") from None
    except IsADirectoryError:
        raise DirectionsError(path, "a folder, not a directions file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DirectionsError(path, f"cannot read it ({e})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DirectionsError(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise DirectionsError(path, f"not a directions file (format is {found!r}, expected {FORMAT!r})")
    if doc.get("format_version") != FORMAT_VERSION:
        raise DirectionsError(path, f"format_version {doc.get('format_version')!r} is not supported "
                                    f"(this version reads {FORMAT_VERSION})")
    fp = _field(path, doc, "generator_fingerprint", str)
    file_num_ws, file_w_dim = _field(path, doc, "num_ws", int), _field(path, doc, "w_dim", int)
    if expect_fingerprint is not None and fp != expect_fingerprint:
        raise DirectionsError(path, f"made for another generator (fingerprint {fp[:12]}…, the loaded generator's "
                                    f"is {expect_fingerprint[:12]}…); learn directions for this generator")
    for name, want, got in (("num_ws", num_ws, file_num_ws), ("w_dim", w_dim, file_w_dim)):
        if want is not None and want != got:
            raise DirectionsError(path, f"made for {name}={got}, the generator has {name}={want}")
    entries = _field(path, doc, "directions", list)
    directions = []
    for k, entry in enumerate(entries):
        where = f"directions[{k}]"
        if not isinstance(entry, dict):
            raise DirectionsError(path, f"{where} is not an object")
        name = _field(path, entry, "name", str, where)
        where = f"direction {name!r}"
        vector = _field(path, entry, "vector", list, where)
        if len(vector) != file_w_dim:
            raise DirectionsError(path, f"{where}: vector has {len(vector)} values, w_dim is {file_w_dim}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vector):
            raise DirectionsError(path, f"{where}: vector must hold only numbers")
        if not np.isfinite(np.asarray(vector, dtype=np.float64)).all():
            raise DirectionsError(path, f"{where}: vector holds non-finite values (NaN or Infinity)")
        layers = _field(path, entry, "layers", list, where)
        accuracy = entry.get("accuracy")
        if accuracy is not None and (isinstance(accuracy, bool) or not isinstance(accuracy, (int, float))):
            raise DirectionsError(path, f"{where}: accuracy must be a number or null")
        try:
            directions.append(Direction(name, np.asarray(vector, dtype=np.float32), tuple(layers),
                                        _field(path, entry, "strength", float, where),
                                        _field(path, entry, "calibration", str, where),
                                        _field(path, entry, "method", str, where), accuracy))
        except ValueError as e:
            raise DirectionsError(path, str(e)) from None
    try:
        return DirectionSet(fp, file_num_ws, file_w_dim, tuple(directions))
    except ValueError as e:
        raise DirectionsError(path, str(e)) from None


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


def _field(path: Path, obj: dict[str, Any], key: str, kind: type, where: str = "the file") -> Any:
    if key not in obj:
        raise DirectionsError(path, f"{where} has no {key!r}")
    value = obj[key]
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise DirectionsError(path, f"{where}: {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value
