"""Face from Photo's job on the worker: a photo's face inverted into the rig's generator (no bpy here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rig import RigPaths, get_rig
from .worker import WholeOrder


@dataclass(frozen=True)
class PhotoCode:
    """A photo's face code for the rig's generator, and what the panel shows beside it."""

    w_plus: np.ndarray  # (num_ws, w_dim) float32
    fingerprint: str  # the generator's
    aligned: np.ndarray  # (res, res, 3) uint8: the photo's face, aligned
    reconstruction: np.ndarray  # (res, res, 3) uint8: G(w_plus)
    pixel_mae: float
    faces_found: int


@dataclass(eq=False)
class PhotoOrder(WholeOrder):
    """A photo inverted into the rig's generator (``backend.photos.face_code``: largest face, W then W+),
    ``done`` of ``total`` steps (``Cancelled``)."""

    path: Path
    paths: RigPaths
    steps: int

    def work(self) -> PhotoCode:
        return invert_photo(self)


def invert_photo(order: PhotoOrder) -> PhotoCode:
    """Detect, align and invert ``order``'s photo (worker only: no bpy)."""
    from .backend.photos.face_code import FaceFeatures, invert_aligned, photo_face, read_photo
    from .backend.readers.reading import FaceReaders

    rig = get_rig(order.paths)
    image, _ = read_photo(order.path)
    face = photo_face(image, rig.resolution, None, FaceReaders(crop_size=rig.resolution, device=str(rig.G.device)))
    order.total = order.steps + order.steps // 2
    features = FaceFeatures(face.box, rig.G.device)

    def progress(stage: str, done: int, _total: int) -> None:
        order.done = done if stage == "W" else order.steps + done

    result = invert_aligned(rig.G, face.aligned, steps=order.steps, features=features, progress=progress,
                            cancel=order.cancelled.is_set)
    return PhotoCode(result.w_plus.astype(np.float32), rig.info.fingerprint, result.aligned, result.reconstruction,
                     result.pixel_mae, face.found)
