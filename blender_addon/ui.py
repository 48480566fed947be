"""Panels (3D View and Sequencer sidebars, tab "Emotion") and menu entries."""

import textwrap
from pathlib import Path

import bpy
from bpy.types import Panel

from . import compat
from .backend.animation.channels import CHANNELS
from .capture import LATENT_EMOTION_OT_key_from_video, movie_strips
from .describe import LATENT_EMOTION_OT_describe
from .faces import VIEW_TRANSFORM
from .install import draw_install
from .operators import (
    LATENT_EMOTION_OT_add_face,
    LATENT_EMOTION_OT_add_strip,
    LATENT_EMOTION_OT_bake,
    LATENT_EMOTION_OT_relink,
    LATENT_EMOTION_OT_sync_channels,
    active_target,
)
from .photo import LATENT_EMOTION_OT_face_from_photo, photo_images
from .properties import FACE_CODE, channel_names, settings_of
from .records import is_recorded
from .rig import DEFAULT_RECORD, short
from .script_import import LATENT_EMOTION_OT_import_script
from .state import GENERAL, STATE, value_key
from .targets import folder


def _label(name: str) -> str:
    return name.replace("_", " ").title()


def draw_face(layout, context, add_operator: str) -> None:
    """The main panel: installation state, or the active face's settings and channels."""
    if draw_install(layout):
        return
    target = active_target(context)
    if target is None:
        layout.label(text="No emotion face selected")
        layout.operator(add_operator, icon="ADD")
        return
    settings = settings_of(target)
    draw_error(layout, target)
    scene = target.id_data if compat.is_strip(target) else context.scene
    if scene.view_settings.view_transform != VIEW_TRANSFORM:
        box = layout.box()
        box.label(text=f"View transform {scene.view_settings.view_transform} changes", icon="INFO")
        box.label(text=f"the face's colours: {VIEW_TRANSFORM} keeps them", icon="BLANK1")
    draw_record(layout, target)
    col = layout.column()
    col.prop(settings, "seed")
    col.prop(settings, "truncation")
    col.prop(settings, "resolution")
    draw_photo(layout, target, settings)
    col = layout.column(align=True)
    col.label(text="Channels")
    for c in CHANNELS:
        col.prop(settings, c.name)
    for item in settings.extra:
        col.prop(item, "value", text=_label(item.name))
    layout.operator(LATENT_EMOTION_OT_sync_channels.bl_idname, icon="FILE_REFRESH")
    row = layout.row(align=True)
    op = row.operator(LATENT_EMOTION_OT_bake.bl_idname, text="Bake", icon="RENDER_ANIMATION")
    op.scope, op.preview = "ACTIVE", False
    op = row.operator(LATENT_EMOTION_OT_bake.bl_idname, text="Bake Preview")
    op.scope, op.preview = "ACTIVE", True
    op = layout.operator(LATENT_EMOTION_OT_bake.bl_idname, text="Bake All Faces")
    op.scope, op.preview = "ALL", False
    layout.prop(scene, "latent_emotion_cache")
    layout.operator(LATENT_EMOTION_OT_import_script.bl_idname, text="Import Emotion Script", icon="IMPORT")
    draw_capture(layout, context)
    col = layout.column(align=True)
    col.prop(settings, "description_text", text="")
    col.operator(LATENT_EMOTION_OT_describe.bl_idname, icon="TEXT")


def draw_record(layout, target) -> None:
    """The face's generator and directions, and Relink buttons."""
    settings = settings_of(target)
    box = layout.box()
    box.label(text="Generator", icon="FILE_3D")
    if not is_recorded(settings):
        box.label(text="The preferences' (recorded when the file is saved)", icon="INFO")
    for which, recorded, fingerprint in (("MODEL", settings.model_file, settings.model_fingerprint),
                                         ("DIRECTIONS", settings.directions_file, settings.directions_fingerprint)):
        if not recorded:
            continue
        row = box.row(align=True)
        row.label(text=f"{Path(recorded).name if recorded != DEFAULT_RECORD else recorded} {short(fingerprint)[:8]}")
        op = row.operator(LATENT_EMOTION_OT_relink.bl_idname, text="Relink", icon="FILEBROWSER")
        op.which = which


