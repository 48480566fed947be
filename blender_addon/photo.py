"""Face from Photo: a face's start latent inverted from a photo of a person (``backend.photos.face_code``).

The photo is read, its largest face detected, FFHQ-aligned and inverted (W, then W+) on the worker
thread (``photo_job``, no bpy); the main thread stores the W+ code on the face's settings
(``properties.FACE_CODE``, saved with the .blend, so a reopened file shows the same face without
inverting again) and the aligned photo and its reconstruction as packed images shown side by side
in the panel. The frames' cache keys are their W+ codes, so the photo's frames never mix with
the seed's. Modal (progress bar, Esc cancels) with a window, waiting for the worker otherwise.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from bpy.props import IntProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ImportHelper

from . import dependencies, preferences
from .handlers import is_rendering
from .operators import WorkerOperator, active_target
from .properties import FACE_CODE, face_settings
from .photo_job import PhotoCode, PhotoOrder
from .worker import shared_worker, wait_order

DEFAULT_STEPS = 100  # W steps (and half as many in W+): backend.photos.face_code's recipe, shortened for the UI


def start_inversion(path: str | Path, steps: int = DEFAULT_STEPS, target=None) -> PhotoOrder:
    """Send a photo (a path, ``//`` relative to the .blend) to the worker for ``target``'s generator
    (``records``; without a target the preferences'). ValueError for a path that is no file: nothing
    is sent (the worker's ``read_photo`` refuses an empty or unreadable one)."""
    from .records import face_rig

    if steps < 1:
        raise ValueError(f"Face from Photo needs at least 1 step, got {steps}")
    photo = Path(bpy.path.abspath(str(path)))
    if not photo.is_file():
        raise ValueError(f"{photo}: no such photo file")
    paths = face_rig(target).paths if target is not None else preferences.rig_paths()
    order = PhotoOrder(photo, paths, int(steps))
    shared_worker().submit(order, steps=True)
    return order


def wait(order: PhotoOrder) -> PhotoCode:
    """The photo's code, waiting for the worker; ``Cancelled`` once cancelled."""
    return wait_order(order, lambda: f"cancelled after {order.done} of {order.total} steps")


def image_names(target) -> tuple[str, str]:
    return f"Emotion Photo: {target.name}", f"Emotion Reconstruction: {target.name}"


def _packed_image(name: str, pixels: np.ndarray) -> bpy.types.Image:
    """An image datablock ``name`` holding ``pixels`` (H, W, 3) uint8, packed into the .blend."""
    h, w = pixels.shape[:2]
    image = bpy.data.images.get(name)
    if image is not None and tuple(image.size) != (w, h):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(name, w, h)
        image.use_fake_user = True  # only the panel shows it: kept in the saved file all the same
    rgba = np.concatenate([pixels[::-1].astype(np.float32) / 255.0, np.ones((h, w, 1), np.float32)], axis=2)
    image.pixels.foreach_set(rgba.ravel())
    image.pack()
    return image


def apply_code(target, code: PhotoCode, photo: str | Path) -> None:
    """Make ``code`` the face's start latent, stored in its settings, and keep the photo and the
    reconstruction as images."""
    settings = face_settings(target)
    settings[FACE_CODE] = code.w_plus.ravel().astype(np.float64).tolist()  # float32 → double: exact
    settings.photo_fingerprint = code.fingerprint
    settings.photo_path = str(photo)
    for name, pixels in zip(image_names(target), (code.aligned, code.reconstruction)):
        _packed_image(name, pixels)
    settings.use_photo = True  # its update refreshes the preview


def photo_images(target) -> list[bpy.types.Image]:
    """The face's aligned photo and reconstruction images (those that exist)."""
    return [image for name in image_names(target) if (image := bpy.data.images.get(name)) is not None]


class LATENT_EMOTION_OT_face_from_photo(WorkerOperator, Operator, ImportHelper):
    """Start the face from a photo of a person: its largest face inverted into the model; Esc cancels"""

    bl_idname = "latent_emotion.face_from_photo"
    bl_label = "Face from Photo"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ""
    __annotations__ = {
        "filter_glob": StringProperty(default="*.jpg;*.jpeg;*.png;*.bmp;*.tif;*.tiff;*.webp", options={"HIDDEN"}),
        "steps": IntProperty(name="Steps", default=DEFAULT_STEPS, min=1, soft_max=1000,
                             description="Inversion steps in W (half as many follow in W+): more fit closer"),
    }

    @classmethod
    def poll(cls, context):
        return active_target(context) is not None and not is_rendering() and not dependencies.missing()

    def start(self, context) -> PhotoOrder:
        """Send the photo to the worker (RigError, ValueError when the model cannot be found)."""
        self._target_name = active_target(context).name
        return start_inversion(self.filepath, self.steps, active_target(context))

    def status(self, order: PhotoOrder) -> str:
        return f"Inverting {order.path.name}: step {order.done}/{order.total or '?'}"

    def cancelled_report(self, order: PhotoOrder) -> str:
        return f"Face from Photo cancelled ({order.done} steps done)"

    def error_report(self, error: Exception) -> str:  # no face found, not an image, no model
        return f"{self._order.path.name}: {error}"

    def apply(self, context, code):
        target = self.still_active(context, "changed")
        if target is None:
            return {"CANCELLED"}
        name = self._order.path.name
        apply_code(target, code, self.filepath)
        self.report({"INFO"}, f"The face now starts from {name} (face 1 of {code.faces_found}); pixel error "
                              f"{code.pixel_mae:.1f} of 255")
        return {"FINISHED"}


CLASSES = (LATENT_EMOTION_OT_face_from_photo,)
