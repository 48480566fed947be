"""Frontal shapes of the brows, eyes, nose and mouth for an identity and its action units.

All shapes are in face units (see ``geometry``) before the head turn. Each AU moves points by
an amount that grows with its intensity (linearly, except the lip parting of a broad smile),
so a stronger AU is always a larger change.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lab.procedural.expression import ActionUnits
from lab.procedural.geometry import clip, xy
from lab.procedural.identity import Identity

EYE_Y = -0.1
BROW_Y = -0.4
JAW_DROP = 0.3  # chin travel at AU26 = 1

_EYE_U = np.linspace(-1.0, 1.0, 13)  # inner corner to outer corner
_MOUTH_U = np.linspace(-1.0, 1.0, 19)  # left corner to right corner
_BROW_T = np.linspace(0.0, 1.0, 9)  # inner end to outer end
_CIRCLE_A = np.linspace(0.0, np.pi, 9)  # half circle, sampled densely at the sides
_RING = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
_ARC_T = {n: np.linspace(0.0, 1.0, n)[:, None] for n in range(2, 9)}


def mouth_y(identity: Identity) -> float:
    return 0.52 * identity.face_length / 0.95


def nose_tip_y(identity: Identity) -> float:
    return 0.2 * identity.nose_length


def ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return xy(cx + rx * np.cos(_RING), cy + ry * np.sin(_RING))


def clipped_band(
    x: np.ndarray, top: np.ndarray, bottom: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray | None:
    """Polygon of the band [top, bottom] intersected with [lo, hi] column by column (None if empty)."""
    t = clip(top, lo, hi)
    b = clip(bottom, lo, hi)
    if float(np.max(b - t)) < 1e-4:
        return None
    return np.concatenate([xy(x, t), xy(x[::-1], b[::-1])])


class EyeShape(NamedTuple):
    upper: np.ndarray  # upper lid line, inner to outer corner
    lower: np.ndarray  # lower lid line, inner to outer corner
    crease: np.ndarray  # lid fold above the upper lid
    iris: np.ndarray | None  # iris clipped by the lids
    pupil: np.ndarray | None
    center: tuple[float, float]
    iris_r: float
    side: int

    def lids_at(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Upper and lower lid heights at ``x``; equal outside the eye, so clipped shapes vanish there."""
        xs = self.upper[:, 0] if self.side > 0 else self.upper[::-1, 0]
        up = self.upper[:, 1] if self.side > 0 else self.upper[::-1, 1]
        lo = self.lower[:, 1] if self.side > 0 else self.lower[::-1, 1]
        u = np.interp(x, xs, up)
        d = np.interp(x, xs, lo)
        outside = (x <= xs[0]) | (x >= xs[-1])
        return np.where(outside, d, u), d


def clipped_disc(eye: EyeShape, cx: float, cy: float, r: float) -> np.ndarray | None:
    """A disc inside the eye opening (iris, pupil, catchlight)."""
    x = cx - r * np.cos(_CIRCLE_A)
    h = r * np.sin(_CIRCLE_A)
    up, lo = eye.lids_at(x)
    return clipped_band(x, cy - h, cy + h, up, lo)


def eye_shape(identity: Identity, aus: ActionUnits, side: int) -> EyeShape:
    """Eye on the image ``side`` (+1 right, -1 left)."""
    s = identity.eye_size
    ew, ex = 0.19 * s, 0.41 * identity.eye_spacing
    up0, lo0 = 0.095 * s, 0.06 * s
    # AU6 pushes the lower lid up into an arc (smiling eye); AU7 raises and straightens it.
    h_lo = lo0 * (1.0 - 0.7 * aus.au7 - 0.2 * aus.au9 + 0.15 * aus.au5) - 0.085 * s * aus.au6
    h_open = up0 * (1.0 + 0.95 * aus.au5 - 0.3 * aus.au7 - 0.12 * aus.au6 - 0.15 * aus.au4 - 0.15 * aus.au9)
    h_open = max(h_open, 0.012 - h_lo)
    h_up = h_open + (-h_lo - h_open) * aus.au43

    u = _EYE_U
    bell = 1.0 - u**2
    base_y = EYE_Y + 0.012 - (0.012 + identity.eye_tilt * ew) * (u + 1.0) / 2
    x = side * (ex + u * ew)
    upper = xy(x, base_y - h_up * bell * (1.0 - 0.18 * u))
    lower = xy(x, base_y + h_lo * bell * (1.0 + 0.2 * u))
    fold = max(up0 + 0.04 * s, h_up + 0.025) - 0.03 * aus.au4
    crease = xy(x * 1.02, base_y - max(fold, h_up + 0.012) * bell**0.8 - 0.01)

    iris_r = 0.08 * s
    cx, cy = side * ex, EYE_Y - 0.004
    eye = EyeShape(upper, lower, crease, None, None, (cx, cy), iris_r, side)
    return eye._replace(iris=clipped_disc(eye, cx, cy, iris_r), pupil=clipped_disc(eye, cx, cy, 0.45 * iris_r))


