"""Frontal hair shapes for each ``HairStyle``.

A front shape is split in two: an ``outer`` edge that lies on the head's outline (projected as a
silhouette) and an ``inner`` edge that lies on the face (projected on the surface); the polygon
is ``outer`` followed by ``inner``. Back shapes are outline-only and drawn behind the head.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lab.procedural.geometry import FOREHEAD, HeadShape, clip, xy
from lab.procedural.identity import HairStyle

_SKULL_Y = -0.05


class HairShapes(NamedTuple):
    back: np.ndarray | None  # behind the head and neck
    outer: np.ndarray | None  # front hair, outline part (right temple over the top to the left)
    inner: np.ndarray | None  # front hair, face part (left to right)
    part: np.ndarray | None  # parting line on the surface
    shine: np.ndarray | None  # highlight arc on the outline part, towards the light


def _skull_arc(head: HeadShape, volume: float, a0: float, n: int = 17) -> np.ndarray:
    """Superelliptic arc over the top of the head from the right temple to the left one."""
    a = np.linspace(a0, np.pi - a0, n)
    rx = 1.07 * head.width + volume
    ry = FOREHEAD + 0.12 + volume + _SKULL_Y
    c, s = np.cos(a), np.sin(a)
    return xy(rx * np.sign(c) * np.abs(c) ** 0.8, _SKULL_Y - ry * np.sign(s) * np.abs(s) ** 0.8)


def _shine(head: HeadShape, volume: float, light: np.ndarray) -> np.ndarray:
    """Arc inside the skull outline centred on the direction of the light."""
    center = float(clip(np.arctan2(-light[1], light[0]), 0.7, np.pi - 0.7))
    a = np.linspace(center - 0.45, center + 0.45, 7)
    rx = 0.8 * (1.07 * head.width + volume)
    ry = 0.8 * (FOREHEAD + 0.12 + volume + _SKULL_Y)
    return xy(rx * np.cos(a), _SKULL_Y - ry * np.sin(a))


def _hairline(head: HeadShape, center_y: float, temple_y: float, power: float, n: int = 15) -> np.ndarray:
    """Hairline across the forehead from the left temple to the right one."""
    x = np.linspace(-0.97, 0.97, n) * head.width
    y = center_y + (temple_y - center_y) * np.abs(x / head.width / 0.97) ** power
    return xy(x, y)


def _fringe(head: HeadShape, bottom_y: float, n: int = 15) -> np.ndarray:
    line = _hairline(head, bottom_y, -0.1, 5.0, n)
    line[1:-1:2, 1] -= 0.05  # alternate locks
    return line


def _side(head: HeadShape, y_top: float, y_bottom: float, inset: float, n: int = 6) -> np.ndarray:
    """Inner edge of hair hanging along the right side of the face, top to bottom."""
    y = np.linspace(y_top, y_bottom, n)
    return xy(head.half_width(y) - inset * (1.0 + y), y)


def hair_shapes(style: HairStyle, head: HeadShape, light: np.ndarray) -> HairShapes:
    """Hair for ``style``; ``light`` is the unit direction towards the light (image axes)."""
    if style == HairStyle.BALD:
        return HairShapes(None, None, None, None, _shine(head, -0.2, light))  # a shine on the scalp
    if style in (HairStyle.SHORT, HairStyle.AFRO):
        volume = 0.06 if style == HairStyle.SHORT else 0.3
        back = None
        if style == HairStyle.AFRO:
            a = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
            r = 1.55 * head.width * (1.0 + 0.035 * np.sin(11 * a))
            back = xy(r * np.cos(a), -0.45 + 1.08 * r * np.sin(a))
        shine = _shine(head, volume, light)
        return HairShapes(back, _skull_arc(head, volume, -0.12), _hairline(head, -0.74, -0.12, 3.0), None, shine)
    if style == HairStyle.SIDE_PART:
        line = _hairline(head, -0.66, -0.12, 2.5)
        line[:, 1] += 0.09 * line[:, 0] / head.width - 0.04 * (1.0 - (line[:, 0] / head.width) ** 2)
        part = np.array([[-0.35, -0.78], [-0.37, -1.0], [-0.38, -1.2]]) * np.array([head.width, 1.0])
        return HairShapes(None, _skull_arc(head, 0.12, -0.12), line, part, _shine(head, 0.12, light))
    if style == HairStyle.FRINGE:
        return HairShapes(None, _skull_arc(head, 0.08, -0.12), _fringe(head, -0.52), None, _shine(head, 0.08, light))
    if style == HairStyle.BOB:
        back = np.concatenate(
            [
                _skull_arc(head, 0.14, -0.1),
                [
                    [-1.22 * head.width, 0.55],
                    [-1.12 * head.width, 0.8],
                    [1.12 * head.width, 0.8],
                    [1.22 * head.width, 0.55],
                ],
            ]
        )
        arc = _skull_arc(head, 0.14, -0.25)
        right = _side(head, -0.1, 0.4, 0.08)
        inner = np.concatenate([right[::-1] * np.array([-1.0, 1.0]), _fringe(head, -0.5, 13), right])
        return HairShapes(back, arc, inner, None, _shine(head, 0.14, light))
    # LONG: centre parting, hair framing the face, falling behind the shoulders.
    arc = _skull_arc(head, 0.1, -0.5)
    right = _side(head, -0.25, 0.55, 0.1)
    x = np.linspace(-0.9, 0.9, 11) * head.width
    line = xy(x, -0.86 + 0.6 * np.abs(x / head.width) ** 1.5)
    inner = np.concatenate([right[::-1] * np.array([-1.0, 1.0]), line, right])
    w = head.width
    side = np.array([[1.12 * w, 0.0], [1.2 * w, 0.7], [1.32 * w, 1.55]])
    bottom = np.array([[0.8 * w, 1.62], [0.3 * w, 1.5], [-0.3 * w, 1.5], [-0.8 * w, 1.62]])
    back = np.concatenate([_skull_arc(head, 0.1, 0.0), side * np.array([-1.0, 1.0]), bottom[::-1], side[::-1]])
    return HairShapes(back, arc, inner, None, _shine(head, 0.1, light))
