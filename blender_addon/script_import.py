"""File › Import › Emotion Script (.txt): key the active face from the paper's text format."""

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ImportHelper

from .backend.animation.script import DEFAULT_FRAMES_BETWEEN, ScriptError, load_script
from .handlers import is_rendering
from .keyframes import INTERPOLATIONS, key_script
from .operators import active_target
from .properties import settings_of


class LATENT_EMOTION_OT_import_script(Operator, ImportHelper):
    """Key the active emotion face's channels from an emotion script: one keyframe per line"""

    bl_idname = "latent_emotion.import_script"
    bl_label = "Import Emotion Script"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".txt"
    __annotations__ = {
        "filter_glob": StringProperty(default="*.txt", options={"HIDDEN"}),
        "frames_between": IntProperty(name="In-Between Frames", default=DEFAULT_FRAMES_BETWEEN, min=0,
                                      description="Frames between two keyframes when a line gives no timing "
                                                  "(32 in the paper)"),
        "interpolation": EnumProperty(name="Interpolation", items=INTERPOLATIONS, default="LINEAR"),
        "start_frame": IntProperty(name="Start Frame", default=1,
                                   description="Scene frame of the script's frame 0 (the start face)"),
        "clip": IntProperty(name="Clip", default=0, min=0,
                            description="Which 'Video N:' clip to key (0: all clips, one after another)"),
        "replace": BoolProperty(name="Replace Keys", default=True,
                                description="Remove the face's earlier channel keys first"),
    }

    @classmethod
    def poll(cls, context):
        return active_target(context) is not None and not is_rendering()

    def invoke(self, context, event):
        self.start_frame = context.scene.frame_start
        return ImportHelper.invoke(self, context, event)

    def execute(self, context):
        target = active_target(context)
        settings = settings_of(target)
        extra = [item.name for item in settings.extra]
        try:
            script = load_script(self.filepath, frames_between=self.frames_between, extra_channels=extra)
            keyed = key_script(target, script, start=self.start_frame, clip=self.clip,
                               frames_between=self.frames_between, interpolation=self.interpolation,
                               replace=self.replace)
        except ScriptError as e:
            self.report({"ERROR"}, f"{bpy.path.basename(self.filepath)}: line {e.line}, column {e.column}: "
                                   f"{e.reason}")
            return {"CANCELLED"}
        except (OSError, ValueError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Keyed {len(keyed)} keyframes, frames {keyed[0]}–{keyed[-1]}")
        return {"FINISHED"}


CLASSES = (LATENT_EMOTION_OT_import_script,)