def brow_polygon(identity: Identity, aus: ActionUnits, side: int) -> np.ndarray:
    """Filled brow on the image ``side``: thick at the inner end, tapering outwards."""
    arch = identity.brow_arch
    inner = np.array([0.13 - 0.05 * aus.au4 - 0.02 * aus.au9, BROW_Y + 0.02])
    middle = np.array([0.4, BROW_Y - 0.035 - 0.06 * arch])
    outer = np.array([0.68, BROW_Y + 0.035 - 0.03 * arch])
    inner[1] += -0.2 * aus.au1 - 0.03 * aus.au2 + 0.13 * aus.au4 + 0.06 * aus.au9
    middle[1] += -0.07 * aus.au1 - 0.12 * aus.au2 + 0.085 * aus.au4 + 0.04 * aus.au9
    outer[1] += -0.01 * aus.au1 - 0.12 * aus.au2 + 0.02 * aus.au4 + 0.02 * aus.au9

    t = _BROW_T[:, None]
    control = 2.0 * middle - 0.5 * (inner + outer)
    curve = (1 - t) ** 2 * inner + 2 * (1 - t) * t * control + t**2 * outer
    tangent = 2 * (1 - t) * (control - inner) + 2 * t * (outer - control)
    normal = xy(-tangent[:, 1], tangent[:, 0]) / np.linalg.norm(tangent, axis=1, keepdims=True)
    thick = 0.038 * identity.brow_thickness * (1.0 + 0.2 * aus.au4) * (1.15 - 0.85 * _BROW_T**1.5)
    half = thick[:, None] * normal
    poly = np.concatenate([curve + half, (curve - half)[::-1]])
    poly[:, 0] *= side
    return poly


class NoseShape(NamedTuple):
    shade: np.ndarray  # side of the nose away from the light
    base: np.ndarray  # line under the tip, ala to ala
    nostrils: tuple[np.ndarray, np.ndarray]
    ridge: np.ndarray  # bridge to tip, drawn as the head turns
    shade_lift: np.ndarray
    base_lift: np.ndarray
    ridge_lift: np.ndarray


def nose_shape(identity: Identity, aus: ActionUnits, light_side: float) -> NoseShape:
    """Cartoon nose; ``light_side`` is the sign of the light's x, the shaded side is opposite."""
    tip_y = nose_tip_y(identity) - 0.025 * aus.au9
    nw = 0.085 * identity.nose_width * (1.0 + 0.18 * aus.au9)
    ala_y = tip_y - 0.015 - 0.02 * aus.au9
    d = -1.0 if light_side > 0 else 1.0
    shade = np.array(
        [
            [0.0, EYE_Y + 0.04],
            [d * 0.045, (EYE_Y + tip_y) / 2],
            [d * 0.065, tip_y - 0.045],
            [d * nw, ala_y],
            [d * 0.5 * nw, tip_y + 0.03],
            [0.0, tip_y + 0.035],
        ]
    )
    shade_lift = np.array([0.06, 0.17, 0.25, 0.06, 0.14, 0.2])
    bx = np.array([-1.0, -0.75, -0.35, 0.0, 0.35, 0.75, 1.0])
    base = xy(bx * nw, ala_y + np.array([0.0, 0.03, 0.04, 0.045, 0.04, 0.03, 0.0]))
    base_lift = np.array([0.05, 0.08, 0.15, 0.2, 0.15, 0.08, 0.05])
    nostrils = (
        ellipse(-0.45 * nw, ala_y + 0.03, 0.022 * (1 + 0.3 * aus.au9), 0.011),
        ellipse(0.45 * nw, ala_y + 0.03, 0.022 * (1 + 0.3 * aus.au9), 0.011),
    )
    ridge = np.array([[0.0, EYE_Y + 0.02], [0.0, (EYE_Y + tip_y) / 2], [0.0, tip_y]])
    ridge_lift = np.array([0.05, 0.16, 0.3])
    return NoseShape(shade, base, nostrils, ridge, shade_lift, base_lift, ridge_lift)


