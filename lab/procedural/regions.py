"""Where a face's expression shows: a soft mask over the brows, eyes and mouth of a render; and
the skin between them (``skin_region``), where an expression should change no colour.

Pixel losses weigh hair, clothes and background by their area, while the brows, eyes and mouth
that carry every expression cover a few percent of the image; the fit's region term
(``lab.fit.loss``) uses this mask to weigh them up. It is computed from the same shapes the
renderer draws, so it follows the head turn, the jaw drop and each identity's proportions.
"""

from __future__ import annotations

import cv2
import numpy as np

from lab.procedural.features import brow_polygon, eye_shape, mouth_shape
from lab.procedural.geometry import FACE_SCALE, HeadShape, View
from lab.procedural.params import FaceParams

MARGIN = 0.08  # face units added around each feature (folds and wrinkles next to it move too)


def feature_regions(params: FaceParams, size: int = 128) -> np.ndarray:
    """A ``size`` x ``size`` float32 mask in [0, 1]: 1 on and around the brows, eyes and mouth,
    falling off smoothly, 0 elsewhere."""
    ident, aus = params.identity, params.aus
    mouth = mouth_shape(ident, aus)
    head = HeadShape(ident.face_width, ident.face_length, ident.jaw_width, ident.chin_squareness, mouth.chin_drop)
    view = View(size, params.yaw)
    shapes = [np.concatenate([mouth.upper_lip, mouth.lower_lip])]
    for side in (-1, 1):
        eye = eye_shape(ident, aus, side)
        shapes.append(np.concatenate([eye.crease, eye.lower]))
        shapes.append(brow_polygon(ident, aus, side))
    mask = np.zeros((size, size), np.uint8)
    for pts in shapes:
        hull = cv2.convexHull(np.round(view.surface(head, pts)).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255)
    margin = max(1, int(round(MARGIN * FACE_SCALE * size)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1,) * 2))
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), sigmaX=margin / 2)
    return np.clip(soft, 0.0, 1.0)


def skin_region(params: FaceParams, size: int = 128, shrink: float = 3 / 128) -> np.ndarray:
    """A ``size`` x ``size`` bool mask: inside the face outline, shrunk by ``shrink`` of the image
    size, and outside every pixel ``feature_regions`` touches (brows, eyes, mouth and their margin)."""
    ident = params.identity
    head = HeadShape(ident.face_width, ident.face_length, ident.jaw_width, ident.chin_squareness,
                     mouth_shape(ident, params.aus).chin_drop)
    outline = np.round(View(size, params.yaw).face_outline(head, head.outline())).astype(np.int32)
    face = np.zeros((size, size), np.uint8)
    cv2.fillPoly(face, [outline], 255)
    r = max(1, int(round(shrink * size)))
    face = cv2.erode(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    return (face > 0) & (feature_regions(params, size) < 0.05)
