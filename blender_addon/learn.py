"""Learn Directions: emotion directions for the chosen model (``backend.learning.self_labelled``).

The preferences' model is sampled, read and fitted on the worker thread (``learn_job``, no
bpy), with its samples stored in a work folder under the extension's user folder as they are made,
so a cancelled or interrupted run resumes and a larger sample count reuses them. The directions go
to a new file — never one that exists, which a face may use — in the extension's user folder
(``directions/``; the extension's install folder is replaced by an update) or, asked for, beside the
saved .blend, with the report beside them. They become the Directions preference (what new faces
take) only when asked and only when every built-in channel was learned (``use_incomplete`` says
otherwise); faces of the open file that followed the preference first record the files they use
(``records``), so no face changes its directions without its own Relink. Modal (progress bar, Esc
cancels) with a window, waiting for the worker otherwise. Not undoable: it writes files and the
preferences, which Blender's undo does not hold.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty
from bpy.types import Operator

from . import dependencies, preferences
from .handlers import is_rendering
from .operators import WorkerOperator
from .learn_job import LearnedFile, LearnOrder
from .worker import shared_worker, wait_order

WORK_FOLDER = "learn-directions"  # in the extension's user folder
OUT_FOLDER = "directions"  # in the extension's user folder: where learned directions go


def work_dir() -> Path:
    return Path(bpy.utils.extension_path_user(preferences.PACKAGE, path=WORK_FOLDER, create=True))


def directions_file(model: Path, next_to_blend: bool = False) -> Path:
    """A new file for the directions learned for ``model``: ``<model>.directions.json`` (``-2``,
    ``-3``... when taken) in the user folder, or beside the saved .blend with ``next_to_blend``."""
    if next_to_blend and bpy.data.filepath:
        folder = Path(bpy.data.filepath).parent
    else:
        folder = Path(bpy.utils.extension_path_user(preferences.PACKAGE, path=OUT_FOLDER, create=True))
    for n in range(1, 10000):
        path = folder / f"{model.stem}.directions{'' if n == 1 else f'-{n}'}.json"
        if not path.exists():
            return path
    raise ValueError(f"{folder}: no free name for {model.stem}.directions.json")


def start_learning(samples: int, faces: int = 8, reader: str = "faces", next_to_blend: bool = False) -> LearnOrder:
    """Send learn-directions for the preferences' model to the worker."""
    from .rig import resolve_model

    if samples < 2 or faces < 1:
        raise ValueError(f"Learn Directions needs at least 2 samples and 1 face, got {samples} and {faces}")
    prefs = preferences.get()
    model = resolve_model(bpy.path.abspath(prefs.model_path) if prefs and prefs.model_path else "")
    if not model.is_file():
        raise ValueError(f"{model}: no such model file")
    order = LearnOrder(model, prefs.device if prefs else "auto", reader, directions_file(model, next_to_blend), work_dir(),
                       int(samples), int(faces))
    shared_worker().submit(order, steps=True)
    return order


def wait(order: LearnOrder) -> LearnedFile:
    """The written directions, waiting for the worker; ``Cancelled`` once cancelled."""
    return wait_order(order, lambda: f"cancelled while {order.stage or 'starting'} ({order.done}/{order.total})")


def use_directions(learned: LearnedFile) -> list[str]:
    """Make the learned directions the Directions preference, after every face of the open file
    that followed the preference recorded the files it uses; the problems of those that could not."""
    from .records import complete_record
    from .targets import scene_targets

    problems = [p for scene in bpy.data.scenes for t in scene_targets(scene) if (p := complete_record(t))]
    preferences.get().directions_path = str(learned.directions)
    return problems


class LATENT_EMOTION_OT_learn_directions(WorkerOperator, Operator):
    """Learn the chosen model's emotion directions from its own faces; Esc cancels, a later run resumes"""

    bl_idname = "latent_emotion.learn_directions"
    bl_label = "Learn Directions"
    bl_options = {"REGISTER"}  # not UNDO: it writes files and the preferences (see the module's note)

    __annotations__ = {
        "samples": IntProperty(name="Samples", default=2000, min=2, soft_max=20000,
                               description="Faces sampled, read and fitted (stored as they are made)"),
        "faces": IntProperty(name="Calibration Faces", default=8, min=1, soft_max=64,
                             description="Held-out faces the strengths and W+ rows are calibrated on"),
        "reader": StringProperty(name="Reader", default="faces",
                                 description="What reads the faces: 'faces' (the face readers) or 'probe:PATH' "
                                             "(a probe file)"),
        "use_as_preference": BoolProperty(
            name="Use for New Faces", default=True,
            description="Make the learned directions the Directions preference (new faces take it; faces "
                        "already made keep the directions they were made with)"),
        "use_incomplete": BoolProperty(
            name="Even Without Every Channel", default=False,
            description="Make them the preference even when some channels were not learned (a face keyed "
                        "with such a channel does not bake with them)"),
        "next_to_blend": BoolProperty(
            name="Beside the .blend", default=False,
            description="Write the directions beside the saved .blend (shared storage) instead of the "
                        "extension's user folder"),
    }

    @classmethod
    def poll(cls, context):
        return not is_rendering() and not dependencies.missing()

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def start(self, context) -> LearnOrder:
        """Send the model to the worker (RigError, ValueError when there is none)."""
        return start_learning(self.samples, self.faces, self.reader, self.next_to_blend)

    def status(self, order: LearnOrder) -> str:
        return f"Learning directions: {order.stage or 'loading'} {order.done}/{order.total or '?'} (resumable)"

    def cancelled_report(self, order: LearnOrder) -> str:
        return (f"Learn Directions cancelled while {order.stage or 'starting'} ({order.done}/{order.total}); "
                "the samples made are kept for the next run")

    def apply(self, context, learned: LearnedFile):
        wrote = f"Wrote {learned.directions} from {learned.readable} of {learned.samples} faces ({learned.made} made now)"
        if learned.missing:
            why = dict(learned.skipped)
            missing = ", ".join(f"{name} ({why[name]})" if name in why else name for name in learned.missing)
            wrote += f"; no direction learned for {missing}"
        if not self.use_as_preference:
            self.report({"WARNING"} if learned.missing else {"INFO"}, wrote + "; the preferences are unchanged")
            return {"FINISHED"}
        if learned.missing and not self.use_incomplete:
            self.report({"WARNING"}, wrote + ": NOT made the Directions preference (faces keyed with those "
                                             "channels would not bake); more samples may learn them")
            return {"FINISHED"}
        problems = use_directions(learned)
        for problem in problems:
            self.report({"WARNING"}, problem)
        self.report({"WARNING"} if learned.missing else {"INFO"},
                    wrote + "; it is now the Directions preference for new faces (faces already made keep theirs)")
        return {"FINISHED"}


CLASSES = (LATENT_EMOTION_OT_learn_directions,)