class MouthShape(NamedTuple):
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    opening: np.ndarray | None
    tongue: np.ndarray | None
    upper_teeth: np.ndarray | None
    lower_teeth: np.ndarray | None
    lip_line: np.ndarray  # between the lips
    corners: np.ndarray  # (2, 2) left and right corner
    chin_drop: float


def mouth_shape(identity: Identity, aus: ActionUnits) -> MouthShape:
    u = _MOUTH_U
    au12, au20, au23, au26, au16 = aus.au12, aus.au20, aus.au23, aus.au26, aus.au16
    my = mouth_y(identity)
    drop = JAW_DROP * au26
    mw = (
        0.25
        * identity.mouth_width
        * (1.0 + 0.24 * au12 + 0.32 * au20 - 0.22 * au23 - 0.08 * au26 * (1.0 - au20) + 0.06 * au16)
    )
    corner = -0.13 * au12 + 0.1 * aus.au15 + 0.025 * au20 + 0.02 * au16 + 0.012 * au23 - 0.01 * aus.au9
    center = my + corner * np.abs(u) ** 1.7 - 0.012 * au12 * (1.0 - u**2)
    bell = 1.0 - u**2
    raise_up = (
        0.055 * aus.au9 * np.sqrt(bell) + 0.035 * au12**2 * bell**0.8 + 0.035 * au26 * bell + 0.02 * au20 * bell**0.5
    )
    box = max(au16, au20, au12**2)
    open_lo = (drop + 0.055 * au12**2 + 0.04 * au20) * bell ** (1.0 - 0.6 * box) + 0.11 * au16 * bell**0.35
    upper_inner = center - raise_up
    lower_inner = center + open_lo
    thin = 1.0 - 0.75 * au23
    t_up = 0.045 * identity.lip_fullness * thin * (1.0 - 0.3 * au12) * (1.0 - 0.3 * au20)
    t_lo = 0.06 * identity.lip_fullness * thin * (1.0 - 0.25 * au12) * (1.0 - 0.25 * au20)
    upper_outer = upper_inner - t_up * np.sqrt(bell) * (1.0 - 0.35 * np.exp(-((u / 0.18) ** 2)))
    lower_outer = lower_inner + t_lo * bell**0.6

    x = u * mw
    upper_lip = np.concatenate([xy(x, upper_outer), xy(x[::-1], upper_inner[::-1])])
    lower_lip = np.concatenate([xy(x, lower_inner), xy(x[::-1], lower_outer[::-1])])
    opening = clipped_band(x, upper_inner, lower_inner, upper_inner, lower_inner)
    tongue = teeth_up = teeth_lo = None
    if opening is not None:
        tongue = clipped_band(x, lower_inner - 0.25 * drop * np.sqrt(bell), lower_inner, upper_inner, lower_inner)
        teeth_up = clipped_band(x, my - 0.06 + 0 * u, my + 0.04 - 0.02 * u**2, upper_inner, lower_inner)
        teeth_lo = clipped_band(x, my + 0.035 + drop - 0.02 * u**2, my + 0.13 + drop + 0 * u, upper_inner, lower_inner)
    lip_line = xy(x, (upper_inner + lower_inner) / 2 if opening is None else upper_inner)
    corners = np.array([[x[0], center[0]], [x[-1], center[-1]]])
    return MouthShape(upper_lip, lower_lip, opening, tongue, teeth_up, teeth_lo, lip_line, corners, drop)


