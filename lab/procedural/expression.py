"""FACS action units, the six basic emotions as EMFACS prototypes, and a prior over expressions.

Emotion channels map to action units by taking, for every AU, the maximum over the active
channels of ``channel intensity * prototype weight``. Max (rather than a clipped sum) keeps an
AU shared by two emotions (AU5 in fear and surprise) from saturating early in a mix, and keeps
each AU a piecewise-linear, monotone function of every channel.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass

import numpy as np

from backend.animation.channels import CHANNEL_NAMES
from lab.procedural.identity import snap_float32


def _check_range(obj: object, lo: float, hi: float, names: tuple[str, ...]) -> None:
    for name in names:
        value = snap_float32(getattr(obj, name))
        if not lo <= value <= hi:
            raise ValueError(f"{type(obj).__name__}.{name}={value} is outside [{lo}, {hi}]")
        object.__setattr__(obj, name, value)


class _FloatFields:
    """Frozen dataclasses of floats ↔ float32 arrays in field order."""

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in dataclasses.fields(self)], dtype=np.float32)

    @classmethod
    def from_array(cls, values: np.ndarray):  # type: ignore[no-untyped-def]
        names = [f.name for f in dataclasses.fields(cls)]
        values = np.asarray(values, dtype=np.float32)
        if values.shape != (len(names),):
            raise ValueError(f"expected {len(names)} values for {cls.__name__}, got shape {values.shape}")
        return cls(**{n: float(v) for n, v in zip(names, values, strict=True)})


@dataclass(frozen=True)
class ActionUnits(_FloatFields):
    """Intensities in [0, 1] of the FACS action units the renderer draws."""

    au1: float = 0.0  # inner brow raiser
    au2: float = 0.0  # outer brow raiser
    au4: float = 0.0  # brow lowerer
    au5: float = 0.0  # upper lid raiser
    au6: float = 0.0  # cheek raiser
    au7: float = 0.0  # lid tightener
    au9: float = 0.0  # nose wrinkler
    au12: float = 0.0  # lip corner puller
    au15: float = 0.0  # lip corner depressor
    au16: float = 0.0  # lower lip depressor
    au20: float = 0.0  # lip stretcher
    au23: float = 0.0  # lip tightener
    au26: float = 0.0  # jaw drop
    au43: float = 0.0  # eye closure

    def __post_init__(self) -> None:
        _check_range(self, 0.0, 1.0, AU_NAMES)



AU_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ActionUnits))

EMOTION_NAMES: tuple[str, ...] = CHANNEL_NAMES[:6]  # the six basic emotions


@dataclass(frozen=True)
class Emotions(_FloatFields):
    """The animation channels: six emotions, two direct AU channels (all in [0, 1]) and head turn.

    ``head_turn`` is in [-1, 1]; positive turns the face towards the image's right.
    """

    joy: float = 0.0
    sadness: float = 0.0
    anger: float = 0.0
    fear: float = 0.0
    surprise: float = 0.0
    disgust: float = 0.0
    eye_close: float = 0.0
    mouth_open: float = 0.0
    head_turn: float = 0.0

    def __post_init__(self) -> None:
        _check_range(self, 0.0, 1.0, CHANNEL_NAMES[:-1])
        _check_range(self, -1.0, 1.0, ("head_turn",))



# EMFACS prototypes (Friesen & Ekman 1983) with the AU intensity each reaches at emotion 1.0.
# Secondary AUs get weights below 1 so the defining AUs dominate the drawing.
EMOTION_PROTOTYPES: types.MappingProxyType[str, ActionUnits] = types.MappingProxyType(
    {
        "joy": ActionUnits(au6=1.0, au12=1.0),
        "sadness": ActionUnits(au1=1.0, au4=0.6, au15=1.0),
        "surprise": ActionUnits(au1=1.0, au2=1.0, au5=1.0, au26=0.9),
        "fear": ActionUnits(au1=1.0, au2=0.6, au4=0.7, au5=1.0, au7=0.4, au20=1.0, au26=0.55),
        "anger": ActionUnits(au4=1.0, au5=0.5, au7=1.0, au23=1.0),
        "disgust": ActionUnits(au9=1.0, au15=0.7, au16=0.8),
    }
)


def emotions_to_aus(emotions: Emotions) -> ActionUnits:
    """AU intensities for a mix of emotions: per AU the max over channels (see module docstring).

    ``eye_close`` drives AU43 and ``mouth_open`` AU26 directly; ``head_turn`` is not an AU.
    """
    values = np.zeros(len(AU_NAMES), dtype=np.float64)
    for name in EMOTION_NAMES:
        intensity = getattr(emotions, name)
        if intensity > 0.0:
            values = np.maximum(values, intensity * EMOTION_PROTOTYPES[name].as_array())
    values[AU_NAMES.index("au43")] = max(values[AU_NAMES.index("au43")], emotions.eye_close)
    values[AU_NAMES.index("au26")] = max(values[AU_NAMES.index("au26")], emotions.mouth_open)
    return ActionUnits(**{n: float(v) for n, v in zip(AU_NAMES, np.clip(values, 0.0, 1.0), strict=True)})


@dataclass(frozen=True)
class ExpressionPrior:
    """Prior over ``Emotions`` used to sample training faces.

    First one of three cases: neutral (``p_neutral``), one emotion (``p_single``) or a mix of two
    (the rest); emotion intensities are uniform in [``min_intensity``, 1]. Then, independently,
    ``eye_close`` and ``mouth_open`` are switched on with their probabilities (uniform intensity
    in [``min_intensity``, 1]) and the head is turned with ``p_turn`` (uniform in [-1, 1]).
    """

    p_neutral: float = 0.2
    p_single: float = 0.5
    min_intensity: float = 0.15
    p_eye_close: float = 0.12
    p_mouth_open: float = 0.12
    p_turn: float = 0.35

    def __post_init__(self) -> None:
        if not (0.0 <= self.p_neutral and 0.0 <= self.p_single and self.p_neutral + self.p_single <= 1.0):
            raise ValueError("p_neutral and p_single must be non-negative and sum to at most 1")
        if not 0.0 <= self.min_intensity <= 1.0:
            raise ValueError(f"min_intensity={self.min_intensity} is outside [0, 1]")


DEFAULT_PRIOR = ExpressionPrior()


def sample_emotions(rng: np.random.Generator, prior: ExpressionPrior = DEFAULT_PRIOR) -> Emotions:
    """Draw animation channels from ``prior``; the number of generator draws does not depend on the case."""
    case = rng.uniform()
    order = rng.permutation(len(EMOTION_NAMES))
    strengths = rng.uniform(prior.min_intensity, 1.0, 4)
    switches = rng.uniform(size=3)
    turn = rng.uniform(-1.0, 1.0)

    channels = dict.fromkeys(CHANNEL_NAMES, 0.0)
    n_active = 0 if case < prior.p_neutral else 1 if case < prior.p_neutral + prior.p_single else 2
    for k in range(n_active):
        channels[EMOTION_NAMES[order[k]]] = strengths[k]
    if switches[0] < prior.p_eye_close:
        channels["eye_close"] = strengths[2]
    if switches[1] < prior.p_mouth_open:
        channels["mouth_open"] = strengths[3]
    if switches[2] < prior.p_turn:
        channels["head_turn"] = turn
    return Emotions(**channels)
