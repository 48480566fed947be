"""Identity of a procedural cartoon face: everything that stays fixed while the expression moves."""

from __future__ import annotations

import colorsys
import dataclasses
import enum
from dataclasses import dataclass

import numpy as np

Color = tuple[float, float, float]
"""Linear RGB in [0, 1]."""


class HairStyle(enum.IntEnum):
    BALD = 0
    SHORT = 1
    SIDE_PART = 2
    FRINGE = 3
    LONG = 4
    BOB = 5
    AFRO = 6


class BeardStyle(enum.IntEnum):
    NONE = 0
    FULL = 1
    GOATEE = 2
    MUSTACHE = 3


class GlassesStyle(enum.IntEnum):
    NONE = 0
    ROUND = 1
    SQUARE = 2


def snap_float32(value: float) -> float:
    """Round to the nearest float32 so that parameter vectors round-trip exactly."""
    return float(np.float32(value))


# Valid range of every scalar identity field; sample_identity draws inside the same ranges.
SCALAR_RANGES: dict[str, tuple[float, float]] = {
    "face_width": (0.86, 1.04),
    "face_length": (0.84, 1.06),
    "jaw_width": (0.55, 0.88),
    "chin_squareness": (2.3, 3.6),
    "eye_size": (0.85, 1.15),
    "eye_spacing": (0.92, 1.08),
    "eye_tilt": (-0.12, 0.18),
    "brow_thickness": (0.6, 1.5),
    "brow_arch": (0.0, 1.0),
    "nose_length": (0.8, 1.2),
    "nose_width": (0.8, 1.25),
    "mouth_width": (0.85, 1.15),
    "lip_fullness": (0.6, 1.35),
    "background_angle": (-1.0, 1.0),
    "light_angle": (-1.0, 1.0),
    "light_strength": (0.0, 1.0),
}


@dataclass(frozen=True)
class Identity:
    """Face shape, colours, hair, accessories, background and light of one cartoon person.

    Lengths are in face units (1.0 is a typical cheek half-width); angles are in [-1, 1] and
    mapped to radians by the renderer.
    """

    face_width: float = 0.95
    face_length: float = 0.95
    jaw_width: float = 0.75
    chin_squareness: float = 2.8
    skin_color: Color = (0.93, 0.76, 0.62)
    hair_style: HairStyle = HairStyle.SHORT
    hair_color: Color = (0.25, 0.15, 0.09)
    eye_color: Color = (0.35, 0.2, 0.1)
    eye_size: float = 1.0
    eye_spacing: float = 1.0
    eye_tilt: float = 0.0
    brow_thickness: float = 1.0
    brow_arch: float = 0.5
    nose_length: float = 1.0
    nose_width: float = 1.0
    mouth_width: float = 1.0
    lip_fullness: float = 1.0
    lip_color: Color = (0.75, 0.42, 0.4)
    glasses: GlassesStyle = GlassesStyle.NONE
    glasses_color: Color = (0.1, 0.1, 0.12)
    beard: BeardStyle = BeardStyle.NONE
    clothing_color: Color = (0.3, 0.4, 0.6)
    background_top: Color = (0.75, 0.82, 0.9)
    background_bottom: Color = (0.55, 0.62, 0.75)
    background_angle: float = 0.0
    light_angle: float = -0.4
    light_strength: float = 0.5

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in SCALAR_RANGES:
                lo, hi = SCALAR_RANGES[field.name]
                value = snap_float32(value)
                if not lo <= value <= hi:
                    raise ValueError(f"Identity.{field.name}={value} is outside [{lo}, {hi}]")
            elif field.name == "hair_style":
                value = HairStyle(value)
            elif field.name == "beard":
                value = BeardStyle(value)
            elif field.name == "glasses":
                value = GlassesStyle(value)
            else:
                value = tuple(snap_float32(c) for c in value)
                if len(value) != 3 or not all(0.0 <= c <= 1.0 for c in value):
                    raise ValueError(f"Identity.{field.name}={value} is not an RGB triple in [0, 1]")
            object.__setattr__(self, field.name, value)