def draw_photo(layout, target, settings) -> None:
    """Face from Photo: the button, and the aligned photo beside its reconstruction."""
    row = layout.row(align=True)
    row.operator(LATENT_EMOTION_OT_face_from_photo.bl_idname, icon="IMAGE_DATA")
    if settings.get(FACE_CODE) is None:
        return
    row.prop(settings, "use_photo", text="", icon="CHECKBOX_HLT" if settings.use_photo else "CHECKBOX_DEHLT")
    images = photo_images(target)
    if images:
        row = layout.row()
        for image in images:
            image.preview_ensure()
            row.template_icon(icon_value=image.preview.icon_id, scale=5.0)


def draw_capture(layout, context) -> None:
    """Key Channels from Video: a file, or (in the sequencer) each movie strip."""
    layout.operator(LATENT_EMOTION_OT_key_from_video.bl_idname, icon="FILE_MOVIE")
    space = getattr(context, "space_data", None)
    if space is not None and space.type == "SEQUENCE_EDITOR":
        for strip in movie_strips(compat.sequencer_scene(context))[:8]:
            op = layout.operator(LATENT_EMOTION_OT_key_from_video.bl_idname, text=f"Key from {strip.name}",
                                 icon="SEQUENCE")
            op.strip = strip.name


def draw_error(layout, target) -> None:
    """What went wrong with this face's frames (preview, render), until its next frame is made."""
    where = folder(target)
    message = STATE.error_for(str(where) if where is not None else GENERAL, value_key(settings_of(target).uid))
    if not message:
        return
    box = layout.box()
    for i, line in enumerate(textwrap.wrap(message, 48)):
        box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")


def draw_advanced(layout, context) -> None:
    """Per-channel strength and W+ rows."""
    target = active_target(context)
    if target is None:
        return
    settings = settings_of(target)
    for name in channel_names(settings):
        item = settings.tuning.get(name)
        if item is None:
            continue
        box = layout.box()
        row = box.row()
        row.label(text=_label(name))
        row.prop(item, "strength")
        row = box.row(align=True)
        row.prop(item, "use_layers")
        sub = row.row(align=True)
        sub.active = item.use_layers
        sub.prop(item, "layer_start", text="From")
        sub.prop(item, "layer_stop", text="To")


class _FacePanel:
    bl_region_type = "UI"
    bl_category = "Emotion"
    bl_label = "Emotion Face"


class _AdvancedPanel(_FacePanel):
    bl_label = "Advanced"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return active_target(context) is not None

    def draw(self, context):
        draw_advanced(self.layout, context)


class VIEW3D_PT_latent_emotion(_FacePanel, Panel):
    bl_space_type = "VIEW_3D"

    def draw(self, context):
        draw_face(self.layout, context, LATENT_EMOTION_OT_add_face.bl_idname)


class VIEW3D_PT_latent_emotion_advanced(_AdvancedPanel, Panel):
    bl_space_type = "VIEW_3D"
    bl_parent_id = "VIEW3D_PT_latent_emotion"


class SEQUENCER_PT_latent_emotion(_FacePanel, Panel):
    bl_space_type = "SEQUENCE_EDITOR"

    def draw(self, context):
        draw_face(self.layout, context, LATENT_EMOTION_OT_add_strip.bl_idname)


class SEQUENCER_PT_latent_emotion_advanced(_AdvancedPanel, Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_parent_id = "SEQUENCER_PT_latent_emotion"


def _menu_add_face(self, context):
    self.layout.operator(LATENT_EMOTION_OT_add_face.bl_idname, icon="USER")


def _menu_add_strip(self, context):
    self.layout.operator(LATENT_EMOTION_OT_add_strip.bl_idname, icon="USER")


def _menu_import(self, context):
    self.layout.operator(LATENT_EMOTION_OT_import_script.bl_idname, text="Emotion Script (.txt)")


CLASSES = (VIEW3D_PT_latent_emotion, VIEW3D_PT_latent_emotion_advanced, SEQUENCER_PT_latent_emotion,
           SEQUENCER_PT_latent_emotion_advanced)
MENUS = (("VIEW3D_MT_add", _menu_add_face), ("SEQUENCER_MT_add", _menu_add_strip),
         ("TOPBAR_MT_file_import", _menu_import))


def register_menus() -> None:
    for menu, fn in MENUS:
        getattr(bpy.types, menu).append(fn)


def unregister_menus() -> None:
    for menu, fn in MENUS:
        getattr(bpy.types, menu).remove(fn)
