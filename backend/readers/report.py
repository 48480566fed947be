"""What ``python -m backend faces`` prints and writes: a line and a JSON record per face."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..animation.channels import CHANNEL_NAMES
from .nets.mtcnn import DetectedFace
from .reading import FaceReading


def _rounded(values, digits: int = 3) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def face_record(reading: FaceReading, channel_values: np.ndarray, identity: bool = False) -> dict[str, Any]:
    """JSON-ready record of one face: box, points, expressions, geometry, channel values (and the
    128-D identity descriptor when asked)."""
    g = reading.geometry
    record = {
        "box": _rounded(reading.box, 2),
        "score": round(reading.score, 5),
        "points5": _rounded(reading.points5, 2),
        "landmarks68": _rounded(reading.landmarks, 2),
        "expression": dict(zip(reading.expression.labels, _rounded(reading.expression.values, 5))),
        "fer_expression": dict(zip(reading.fer_expression.labels, _rounded(reading.fer_expression.values, 5))),
        "geometry": {"eye_open_left": round(g.eye_open_left, 4), "eye_open_right": round(g.eye_open_right, 4),
                     "mouth_open": round(g.mouth_open, 4), "yaw": round(g.yaw, 4)},
        "channels": dict(zip(CHANNEL_NAMES, _rounded(channel_values, 4))),
    }
    if identity:
        record["identity"] = _rounded(reading.identity, 6)
    return record


def face_line(index: int, reading: FaceReading, channel_values: np.ndarray) -> str:
    """One line about one face for the terminal."""
    x1, y1, x2, y2 = reading.box
    e, f = reading.expression, reading.fer_expression
    channels = " ".join(f"{n}={v:.2f}" for n, v in zip(CHANNEL_NAMES, channel_values) if abs(v) >= 0.05)
    return (f"face {index}: box {x1:.0f},{y1:.0f}-{x2:.0f},{y2:.0f} score {reading.score:.3f}  "
            f"expression {e.top} {e[e.top]:.2f} (fer: {f.top} {f[f.top]:.2f})  channels {channels or 'all ~0'}")


def no_face_note(shape: tuple[int, ...], min_face_size: float,
                 refused: Sequence[tuple[DetectedFace, str]] = ()) -> str:
    """Why an image may have no face, for the 'no face found' message: its size, or the detections
    the readers refused (``FaceReaders.read(..., refused=...)``) and why."""
    h, w = shape[:2]
    if refused:
        whys = "; ".join(why for _, why in refused[:3]) + ("; ..." if len(refused) > 3 else "")
        return f" ({len(refused)} detection(s) not read: {whys})"
    if min(h, w) < min_face_size:
        return f" (the image is {w}x{h}; the detector finds faces of {min_face_size:g} px and more)"
    return ""
