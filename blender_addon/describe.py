"""Describe: a face's channels keyed from a description in plain English (``backend.language``).

The description becomes an emotion script (``describe``: our word tables, and the sentence model
of ``models/text/`` for phrasing they do not know, when the extension has it), which is keyed like
an imported script from the current frame and kept in a text datablock, where it can be read,
edited and imported again. Words that were not understood are reported, never dropped silently.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Operator

from . import compat, dependencies
from .handlers import is_rendering
from .keyframes import INTERPOLATIONS, key_channels, key_script, scene_fps
from .operators import active_target
from .properties import face_settings, settings_of
from .state import STATE


def phrase_reader() -> tuple:
    """The sentence model's phrase reader and a note (None, and why, when the model is missing);
    loaded once."""
    if STATE.phrase_reader is None:
        from .backend.language.embedding import load_phrase_reader

        STATE.phrase_reader = load_phrase_reader()
    return STATE.phrase_reader


def text_name(target) -> str:
    return f"Emotion Description: {target.name}"


def describe_keys(target, text: str, *, start: int, fps: float, interpolation: str = "LINEAR",
                  replace: bool = False, use_text_model: bool = True):
    """Key ``text`` on the face from scene frame ``start``, starting from the face's values there
    (what is keyed before stays: "her smile fades" fades the smile it has); the ``Description``
    (script, words not understood) and the keyed frames. Raises ``LanguageError`` when nothing in
    it can be keyed, ValueError for a start that is no frame."""
    from .backend.animation.channels import CHANNEL_NAMES
    from .backend.animation.script import parse_script
    from .backend.language import describe
    from .keyframes import checked_frame
    from .targets import frame_values

    start = int(checked_frame(start, "start"))
    scene = target.id_data if compat.is_strip(target) else bpy.context.scene
    now = {name: float(v[0]) for name, v in frame_values(scene, target, [start]).items()}
    interpret, note = phrase_reader() if use_text_model else (None, "sentence model not used")
    description = describe(text, fps=fps, interpret=interpret, model_note=note,
                           start={name: now[name] for name in CHANNEL_NAMES})
    extra = [item.name for item in face_settings(target).extra]
    script = parse_script(description.script, extra_channels=extra)
    keyed = key_script(target, script, start=start, interpolation=interpolation, replace=replace)
    # The script's frame 0 is the start face (all channels 0 in the script format): the face's own values.
    key_channels(target, start, {name: now[name] for name in CHANNEL_NAMES}, interpolation)
    return description, keyed


def show_script(target, description) -> bpy.types.Text:
    """The description's script, with its report as comments, in the face's text datablock."""
    name = text_name(target)
    text = bpy.data.texts.get(name) or bpy.data.texts.new(name)
    text.clear()
    report = description.report()
    text.write(description.script + "".join(f"# {line}\n" for line in report.splitlines()))
    return text


class LATENT_EMOTION_OT_describe(Operator):
    """Key the face's channels from its description in plain English, from the current frame"""

    bl_idname = "latent_emotion.describe"
    bl_label = "Describe"
    bl_options = {"REGISTER", "UNDO"}

    __annotations__ = {
        "text": StringProperty(name="Description", default="",
                               description="What the face does (empty: the face's Description field)"),
        "use_current_frame": BoolProperty(name="From Current Frame", default=True,
                                          description="Key from the scene's current frame, else from Start Frame"),
        "start_frame": IntProperty(name="Start Frame", default=1),
        "interpolation": EnumProperty(name="Interpolation", items=INTERPOLATIONS, default="BEZIER"),
        "replace": BoolProperty(name="Replace Keys", default=False,
                                description="Remove the face's earlier channel keys first"),
    }

    @classmethod
    def poll(cls, context):
        return active_target(context) is not None and not is_rendering() and not dependencies.missing()

    def execute(self, context):
        from .backend.language import LanguageError

        target = active_target(context)
        text = self.text or settings_of(target).description_text
        if not text.strip():
            self.report({"ERROR"}, "Nothing to describe: write what the face does in its Description field")
            return {"CANCELLED"}
        scene = target.id_data if compat.is_strip(target) else context.scene
        start = scene.frame_current if self.use_current_frame else self.start_frame
        try:
            description, keyed = describe_keys(target, text, start=start, fps=scene_fps(scene),
                                               interpolation=self.interpolation, replace=self.replace)
        except (LanguageError, ValueError) as e:
            self.report({"ERROR"}, f"Describe: {e}")
            return {"CANCELLED"}
        shown = show_script(target, description)
        if description.unknown:
            words = ", ".join(repr(u.word) for u in description.unknown)
            self.report({"WARNING"}, f"Not understood: {words} (see the text {shown.name!r})")
        self.report({"INFO"}, f"Keyed {len(keyed)} keyframes, frames {keyed[0]}–{keyed[-1]}; "
                              f"the script is in the text {shown.name!r}")
        return {"FINISHED"}


CLASSES = (LATENT_EMOTION_OT_describe,)
