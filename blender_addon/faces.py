"""Making emotion faces: a textured plane object, or an image strip in the sequencer.

Each face gets its own folder of numbered frames under the cache's ``sequences/`` folder
(named by the face's ``uid``). A plane's material shows the folder as an image sequence whose
file number is the scene frame (image user: start 1, offset 0), so frame 37 shows
``frame_00037.png``; a strip lists one file per frame of its content, ``frame_00000.png`` first.
"""

from __future__ import annotations

import math
import os

import bpy

from . import compat, preferences
from .properties import init_face, new_strip_settings, new_uid, settings_of, sync_extra_channels
from .records import record_new_face
from .targets import FILE_PATTERN, NODE_NAME

PLANE_SIZE = 2.0
# A plane shows file n at scene frame n for every frame Blender has (its image user's longest
# duration), so it follows the scene's range however it is changed later.
ALL_FRAMES = 1048574


VIEW_TRANSFORM = "Standard"


def use_standard_view(scene: bpy.types.Scene) -> bool:
    """Let renders show the generator's colours: the Standard view transform, no look, no exposure or
    gamma change. Blender's default view (AgX) tone-maps every pixel — a face frame came out up to
    51/255 off — while Standard maps an sRGB image back to itself. True if anything was changed."""
    view = scene.view_settings
    wanted = {"view_transform": VIEW_TRANSFORM, "look": "None", "exposure": 0.0, "gamma": 1.0}
    changed = {k: v for k, v in wanted.items() if getattr(view, k) != v}
    for key, value in changed.items():
        setattr(view, key, value)
    return bool(changed)


class FaceFolderError(OSError):
    """A face's frames folder cannot be made (a read-only or missing cache folder); nothing was made."""


def _folder(uid: str, scene: bpy.types.Scene | None = None) -> str:
    """The face's frames folder, made now: before any datablock, so a cache folder that cannot be
    written leaves nothing half-made (FaceFolderError says which folder and why)."""
    path = preferences.sequences_dir(scene) / uid
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise FaceFolderError(f"cannot make the face's frames folder {path}: {e.strerror or e}; choose a "
                              "writable Cache Folder (preferences, or the scene's Frame Cache)") from None
    return str(path)


def _extra_channels(settings) -> None:
    """Give a new face the extra channels of its directions file, when one can be read."""
    from .backend.animation.directions import load_directions
    from .records import face_rig_of_settings

    try:
        names = load_directions(face_rig_of_settings(settings, "new face").paths.directions).names
    except Exception:  # no model chosen yet, or an unreadable file: the channels come at bake time
        return
    sync_extra_channels(settings, names)


