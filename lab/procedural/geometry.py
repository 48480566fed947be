"""2.5-D head model: face outline, surface depth, and the yaw projection to canvas pixels.

Face units: x to the image right, y down, 1.0 is about a cheek half-width, origin between the
eyes and the mouth. Every horizontal slice of the head is an ellipse (half-width w, half-depth
``DEPTH_RATIO * w``); turning the head rotates points about the vertical axis and projects them
orthographically, so features on the far side compress and the outline stays a slice envelope.
"""

from __future__ import annotations

import numpy as np

FACE_SCALE = 0.285  # canvas pixels per face unit, as a fraction of the canvas side
FACE_CENTER = (0.5, 0.53)  # canvas position of the face origin, fractions of the side
MAX_YAW = np.radians(35.0)  # head_turn = ±1
HEAD_Z = -0.05  # depth of the skull centre; the face front is near +0.85
DEPTH_RATIO = 0.95
FOREHEAD = 1.08  # height of the face outline above the origin
JAW_PIVOT = 0.3  # the face outline above this height does not move with the jaw


def xy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N, 2) points from coordinate arrays (faster than np.stack for the small arrays used here)."""
    out = np.empty((len(x), 2))
    out[:, 0] = x
    out[:, 1] = y
    return out


def clip(a: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    return np.minimum(np.maximum(a, lo), hi)


class HeadShape:
    """Outline and depth of the face for one identity; a jaw drop stretches the face below ``JAW_PIVOT``."""

    __slots__ = ("width", "top", "rest_bottom", "bottom", "jaw", "chin_p", "front_z", "_stretch")

    def __init__(self, width: float, length: float, jaw: float, chin_p: float, drop: float = 0.0) -> None:
        self.width = width
        self.top = FOREHEAD
        self.rest_bottom = length
        self.bottom = length + drop  # the chin
        self.jaw = jaw
        self.chin_p = chin_p
        self.front_z = HEAD_Z + DEPTH_RATIO * width
        self._stretch = (length - JAW_PIVOT) / (self.bottom - JAW_PIVOT)

    def _rest_fraction(self, y: np.ndarray) -> np.ndarray:
        """Height below the origin as a fraction of the face's lower half, undoing the jaw drop."""
        y = np.where(y > JAW_PIVOT, JAW_PIVOT + (y - JAW_PIVOT) * self._stretch, y)
        return clip(y / self.rest_bottom, 0.0, 1.0)

    def half_width(self, y: np.ndarray) -> np.ndarray:
        """Face half-width at heights ``y`` (0 above the forehead and below the chin)."""
        up = clip(-y / self.top, 0.0, 1.0)
        lo = self._rest_fraction(y)
        upper = (1.0 - up**2.4) ** (1.0 / 2.4)
        lower = (1.0 - (1.0 - self.jaw) * lo**1.3) * (1.0 - lo**self.chin_p) ** (1.0 / self.chin_p)
        return self.width * np.where(y < 0.0, upper, lower)

    def slice_center(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Depth of each slice centre: the skull above the origin, a jaw that keeps the chin forward below."""
        lo = self._rest_fraction(y)
        chin_front = self.front_z - 0.2 * lo**2
        return np.where(y < 0.0, HEAD_Z, chin_front - DEPTH_RATIO * w)

    def outline(self, n: int = 18) -> np.ndarray:
        """Closed frontal outline: the right side from the top to the chin, then the left side back up."""
        a = np.linspace(0.0, np.pi / 2, n)
        y_low = self.rest_bottom * np.sin(a[1:])
        y_low = np.where(y_low > JAW_PIVOT, JAW_PIVOT + (y_low - JAW_PIVOT) / self._stretch, y_low)
        y_right = np.concatenate([-self.top * np.cos(a), y_low])
        x_right = self.half_width(y_right)
        return xy(np.concatenate([x_right, -x_right[-2:0:-1]]), np.concatenate([y_right, y_right[-2:0:-1]]))


class View:
    """Maps face units to canvas pixels for one head turn."""

    __slots__ = ("side", "cos", "sin", "scale", "cx", "cy", "squash")

    def __init__(self, side: int, yaw: float) -> None:
        angle = yaw * MAX_YAW
        self.side = side
        self.cos = float(np.cos(angle))
        self.sin = float(np.sin(angle))
        self.scale = FACE_SCALE * side
        self.cx = FACE_CENTER[0] * side
        self.cy = FACE_CENTER[1] * side
        # Horizontal extent of a slice ellipse after rotation, per unit half-width.
        self.squash = float(np.sqrt(self.cos**2 + (DEPTH_RATIO * self.sin) ** 2))

    def _pixels(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return xy(self.cx + self.scale * x, self.cy + self.scale * y)

    def flat(self, pts: np.ndarray) -> np.ndarray:
        """Points that do not turn with the head (shoulders)."""
        return self._pixels(pts[:, 0], pts[:, 1])

    def surface(self, head: HeadShape, pts: np.ndarray, lift: np.ndarray | float = 0.0) -> np.ndarray:
        """Points on the face front, raised ``lift`` units out of the surface (nose, glasses)."""
        x, y = pts[:, 0], pts[:, 1]
        w = np.maximum(head.half_width(y), 1e-3)
        r = np.minimum((x / w) ** 2, 1.0)
        z = head.slice_center(y, w) + DEPTH_RATIO * w * np.sqrt(1.0 - r) + lift
        return self._pixels(x * self.cos + z * self.sin, y)

    def silhouette(self, pts: np.ndarray, center_z: np.ndarray | float) -> np.ndarray:
        """Outline points: ``|x|`` is the half-width of a slice centred at depth ``center_z``."""
        return self._pixels(center_z * self.sin + pts[:, 0] * self.squash, pts[:, 1])

    def face_outline(self, head: HeadShape, outline: np.ndarray) -> np.ndarray:
        y = outline[:, 1]
        return self.silhouette(outline, head.slice_center(y, np.abs(outline[:, 0])))
