"""Faces in a scene — emotion-face objects and strips — and what baking needs from them.

A target is a face object or strip (``properties.settings_of`` finds its settings). This module reads
Blender data (F-curves, strips, image users) into plain ``SequenceRequest`` values for
``baking.BakeJob``; it only reads, so render handlers may call it while a render runs.
``refresh_display`` is the one writer (main thread, never during a render).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import bpy
import numpy as np

from . import compat, preferences
from .backend.animation.channels import VALUE_LIMIT, check_channel_value
from .baking import SequenceRequest
from .properties import FACE_CODE, channel_refs, settings_of
from .rig import FaceSpec, Tuning
from .state import preview_suspended

FILE_PATTERN = "frame_{:05d}.png"
NODE_NAME = "Latent Emotion Frames"


def is_face(owner) -> bool:
    return settings_of(owner) is not None


def scene_targets(scene: bpy.types.Scene) -> list:
    """Every emotion face the scene renders: its objects, then its strips."""
    objects = [ob for ob in scene.objects if is_face(ob)]
    strips = [s for s in compat.all_strips(scene) if is_face(s)]
    return objects + strips


def label(target) -> str:
    return f"strip '{target.name}'" if compat.is_strip(target) else f"object '{target.name}'"


# --- channel values -------------------------------------------------------------------------------
#
# A channel's value at a frame is what Blender evaluates there: the active action, NLA strips (with
# their blending and influence) and drivers. Three ways to read it, each exact where it is used:
# ``values_now`` after Blender evaluated the frame (the live preview, render handlers), stepping the
# scene (``frame_values`` on the main thread: bakes, the API), and F-curves alone (``channel_values``,
# exact when no driver or NLA strip can change a channel: ``needs_evaluation``).

def channel_values(target, frames: Sequence[float]) -> dict[str, np.ndarray]:
    """channel → values (F,) at ``frames`` from the active action's F-curves (set values elsewhere);
    read-only, so safe while rendering, but blind to drivers and NLA (see ``needs_evaluation``)."""
    id_data = target.id_data
    out = {}
    for name, ref in channel_refs(target).items():
        fc = compat.find_fcurve(id_data, ref.paths)
        if fc is not None and not fc.mute and len(fc.keyframe_points):
            out[name] = np.array([fc.evaluate(f) for f in frames], dtype=np.float64)
        else:
            out[name] = np.full(len(frames), getattr(ref.struct, ref.prop), dtype=np.float64)
    return out


def values_now(target, evaluated_id=None) -> dict[str, np.ndarray]:
    """channel → (1,) value as Blender evaluated it for the current frame: read from ``evaluated_id``
    (the target's ID from a depsgraph, e.g. a render's) or else from the original data."""
    source = target.id_data if evaluated_id is None else evaluated_id
    return {name: np.array([float(source.path_resolve(ref.path))]) for name, ref in channel_refs(target).items()}


def driven_channels(target) -> list[str]:
    """Channels of the target that have a driver."""
    return [name for name, ref in channel_refs(target).items()
            if compat.find_driver(target.id_data, ref.paths) is not None]


def needs_evaluation(target) -> bool:
    """Whether the F-curves alone may be wrong: a channel has a driver, or the ID has NLA strips."""
    anim = getattr(target.id_data, "animation_data", None)
    if anim is None:
        return False
    if any(not track.mute and len(track.strips) for track in anim.nla_tracks):
        return True
    return bool(driven_channels(target))


def frame_values(scene: bpy.types.Scene, target, frames: Sequence[float]) -> dict[str, np.ndarray]:
    """channel → values (F,) at ``frames`` as Blender evaluates them (main thread, never while rendering)."""
    if needs_evaluation(target):
        return values_with_depsgraph(scene, target, frames)
    return channel_values(target, frames)


def values_with_depsgraph(scene: bpy.types.Scene, target, frames: Sequence[float]) -> dict[str, np.ndarray]:
    """Like ``channel_values`` but by stepping the scene through ``frames``, so drivers and NLA count.
    Changes the current frame (restored after): main thread only, never while rendering."""
    refs = channel_refs(target)
    rows = {name: np.empty(len(frames)) for name in refs}
    current = scene.frame_current, scene.frame_subframe
    with preview_suspended():  # stepping frames is no scrubbing: the live preview stays out
        try:
            for i, f in enumerate(frames):
                whole = math.floor(f)
                scene.frame_set(int(whole), subframe=float(f - whole))
                for name, ref in refs.items():
                    rows[name][i] = getattr(ref.struct, ref.prop)
        finally:
            scene.frame_set(current[0], subframe=current[1])
    return rows


def check_values(label: str, frames: Sequence[int], values: dict[str, np.ndarray]) -> None:
    """ChannelValueError naming the face, channel and frame of the first value outside the policy."""
    for name, row in values.items():
        bad = ~np.isfinite(row) | (np.abs(row) > VALUE_LIMIT)
        if bad.any():
            i = int(np.argmax(bad))
            check_channel_value(row[i], f"{label}: {name} at frame {frames[i]}")


def face_spec(settings) -> FaceSpec:
    tuning = {}
    for item in settings.tuning:
        layers = (item.layer_start, item.layer_stop) if item.use_layers else None
        if item.strength != 1.0 or layers is not None:
            tuning[item.name] = Tuning(float(item.strength), layers)
    code = settings.get(FACE_CODE) if settings.use_photo else None
    if code is None:
        return FaceSpec(int(settings.seed), float(settings.truncation), tuning)
    return FaceSpec(int(settings.seed), float(settings.truncation), tuning,
                    np.asarray(code.to_list(), dtype=np.float32).tobytes(), settings.photo_fingerprint)


# --- what a face shows ----------------------------------------------------------------------------

def face_image(target) -> bpy.types.Image | None:
    return None if compat.is_strip(target) else settings_of(target).image


def image_user(obj) -> bpy.types.ImageUser | None:
    """The image user of the face's frames node (its first material that shows the face's image)."""
    image = settings_of(obj).image
    for slot in obj.material_slots:
        mat = slot.material
        if mat is None or mat.node_tree is None:
            continue
        for node in mat.node_tree.nodes:
            if node.bl_idname == "ShaderNodeTexImage" and node.image == image:
                return node.image_user
    return None


def folder(target) -> Path | None:
    """The folder Blender reads the face's numbered files from (its image's or strip's path)."""
    if compat.is_strip(target):
        path = bpy.path.abspath(target.directory) if target.directory else ""
    else:
        image = face_image(target)
        path = os.path.dirname(bpy.path.abspath(image.filepath)) if image is not None and image.filepath else ""
    return Path(os.path.normpath(path)) if path else None