def _plane_mesh(name: str) -> bpy.types.Mesh:
    h = PLANE_SIZE / 2
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(-h, -h, 0), (h, -h, 0), (h, h, 0), (-h, h, 0)], [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, co in zip(uv.data, ((0, 0), (1, 0), (1, 1), (0, 1))):
        loop.uv = co
    mesh.update()
    return mesh


def _material(name: str, image: bpy.types.Image) -> bpy.types.Material:
    """An emission material showing ``image`` as an image sequence (lighting leaves the face alone)."""
    mat = bpy.data.materials.new(name)
    compat.use_nodes(mat)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    tex = nodes.new("ShaderNodeTexImage")
    tex.name = tex.label = NODE_NAME
    tex.image = image
    tex.location = (-400, 0)
    user = tex.image_user
    user.frame_start, user.frame_offset, user.frame_duration = 1, 0, ALL_FRAMES
    user.use_auto_refresh = True
    emit = nodes.new("ShaderNodeEmission")
    emit.location = (-100, 0)
    out = nodes.new("ShaderNodeOutputMaterial")
    out.location = (150, 0)
    links.new(tex.outputs["Color"], emit.inputs["Color"])
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    return mat


def new_face_object(scene: bpy.types.Scene, collection: bpy.types.Collection, *, name: str = "Emotion Face",
                    seed: int = 0, truncation: float = 0.7, resolution: int = 0,
                    location=(0.0, 0.0, 0.0)) -> bpy.types.Object:
    """A plane standing upright, facing the front view (-Y), showing the face's frames; the scene gets
    the Standard view transform (``use_standard_view``)."""
    uid = new_uid()
    folder = _folder(uid, scene)  # first: FaceFolderError before anything is made
    obj = bpy.data.objects.new(name, _plane_mesh(name))
    collection.objects.link(obj)
    obj.location = location
    obj.rotation_euler = (math.pi / 2, 0.0, 0.0)
    settings = obj.latent_emotion
    init_face(settings, uid, seed, truncation, resolution)
    record_new_face(settings)
    settings.name = "Emotion"  # the Graph Editor names channels "Joy (Emotion)"
    image = _sequence_image(f"{name} Frames", folder)
    settings.image = image
    obj.data.materials.append(_material(name, image))
    _extra_channels(settings)
    use_standard_view(scene)
    return obj


def _sequence_image(name: str, folder: str) -> bpy.types.Image:
    """An image sequence of the numbered files in ``folder`` (made by ``_folder``)."""
    image = bpy.data.images.new(name, 4, 4)
    image.source = "FILE"
    image.filepath = f"{folder}/{FILE_PATTERN.format(1)}"
    image.source = "SEQUENCE"
    return image


def separate_duplicates(scene: bpy.types.Scene) -> list:
    """Give each face object that shares its frames folder with an earlier one (a duplicated object)
    a folder, image and material of its own; returns those objects. Main thread, not while rendering."""
    seen, separated = set(), []
    for obj in scene.objects:
        settings = settings_of(obj)
        if settings is None:
            continue
        if settings.uid not in seen:
            seen.add(settings.uid)
            continue
        old = settings.image
        settings.uid = new_uid()
        settings.image = _sequence_image(f"{obj.name} Frames", _folder(settings.uid, scene))
        seen.add(settings.uid)
        for slot in obj.material_slots:
            if slot.material is None or slot.material.node_tree is None:
                continue
            nodes = slot.material.node_tree.nodes
            if any(n.bl_idname == "ShaderNodeTexImage" and n.image == old for n in nodes):
                material = slot.material.copy()
                slot.link = "OBJECT"  # the mesh may be shared with the original (Alt+D)
                slot.material = material
                for node in material.node_tree.nodes:
                    if node.bl_idname == "ShaderNodeTexImage" and node.image == old:
                        node.image = settings.image
        separated.append(obj)
    return separated


def new_face_strip(scene: bpy.types.Scene, *, name: str = "Emotion Face", channel: int = 1, frame_start: int = 1,
                   length: int | None = None, seed: int = 0, truncation: float = 0.7, resolution: int = 0):
    """An image strip of ``length`` frames (default: to the scene's end) showing the face's frames; the
    scene gets the Standard view transform (``use_standard_view``)."""
    if length is None:
        length = max(1, scene.frame_end - frame_start + 1)
    if length < 1:
        raise ValueError(f"a strip needs at least one frame, got length {length}")
    uid = new_uid()
    folder = _folder(uid, scene)  # first: FaceFolderError before anything is made
    strip = compat.new_image_strip(scene, name, f"{folder}/{FILE_PATTERN.format(0)}", channel, frame_start)
    for i in range(1, length):
        strip.elements.append(FILE_PATTERN.format(i))
    settings = new_strip_settings(strip, uid)
    init_face(settings, uid, seed, truncation, resolution)
    record_new_face(settings)
    _extra_channels(settings)
    use_standard_view(scene)
    return strip


def stored_folder(scene: bpy.types.Scene, where) -> str:
    """How a face's folder is written into its image or strip: ``//`` relative to the saved .blend
    when it lies in the scene's own cache folder (shared storage: packed and moved with the .blend,
    listed inside the project by blender-asset-tracer), else absolute (the user's cache)."""
    if bpy.data.filepath and preferences.scene_cache_dir(scene) is not None:
        try:
            return bpy.path.relpath(str(where))
        except ValueError:  # another drive (Windows)
            pass
    return str(where)


def point_at_folders(scene: bpy.types.Scene) -> int:
    """Point each face's image or strip at its folder in the cache (main thread, not while rendering):
    a .blend that moved, or opened where the cache is elsewhere (a farm's $LATENT_EMOTION_CACHE), would
    otherwise look for the files beside itself. Returns how many faces were repointed."""
    from .targets import cache_folder, scene_targets

    changed = 0
    for target in scene_targets(scene):
        where = cache_folder(target)
        if where is None:
            continue
        stored = stored_folder(scene, where)
        if compat.is_strip(target):
            path, current = stored + os.sep, target.directory
        else:
            path, current = stored + "/" + FILE_PATTERN.format(1), settings_of(target).image.filepath
        if current == path:
            continue
        where.mkdir(parents=True, exist_ok=True)
        if compat.is_strip(target):
            target.directory = path
        else:
            settings_of(target).image.filepath = path
        changed += 1
    return changed


def follow_ranges(scene: bpy.types.Scene, targets: list | None = None) -> int:
    """Let every face of the scene show its own frames over its whole range (main thread, not while
    rendering): a plane over every scene frame (files of older versions stopped at the scene's end
    when the face was made), a strip over its own length (a strip dragged longer than its files
    gets files for the new frames instead of holding its last one). Returns how many faces changed."""
    from .targets import image_user, scene_targets

    changed = 0
    for target in scene_targets(scene):
        if not compat.is_strip(target):
            user = image_user(target)
            if user is not None and user.frame_duration < ALL_FRAMES and not user.use_cyclic:
                user.frame_duration = ALL_FRAMES
                changed += 1
            continue
        start, final_start, final_end = int(round(target.frame_start)), target.frame_final_start, target.frame_final_end
        wanted = final_end - start
        if wanted > len(target.elements):
            for i in range(len(target.elements), wanted):
                target.elements.append(FILE_PATTERN.format(i))
            # Appending moves the strip's end by as much: put back the length the user gave it.
            target.frame_final_start, target.frame_final_end = final_start, final_end
            changed += 1
    return changed
