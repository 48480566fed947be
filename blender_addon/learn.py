"""Learn Directions: emotion directions for the chosen model (``backend.generator_directions``).

The preferences' model is sampled, read and fitted on the worker thread (``worker.LearnOrder``, no
bpy), with its samples stored in a work folder under the extension's user folder as they are made,
so a cancelled or interrupted run resumes and a larger sample count reuses them. The directions go
to ``<model>.directions.json`` beside the model (in the user folder when the model's folder is not
writable), with the report beside them, and become the Directions preference. Modal (progress bar,
Esc cancels) with a window, waiting for the worker otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.props import IntProperty, StringProperty
from bpy.types import Operator

from . import dependencies, preferences
from .handlers import is_rendering
from .operators import WorkerOperator
from .backend.jobs import Cancelled
from .worker import LearnedFile, LearnOrder, shared_worker, wait_order

WORK_FOLDER = "learn-directions"  # in the extension's user folder


def work_dir() -> Path:
    return Path(bpy.utils.extension_path_user(preferences.PACKAGE, path=WORK_FOLDER, create=True))


def directions_file(model: Path) -> Path:
    """Where the directions learned for ``model`` go: ``<model>.directions.json`` beside it, else
    (a folder we cannot write, like the extension's own) in the work folder."""
    name = f"{model.stem}.directions.json"
    return model.with_name(name) if os.access(model.parent, os.W_OK) else work_dir() / name


def start_learning(samples: int, faces: int = 8, reader: str = "faces") -> LearnOrder:
    """Send learn-directions for the preferences' model to the worker."""
    from .rig import resolve_model

    if samples < 2 or faces < 1:
        raise ValueError(f"Learn Directions needs at least 2 samples and 1 face, got {samples} and {faces}")
    prefs = preferences.get()
    model = resolve_model(bpy.path.abspath(prefs.model_path) if prefs and prefs.model_path else "")
    if not model.is_file():
        raise ValueError(f"{model}: no such model file")
    order = LearnOrder(model, prefs.device if prefs else "auto", reader, directions_file(model), work_dir(),
                       int(samples), int(faces))
    shared_worker().submit(order, steps=True)
    return order


def wait(order: LearnOrder) -> LearnedFile:
    """The written directions, waiting for the worker; ``Cancelled`` once cancelled."""
    return wait_order(order, lambda: f"cancelled while {order.stage or 'starting'} ({order.done}/{order.total})")


def use_directions(learned: LearnedFile) -> None:
    """Make the learned directions the Directions preference."""
    preferences.get().directions_path = str(learned.directions)


class LATENT_EMOTION_OT_learn_directions(WorkerOperator, Operator):
    """Learn the chosen model's emotion directions from its own faces; Esc cancels, a later run resumes"""

    bl_idname = "latent_emotion.learn_directions"
    bl_label = "Learn Directions"
    bl_options = {"REGISTER"}

    __annotations__ = {
        "samples": IntProperty(name="Samples", default=2000, min=2, soft_max=20000,
                               description="Faces sampled, read and fitted (stored as they are made)"),
        "faces": IntProperty(name="Calibration Faces", default=8, min=1, soft_max=64,
                             description="Held-out faces the strengths and W+ rows are calibrated on"),
        "reader": StringProperty(name="Reader", default="faces",
                                 description="What reads the faces: 'faces' (the face readers) or 'probe:PATH' "
                                             "(a probe file)"),
    }

    @classmethod
    def poll(cls, context):
        return not is_rendering() and not dependencies.missing()

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def begin(self, context) -> bool:
        """Send the model to the worker; False (and why) when there is none."""
        from .rig import RigError

        try:
            self._order = start_learning(self.samples, self.faces, self.reader)
        except (RigError, ValueError) as e:
            self.report({"ERROR"}, f"Learn Directions: {e}")
            return False
        return True

    def status(self, order: LearnOrder) -> str:
        return f"Learning directions: {order.stage or 'loading'} {order.done}/{order.total or '?'} (resumable)"

    def _finish(self, context):
        from .backend.files import FileError

        try:
            learned = wait(self._order)
        except Cancelled as e:
            self.report({"WARNING"}, f"Learn Directions {e}; the samples made are kept for the next run")
            return {"CANCELLED"}
        except (OSError, ValueError, FileError) as e:  # a model we cannot load, a reader that reads nothing
            self.report({"ERROR"}, f"Learn Directions: {e}")
            return {"CANCELLED"}
        use_directions(learned)
        skipped = "".join(f"; no {name} direction ({why})" for name, why in learned.skipped)
        self.report({"INFO"}, f"Wrote {learned.directions.name} from {learned.readable} of {learned.samples} faces "
                              f"({learned.made} made now){skipped}; it is now the Directions preference")
        return {"FINISHED"}


CLASSES = (LATENT_EMOTION_OT_learn_directions,)