def cache_folder(target) -> Path | None:
    """The folder the face's files belong in: its own under the cache's ``sequences/``, named by its
    uid. Blender stores the image's or strip's path relative to the .blend file, so it points
    elsewhere once the file moves; ``faces.point_at_folders`` points it back here."""
    settings = settings_of(target)
    if settings is None or not settings.uid:
        return None
    return preferences.sequences_dir(scene_of(target)) / settings.uid


def scene_of(target) -> bpy.types.Scene | None:
    """The scene a face belongs to: a strip's own; an object's the context's when it is in it, else
    its first (whose cache folder, ``preferences.cache_dir``, holds the face's files)."""
    if compat.is_strip(target):
        return target.id_data
    scene = getattr(bpy.context, "scene", None)
    if scene is not None and target.name in scene.objects:
        return scene
    return target.users_scene[0] if target.users_scene else scene


def displayed_range(target, scene: bpy.types.Scene) -> tuple[int, int]:
    """First and last scene frame at which the face shows its own frames."""
    if compat.is_strip(target):
        start = max(int(target.frame_final_start), int(round(target.frame_start)))
        end = min(int(target.frame_final_end), int(round(target.frame_start)) + len(target.elements)) - 1
        return start, end
    user = image_user(target)
    duration = user.frame_duration if user is not None else scene.frame_end
    sfra = user.frame_start if user is not None else 1
    return sfra - 1, sfra - 1 + duration


def displayed_files(target, frames: Iterable[int]) -> tuple[list[int], list[str]]:
    """The frames among ``frames`` that the face shows from a file of its own, and those files."""
    shown, names = [], []
    if compat.is_strip(target):
        start = int(round(target.frame_start))
        elements = target.elements
        lo, hi = int(target.frame_final_start), int(target.frame_final_end)
        for f in frames:
            i = f - start
            if lo <= f < hi and 0 <= i < len(elements):
                shown.append(f)
                names.append(elements[i].filename)
        return shown, names
    user = image_user(target)
    if user is None:
        return shown, names
    for f in frames:
        n = f - user.frame_start + 1  # Blender's image-user frame mapping, without its clamping
        if 0 <= n <= user.frame_duration and not user.use_cyclic:
            shown.append(f)
            names.append(FILE_PATTERN.format(n + user.frame_offset))
    return shown, names


def sequence_request(target, frames: Iterable[int], *, resolution: int | None = None,
                     values_of: Callable[[list[int]], dict[str, np.ndarray]] | None = None,
                     preview_size: int = 0) -> SequenceRequest | None:
    """What baking ``frames`` of the target needs, or None if it shows none of them. ``values_of(shown)``:
    channel values at the frames the face shows (default: its F-curves); checked against the value policy.
    ``preview_size``: a preview, whose synthesis may stop at that size (``SequenceRequest``)."""
    settings = settings_of(target)
    where = folder(target)
    shown, names = displayed_files(target, frames)
    if where is None or not shown:
        return None
    values = values_of(shown) if values_of is not None else channel_values(target, shown)
    check_values(label(target), shown, values)
    return SequenceRequest(label(target), where, tuple(shown), tuple(names), face_spec(settings), values,
                           settings.resolution if resolution is None else resolution, preview_size)


def refresh_display(target) -> None:
    """Make Blender re-read the face's files (main thread; never during a render)."""
    if compat.is_strip(target):
        compat.invalidate_strip(target)
        return
    image = face_image(target)
    if image is not None:
        image.reload()