SKIN_TONES = np.array(
    [
        (0.98, 0.87, 0.78),
        (0.94, 0.77, 0.64),
        (0.82, 0.61, 0.45),
        (0.62, 0.42, 0.28),
        (0.40, 0.26, 0.17),
    ]
)
HAIR_COLORS = np.array(
    [
        (0.07, 0.06, 0.06),  # black
        (0.22, 0.13, 0.08),  # dark brown
        (0.42, 0.26, 0.14),  # brown
        (0.56, 0.24, 0.10),  # auburn
        (0.86, 0.70, 0.40),  # blond
        (0.68, 0.67, 0.66),  # grey
    ]
)
HAIR_COLOR_P = np.array([0.26, 0.24, 0.16, 0.1, 0.12, 0.07]) / 0.95  # plus 5 % dyed
EYE_COLORS = np.array(
    [
        (0.33, 0.19, 0.09),  # brown
        (0.14, 0.09, 0.06),  # dark brown
        (0.24, 0.46, 0.76),  # blue
        (0.28, 0.54, 0.30),  # green
        (0.50, 0.40, 0.18),  # hazel
        (0.48, 0.54, 0.60),  # grey
    ]
)
HAIR_STYLE_P = np.array([0.1, 0.18, 0.15, 0.15, 0.2, 0.12, 0.1])


def _jitter(rng: np.random.Generator, base: np.ndarray, amount: float) -> Color:
    rgb = np.clip(base + rng.uniform(-amount, amount, 3), 0.0, 1.0)
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw a random identity; the same generator state always gives the same identity."""
    scalars = {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in SCALAR_RANGES.items()}
    # Most people are lit from above: fold the light angle towards the top.
    scalars["light_angle"] = float(rng.uniform(-0.6, 0.6))

    tone = rng.uniform(0.0, len(SKIN_TONES) - 1)
    i = min(int(tone), len(SKIN_TONES) - 2)
    skin = SKIN_TONES[i] + (tone - i) * (SKIN_TONES[i + 1] - SKIN_TONES[i])

    if rng.uniform() < 0.05:
        hair = _hsv(rng.uniform(), rng.uniform(0.5, 0.8), rng.uniform(0.45, 0.8))
    else:
        hair = HAIR_COLORS[rng.choice(len(HAIR_COLORS), p=HAIR_COLOR_P)]
    eye = EYE_COLORS[rng.integers(len(EYE_COLORS))]
    lip = skin * np.array([0.86, 0.56, 0.56]) + np.array([0.05, 0.0, 0.02])

    glasses = GlassesStyle(rng.choice(3, p=[0.78, 0.11, 0.11]))
    beard = BeardStyle(rng.choice(4, p=[0.74, 0.1, 0.08, 0.08]))
    hue = rng.uniform()
    return Identity(
        skin_color=_jitter(rng, skin, 0.025),
        hair_style=HairStyle(rng.choice(len(HairStyle), p=HAIR_STYLE_P)),
        hair_color=_jitter(rng, hair, 0.03),
        eye_color=_jitter(rng, eye, 0.04),
        lip_color=_jitter(rng, lip, 0.04),
        glasses=glasses,
        glasses_color=_jitter(rng, _hsv(rng.uniform(), rng.uniform(0, 0.7), rng.uniform(0.05, 0.6)), 0.0),
        beard=beard,
        clothing_color=_jitter(rng, _hsv(rng.uniform(), rng.uniform(0.2, 0.8), rng.uniform(0.25, 0.9)), 0.0),
        background_top=_jitter(rng, _hsv(hue, rng.uniform(0.05, 0.45), rng.uniform(0.6, 0.98)), 0.0),
        background_bottom=_jitter(
            rng, _hsv(hue + rng.uniform(-0.15, 0.15), rng.uniform(0.05, 0.5), rng.uniform(0.35, 0.85)), 0.0
        ),
        **scalars,
    )
