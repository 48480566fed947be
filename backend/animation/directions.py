"""Emotion directions in W space, and the directions file that stores them.

One representation: a direction is a single (w_dim,) W-space vector, added to every row of its
half-open ``layers`` range of the W+ code (the paper's first 8 of 18 rows by default). Learning
directions from labelled latents is ``backend.learning.classifiers``.

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

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..files import FileError, read_json, write_atomic

FORMAT = "latent-emotion.directions"
FORMAT_VERSION = 1

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class DirectionsError(FileError):
    """A directions file we cannot use; the message names the file and why."""


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

    @property
    def fingerprint(self) -> str:
        """sha256 over what moves a frame (generator fingerprint, shape, each direction's name, rows,
        strength and float32 vector): the same directions give the same fingerprint however the file
        is formatted. The add-on records it with each face."""
        h = hashlib.sha256(f"{self.generator_fingerprint};{self.num_ws};{self.w_dim};".encode())
        for d in self.directions:
            h.update(f"{d.name}:{d.layers[0]}-{d.layers[1]}:{float(d.strength)!r};".encode())
            h.update(np.asarray(d.vector, dtype=np.float32).tobytes())
        return h.hexdigest()


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
    doc = read_json(path, error=DirectionsError)
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
