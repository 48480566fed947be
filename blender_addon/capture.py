"""Key Channels from Video: a face's nine channels keyed from a filmed performance (``backend.readers.capture``).

The video is read on the worker thread (``capture_job``: face readers, no bpy), resampled to
the scene's frame rate so that video frame i lands on scene frame ``start + i``; the main thread
keys the result, every frame or only the keyframes that keep the curves within a tolerance
(``backend.readers.capture.keyframe_indices``). The operator runs modal (progress bar, Esc cancels) when it
has a window, and waits for the worker otherwise (scripts, ``blender -b``).
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ImportHelper

from . import compat, dependencies
from .backend.animation.channels import CHANNEL_NAMES
from .handlers import is_rendering
from .keyframes import clear_channel_keys, key_channels, scene_fps
from .operators import WorkerOperator, active_target
from .capture_job import CaptureOrder
from .worker import shared_worker, wait_order

DEFAULT_TOLERANCE = 0.02  # channel units: far below what a face shows


def movie_strips(scene: bpy.types.Scene | None) -> list:
    """The scene's movie strips (where a video can come from in the sequencer)."""
    return [s for s in compat.all_strips(scene) if s.type == "MOVIE"] if scene is not None else []


def start_capture(path: str | Path, fps: float) -> CaptureOrder:
    """Send a video (a path, ``//`` relative to the .blend) to the worker; the order says how far it
    is and, at the end, its outcome."""
    order = CaptureOrder(Path(bpy.path.abspath(str(path))), float(fps))
    shared_worker().submit(order, steps=True)
    return order


def wait(order: CaptureOrder):
    """The capture's ``CaptureResult``, waiting for the worker if it is not done (no window: scripts,
    background Blender); its error raised again (``Cancelled`` once cancelled)."""
    return wait_order(order, lambda: f"cancelled after {order.done} frames")


def key_capture(target, result, start: int, tolerance: float | None = None, replace: bool = True) -> list[int]:
    """Key the nine channels of ``result`` (a ``CaptureResult``) from scene frame ``start``: every
    frame, or the keyframes within ``tolerance``; ``replace`` removes their keys in that span first.
    Returns the keyed frames."""
    from .backend.readers.capture import DECIMALS, keyframe_indices

    values = np.round(result.values, DECIMALS)
    rows = np.arange(len(values)) if tolerance is None else keyframe_indices(values, tolerance)
    if replace:
        clear_channel_keys(target, (start, start + len(values) - 1), CHANNEL_NAMES)
    for row in rows:
        key_channels(target, start + int(row), dict(zip(CHANNEL_NAMES, values[row].tolist())), "LINEAR")
    return [start + int(r) for r in rows]


def summary(result, keyed: list[int]) -> str:
    gaps = ", ".join(f"{a}-{b}" for a, b in result.gaps)
    found = int(result.found.sum())
    text = (f"Keyed {len(keyed)} frames ({keyed[0]}-{keyed[-1]}) from {len(result.values)} video frames at "
            f"{result.fps:g} fps; the face was read in {found}")
    return text + (f", missing in video frames {gaps} (interpolated)" if gaps else "")


class LATENT_EMOTION_OT_key_from_video(WorkerOperator, Operator, ImportHelper):
    """Key the face's nine channels from a video of a person's face (or a movie strip), from the current frame; Esc cancels"""

    bl_idname = "latent_emotion.key_from_video"
    bl_label = "Key Channels from Video"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ""
    __annotations__ = {
        # backend.readers.images.VIDEO_SUFFIXES (not imported here: it needs cv2, maybe not installed yet)
        "filter_glob": StringProperty(default="*.mp4;*.mov;*.mkv;*.avi;*.webm;*.m4v;*.mpg;*.mpeg;*.wmv;*.flv;*.gif",
                                      options={"HIDDEN"}),
        "strip": StringProperty(name="Movie Strip", default="",
                                description="A movie strip of the sequencer to read instead of a file: keys "
                                            "start where it starts"),
        "start_frame": IntProperty(name="Start Frame", default=1,
                                   description="Scene frame of the video's first frame"),
        "reduce": BoolProperty(name="Reduce Keys", default=True,
                               description="Keep only the keyframes needed to stay within the tolerance "
                                           "(off: a key on every frame)"),
        "tolerance": FloatProperty(name="Tolerance", default=DEFAULT_TOLERANCE, min=0.0, soft_max=0.2,
                                   precision=3, description="How far the reduced curves may stray from "
                                                            "the captured values"),
        "replace": BoolProperty(name="Replace Keys", default=True,
                                description="Remove the channels' keys within the video's frames first"),
    }

    @classmethod
    def poll(cls, context):
        return active_target(context) is not None and not is_rendering() and not dependencies.missing()

    def invoke(self, context, event):
        self.start_frame = context.scene.frame_current
        if self.strip:
            return self.execute(context)
        return ImportHelper.invoke(self, context, event)

    def _source(self, context) -> tuple[str, int] | None:
        if not self.strip:
            return self.filepath, self.start_frame
        strip = next((s for s in movie_strips(compat.sequencer_scene(context) or context.scene)
                      if s.name == self.strip), None)
        if strip is None:
            self.report({"ERROR"}, f"No movie strip named {self.strip!r} in the sequencer")
            return None
        return bpy.path.abspath(strip.filepath), int(strip.frame_start)

    def start(self, context) -> CaptureOrder | None:
        """Send the video to the worker; None (and why) when there is none."""
        source = self._source(context)
        if source is None:
            return None
        path, self._start = source
        self._target_name = active_target(context).name
        order = start_capture(path, scene_fps(context.scene))
        self._path = order.path
        return order

    def status(self, order: CaptureOrder) -> str:
        return f"Reading {self._path.name}: frame {order.done}/{order.total or '?'}"

    def cancelled_report(self, order: CaptureOrder) -> str:
        return f"Key Channels from Video cancelled ({order.done} frames read)"

    def error_report(self, error: Exception) -> str:  # MediaError, FileError: most name the file already
        return f"{self._path.name}: {error}" if self._path.name not in str(error) else str(error)

    def apply(self, context, result):
        target = self.still_active(context, "keyed")
        if target is None:
            return {"CANCELLED"}
        keyed = key_capture(target, result, self._start, self.tolerance if self.reduce else None, self.replace)
        self.report({"INFO"}, summary(result, keyed))
        return {"FINISHED"}


CLASSES = (LATENT_EMOTION_OT_key_from_video,)
