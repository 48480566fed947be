"""The one place where Blender versions differ (4.2 LTS to 5.x). Nothing else checks versions.

- 4.4 renamed ``Sequence`` to ``Strip`` (``ImageSequence`` to ``ImageStrip``) and
  ``sequences``/``sequences_all`` to ``strips``/``strips_all``; 5.0 dropped the old names.
- 4.4 made actions slot-based: F-curves live in a channelbag per slot; 5.0 dropped ``Action.fcurves``.
- EEVEE is ``BLENDER_EEVEE_NEXT`` in 4.2-4.5 and ``BLENDER_EEVEE`` again from 5.0.
- 5.0 splits the output format into ``media_type`` (image / video) and ``file_format``.
- 5.0 gives each workspace its own sequencer scene (``context.sequencer_scene``).
- 5.0 always uses nodes for materials (``Material.use_nodes`` is deprecated).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import bpy

VERSION: tuple[int, int, int] = tuple(bpy.app.version)  # type: ignore[assignment]

SLOTTED_ACTIONS = VERSION >= (4, 4, 0)
STRIP_NAMES = VERSION >= (4, 4, 0)  # Strip / strips / strips_all
MEDIA_TYPE = VERSION >= (5, 0, 0)  # ImageFormatSettings.media_type
NODES_ALWAYS = VERSION >= (5, 0, 0)  # Material.use_nodes deprecated: materials always use nodes

# The RNA base type of every sequencer strip (where the add-on registers the key of a strip's face).
STRIP_TYPE: type = bpy.types.Strip if STRIP_NAMES else bpy.types.Sequence  # type: ignore[attr-defined]

EEVEE = "BLENDER_EEVEE" if VERSION >= (5, 0, 0) else "BLENDER_EEVEE_NEXT"
WORKBENCH = "BLENDER_WORKBENCH"
CYCLES = "CYCLES"


# --- sequencer ------------------------------------------------------------------------------------

def sequencer_scene(context: bpy.types.Context) -> bpy.types.Scene | None:
    """The scene the Sequencer shows: the workspace's sequencer scene from 5.0, else the scene."""
    return getattr(context, "sequencer_scene", None) or context.scene


def strips(editor: bpy.types.SequenceEditor) -> bpy.types.bpy_prop_collection:
    """Top-level strips of a sequence editor (where new strips are made)."""
    return editor.strips if STRIP_NAMES else editor.sequences


def all_strips(scene: bpy.types.Scene) -> Iterable:
    """Every strip of the scene, inside meta strips too; empty without a sequence editor."""
    editor = scene.sequence_editor
    if editor is None:
        return ()
    return editor.strips_all if STRIP_NAMES else editor.sequences_all


def new_image_strip(scene: bpy.types.Scene, name: str, filepath: str, channel: int, frame_start: int,
                    fit_method: str = "FIT"):
    """An image strip showing ``filepath`` (one element; append more for a sequence)."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    return strips(editor).new_image(name, filepath, channel, frame_start, fit_method=fit_method)


def is_strip(value: object) -> bool:
    return isinstance(value, STRIP_TYPE)


def invalidate_strip(strip) -> None:
    """Make the sequencer re-read a strip's files (they were rewritten on disk)."""
    strip.invalidate_cache("RAW")


# --- animation ------------------------------------------------------------------------------------

def fcurves(id_data: bpy.types.ID) -> Iterator[bpy.types.FCurve]:
    """The F-curves animating ``id_data``: its action's F-curves, or from 4.4 those of its slot."""
    anim = getattr(id_data, "animation_data", None)
    action = anim.action if anim is not None else None
    if action is None:
        return iter(())
    if SLOTTED_ACTIONS:
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        bag = action_get_channelbag_for_slot(action, anim.action_slot)
        return iter(bag.fcurves) if bag is not None else iter(())
    return iter(action.fcurves)


def _variants(data_paths: str | Iterable[str]) -> set[str]:
    return {data_paths} if isinstance(data_paths, str) else set(data_paths)


def find_fcurve(id_data: bpy.types.ID, data_paths: str | Iterable[str], index: int = 0) -> bpy.types.FCurve | None:
    """The F-curve of ``data_path[index]`` on ``id_data`` (any of several spellings), or None."""
    paths = _variants(data_paths)
    for fc in fcurves(id_data):
        if fc.array_index == index and fc.data_path in paths:
            return fc
    return None


def remove_fcurve(id_data: bpy.types.ID, fcurve: bpy.types.FCurve) -> None:
    """Delete an F-curve from the action (from its slot's channelbag from 4.4)."""
    anim = id_data.animation_data
    if SLOTTED_ACTIONS:
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        action_get_channelbag_for_slot(anim.action, anim.action_slot).fcurves.remove(fcurve)
    else:
        anim.action.fcurves.remove(fcurve)


def find_driver(id_data: bpy.types.ID, data_paths: str | Iterable[str], index: int = 0) -> bpy.types.FCurve | None:
    """The driver of ``data_path[index]`` on ``id_data``, or None (drivers are not slot-based)."""
    anim = getattr(id_data, "animation_data", None)
    if anim is None:
        return None
    for path in _variants(data_paths):
        fc = anim.drivers.find(path, index=index)
        if fc is not None:
            return fc
    return None


# --- materials and output -------------------------------------------------------------------------

def use_nodes(material: bpy.types.Material) -> None:
    """Give the material a node tree (always there from 5.0, where the switch is deprecated)."""
    if not NODES_ALWAYS and not material.use_nodes:
        material.use_nodes = True


def set_output_png(render: bpy.types.RenderSettings) -> None:
    """Render output: 8-bit RGB PNG files."""
    settings = render.image_settings
    if MEDIA_TYPE:
        settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"


def set_output_mp4(render: bpy.types.RenderSettings, quality: str = "HIGH") -> None:
    """Render output: H.264 in an MPEG-4 container."""
    settings = render.image_settings
    if MEDIA_TYPE:
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    render.ffmpeg.format = "MPEG4"
    render.ffmpeg.codec = "H264"
    render.ffmpeg.constant_rate_factor = quality
