"""Everything needed to draw one face, its sampling, and its fixed-length float32 vector.

Vector layout (``VECTOR_NAMES`` holds every entry's name):

* ``identity.*`` — ``Identity`` fields in declaration order: scalars as one entry, colours as
  ``.r .g .b``, enums one-hot as ``identity.hair_style=bald`` etc. (decoded by argmax);
* ``au.*`` — the 14 ``ActionUnits`` intensities (``AU_SLICE``);
* ``emotion.*`` — the 9 ``Emotions`` channels (``EMOTION_SLICE``);
* ``yaw`` — the drawn head turn (``YAW_INDEX``), the last entry.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass

import numpy as np

from lab.procedural.expression import (
    AU_NAMES,
    CHANNEL_NAMES,
    DEFAULT_PRIOR,
    ActionUnits,
    Emotions,
    ExpressionPrior,
    emotions_to_aus,
    sample_emotions,
)
from lab.procedural.identity import Identity, sample_identity, snap_float32


@dataclass(frozen=True)
class FaceParams:
    """One face to draw: ``aus`` and ``yaw`` are what the renderer draws, ``emotions`` the label.

    Faces built by ``face_params_from_emotions`` have ``aus == emotions_to_aus(emotions)`` and
    ``yaw == emotions.head_turn``; AU-level faces may carry neutral ``emotions``.
    """

    identity: Identity
    aus: ActionUnits
    emotions: Emotions
    yaw: float

    def __post_init__(self) -> None:
        yaw = snap_float32(self.yaw)
        if not -1.0 <= yaw <= 1.0:
            raise ValueError(f"FaceParams.yaw={yaw} is outside [-1, 1]")
        object.__setattr__(self, "yaw", yaw)

    def to_vector(self) -> np.ndarray:
        """This face as a float32 vector laid out as ``VECTOR_NAMES``."""
        return np.concatenate(
            [
                _identity_to_vector(self.identity),
                self.aus.as_array(),
                self.emotions.as_array(),
                np.array([self.yaw], dtype=np.float32),
            ]
        )

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> FaceParams:
        """Inverse of ``to_vector``; enum one-hots are decoded by argmax."""
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (len(VECTOR_NAMES),):
            raise ValueError(f"expected a vector of {len(VECTOR_NAMES)} entries, got shape {vector.shape}")
        return cls(
            identity=_identity_from_vector(vector[IDENTITY_SLICE]),
            aus=ActionUnits.from_array(vector[AU_SLICE]),
            emotions=Emotions.from_array(vector[EMOTION_SLICE]),
            yaw=float(vector[YAW_INDEX]),
        )


def face_params_from_emotions(identity: Identity, emotions: Emotions) -> FaceParams:
    """A face whose drawn AUs and yaw follow from the animation channels."""
    return FaceParams(identity, emotions_to_aus(emotions), emotions, emotions.head_turn)


def sample_face_params(rng: np.random.Generator, prior: ExpressionPrior = DEFAULT_PRIOR) -> FaceParams:
    """A random identity with an expression drawn from ``prior`` (see ``ExpressionPrior``)."""
    identity = sample_identity(rng)
    return face_params_from_emotions(identity, sample_emotions(rng, prior))


def face_params_from_seed(seed: int, prior: ExpressionPrior = DEFAULT_PRIOR) -> FaceParams:
    """The face for an integer seed; identical across processes and platforms."""
    return sample_face_params(np.random.default_rng(seed), prior)


# --- vector layout -------------------------------------------------------------------------

_IDENTITY_TYPES = typing.get_type_hints(Identity)


def _identity_layout() -> list[tuple[str, tuple[str, ...]]]:
    """(field, entry names) for each Identity field, in vector order."""
    layout = []
    for field in dataclasses.fields(Identity):
        kind = _IDENTITY_TYPES[field.name]
        if kind is float:
            names: tuple[str, ...] = (f"identity.{field.name}",)
        elif isinstance(kind, type) and issubclass(kind, enum.IntEnum):
            names = tuple(f"identity.{field.name}={m.name.lower()}" for m in kind)
        else:
            names = tuple(f"identity.{field.name}.{c}" for c in "rgb")
        layout.append((field.name, names))
    return layout


_IDENTITY_LAYOUT = _identity_layout()
IDENTITY_NAMES: tuple[str, ...] = tuple(n for _, names in _IDENTITY_LAYOUT for n in names)
VECTOR_NAMES: tuple[str, ...] = (
    IDENTITY_NAMES + tuple(f"au.{n}" for n in AU_NAMES) + tuple(f"emotion.{n}" for n in CHANNEL_NAMES) + ("yaw",)
)
IDENTITY_SLICE = slice(0, len(IDENTITY_NAMES))
AU_SLICE = slice(IDENTITY_SLICE.stop, IDENTITY_SLICE.stop + len(AU_NAMES))
EMOTION_SLICE = slice(AU_SLICE.stop, AU_SLICE.stop + len(CHANNEL_NAMES))
YAW_INDEX = EMOTION_SLICE.stop


def _identity_to_vector(identity: Identity) -> np.ndarray:
    parts = []
    for name, entries in _IDENTITY_LAYOUT:
        value = getattr(identity, name)
        kind = _IDENTITY_TYPES[name]
        if kind is float:
            parts.append([value])
        elif isinstance(value, enum.IntEnum):
            parts.append(np.eye(len(entries))[int(value)])
        else:
            parts.append(value)
    return np.concatenate(parts).astype(np.float32)


def _identity_from_vector(vector: np.ndarray) -> Identity:
    values = {}
    start = 0
    for name, entries in _IDENTITY_LAYOUT:
        chunk = vector[start : start + len(entries)]
        start += len(entries)
        kind = _IDENTITY_TYPES[name]
        if kind is float:
            values[name] = float(chunk[0])
        elif isinstance(kind, type) and issubclass(kind, enum.IntEnum):
            values[name] = kind(int(np.argmax(chunk)))
        else:
            values[name] = tuple(float(c) for c in chunk)
    return Identity(**values)