class Wrinkle(NamedTuple):
    lines: list[np.ndarray]
    strength: float


def _arc(x0: float, y0: float, x1: float, y1: float, bend: float, n: int = 6) -> np.ndarray:
    """Quadratic arc from (x0, y0) to (x1, y1) whose middle is pushed ``bend`` along the normal."""
    t = _ARC_T[n]
    p0, p1 = np.array([x0, y0]), np.array([x1, y1])
    d = p1 - p0
    ctrl = (p0 + p1) / 2 + 2 * bend * np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1


def _mirror(lines: list[np.ndarray]) -> list[np.ndarray]:
    return lines + [line * np.array([-1.0, 1.0]) for line in lines]


def wrinkles(identity: Identity, aus: ActionUnits, eye: EyeShape, mouth: MouthShape) -> list[Wrinkle]:
    """Skin folds that appear with the AUs, one group per AU with its strength in [0, 1]."""
    out = []
    if aus.au1 > 0.0:
        out.append(Wrinkle([_arc(-0.2, BROW_Y - dy, 0.2, BROW_Y - dy, -0.015) for dy in (0.2, 0.29, 0.38)], aus.au1))
    if aus.au2 > 0.0:
        out.append(
            Wrinkle(
                _mirror([_arc(0.22, BROW_Y - dy, 0.58, BROW_Y - dy + 0.03, 0.02) for dy in (0.22, 0.31, 0.4)]), aus.au2
            )
        )
    if aus.au4 > 0.0:
        out.append(Wrinkle(_mirror([_arc(0.045, BROW_Y + 0.16, 0.06, BROW_Y + 0.01, -0.012)]), aus.au4))
    if aus.au9 > 0.0:
        tip = nose_tip_y(identity)
        bridge = [_arc(-0.06, EYE_Y + dy, 0.06, EYE_Y + dy, 0.01, 4) for dy in (0.02, 0.07)]
        sides = _mirror([_arc(0.065, tip - 0.12, 0.1, tip - 0.07, 0.005, 3)])
        out.append(Wrinkle(bridge + sides, aus.au9))
    if aus.au6 > 0.0:
        ox, oy = eye.upper[-1]
        feet = [_arc(ox + 0.03, oy + dy, ox + 0.11, oy + 1.8 * dy, 0.0, 3) for dy in (-0.025, 0.025)]
        cheek = [_arc(ox - 0.3, EYE_Y + 0.14, ox + 0.02, EYE_Y + 0.1, 0.025)]
        out.append(Wrinkle(_mirror(feet + cheek), aus.au6))
    if aus.au7 > 0.0:
        lower = eye.lower[1:-1] + np.array([0.0, 0.03])
        out.append(Wrinkle(_mirror([lower]), aus.au7))
    fold = max(aus.au12, 0.7 * aus.au9, 0.5 * aus.au20)
    if fold > 0.0:
        (cx, cy) = mouth.corners[1]
        tip = nose_tip_y(identity)
        nw = 0.085 * identity.nose_width
        out.append(Wrinkle(_mirror([_arc(nw + 0.04, tip - 0.03, cx + 0.05, cy + 0.07, -0.04)]), fold))
    if aus.au15 > 0.0:
        (cx, cy) = mouth.corners[1]
        out.append(Wrinkle(_mirror([_arc(cx + 0.005, cy + 0.02, cx + 0.03, cy + 0.13, -0.01, 4)]), aus.au15))
    if aus.au20 > 0.0:
        (cx, cy) = mouth.corners[1]
        out.append(Wrinkle(_mirror([_arc(cx + 0.03, cy - 0.05, cx + 0.035, cy + 0.06, -0.01, 4)]), aus.au20))
    if aus.au23 > 0.0:
        y = mouth.lower_lip[:, 1].max() + 0.045
        out.append(Wrinkle([_arc(-0.08, y, 0.08, y, 0.02, 5)], aus.au23))
    return out
