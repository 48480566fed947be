"""What each face records of the generator and directions it was made with, so a .blend renders the
same face on every machine (a colleague's, a render farm worker) whatever its preferences say.

A face's settings hold the two files' paths — as Blender stores its own assets: ``//`` relative to
the .blend where possible (made relative to the new folder on every save), ``<default model>`` for
the model shipped with the extension — and their fingerprints (``checkpoints.fingerprint`` of the
generator's weights, ``DirectionSet.fingerprint``). A new face takes the preferences' files; the
fingerprints are filled in once the rig is loaded on the main thread (a bake, a save). Rendering or
baking a face whose file is missing or holds another fingerprint fails, naming the face, the file
expected and what was found (``rig.FaceRig.check``); the panel's Relink picks the file again.
Faces of files from before the record follow the preferences, as they did, and get the record when
the file is saved.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from . import preferences
from .properties import settings_of
from .rig import (DEFAULT_DIRECTIONS, DEFAULT_MODEL, DEFAULT_RECORD, FaceRig, Rig, RigError, RigPaths, get_rig,
                  loaded_rig, short)


def _label(target) -> str:
    from .targets import label

    return label(target)


def stored_path(path: Path, default: Path, blend_file: str | None = None) -> str:
    """How a face records ``path``: ``<default model>`` for the extension's own file, else relative to
    ``blend_file`` (default: the open .blend; absolute while it is unsaved or on another drive)."""
    path = Path(path).resolve()
    if path == default.resolve():
        return DEFAULT_RECORD
    blend_file = bpy.data.filepath if blend_file is None else blend_file
    if not blend_file:
        return str(path)
    try:
        return bpy.path.relpath(str(path), start=os.path.dirname(blend_file))
    except ValueError:  # another drive (Windows): no relative path exists
        return str(path)


def resolved_path(recorded: str, default: Path, absolute: str = "") -> Path:
    """The file a recorded path names on this machine: relative to the .blend, else (the .blend moved
    without it) the ``absolute`` path it was recorded at, when a file is there."""
    if recorded == DEFAULT_RECORD:
        return default
    path = Path(os.path.normpath(bpy.path.abspath(recorded)))
    if not path.is_file() and absolute and Path(absolute).is_file():
        return Path(absolute)
    return path


def is_recorded(settings) -> bool:
    return bool(settings.model_file)


def face_rig(target) -> FaceRig:
    """The generator and directions ``target`` renders with: those it records (RigError naming the
    face, the file expected and what is there when one is missing), else the preferences'."""
    return face_rig_of_settings(settings_of(target), _label(target))


def face_rig_of_settings(settings, label: str) -> FaceRig:
    """``face_rig`` of a face's settings; ``label`` names the face in messages."""
    if not is_recorded(settings):
        return FaceRig(label, preferences.rig_paths())
    files = []
    for what, recorded, default, fingerprint, absolute in (
            ("generator", settings.model_file, DEFAULT_MODEL, settings.model_fingerprint, settings.model_file_absolute),
            ("directions", settings.directions_file, DEFAULT_DIRECTIONS, settings.directions_fingerprint,
             settings.directions_file_absolute)):
        path = resolved_path(recorded, default, absolute)
        if not path.is_file():
            found = "a folder" if path.is_dir() else "no file"
            also = f" (nor at {absolute}, where it was recorded)" if absolute and Path(absolute) != path else ""
            raise RigError(f"{label} was made with the {what} file {recorded} (fingerprint {short(fingerprint)}); "
                           f"expected at {path}, found {found} there{also}: put the file there (shared storage on a "
                           "farm) or relink the face to it (Emotion panel › Generator) — nothing was rendered "
                           "with another one")
        files.append(path)
    device = preferences.get().device if preferences.get() is not None else "auto"
    return FaceRig(label, RigPaths(files[0], files[1], device, *preferences.rig_engine()), settings.model_fingerprint,
                   settings.directions_fingerprint, (settings.model_file, settings.directions_file))


def record(settings, paths: RigPaths, rig: Rig | None = None) -> None:
    """Make ``paths`` (and ``rig``'s fingerprints, when given) the face's record."""
    settings.model_file = stored_path(paths.model, DEFAULT_MODEL)
    settings.directions_file = stored_path(paths.directions, DEFAULT_DIRECTIONS)
    settings.model_file_absolute = "" if settings.model_file == DEFAULT_RECORD else str(Path(paths.model).resolve())
    settings.directions_file_absolute = ("" if settings.directions_file == DEFAULT_RECORD
                                         else str(Path(paths.directions).resolve()))
    settings.model_fingerprint = rig.info.fingerprint if rig is not None else ""
    settings.directions_fingerprint = rig.directions.fingerprint if rig is not None else ""


def record_new_face(settings) -> None:
    """A new face records the preferences' files (none when they name no usable model yet: it then
    follows the preferences until its file is saved)."""
    try:
        paths = preferences.rig_paths()
    except RigError:
        return
    record(settings, paths, loaded_rig(paths))


def fill_fingerprints(target, rig: Rig) -> None:
    """Record the fingerprints of a face whose record has only the paths, from its loaded rig (main
    thread, never while rendering)."""
    settings = settings_of(target)
    if is_recorded(settings) and not settings.model_fingerprint:
        settings.model_fingerprint = rig.info.fingerprint
        settings.directions_fingerprint = rig.directions.fingerprint


def complete_record(target) -> str | None:
    """Give ``target`` a full record (paths and fingerprints; a face from before the record takes the
    preferences' files, the ones it rendered with). Loads the rig if needed. The problem, if any."""
    settings = settings_of(target)
    try:
        if not is_recorded(settings):
            paths = preferences.rig_paths()
            record(settings, paths, get_rig(paths))
        elif not settings.model_fingerprint:
            fill_fingerprints(target, get_rig(face_rig(target).paths))
    except Exception as e:  # no model, a missing file: the record waits for a usable one
        return f"{_label(target)}: no record of its generator saved ({e})"
    return None


@persistent
def on_save(filepath="", *_args) -> None:
    """Before a save: every face records its files (relative to the folder the .blend goes to)."""
    from .state import STATE
    from .targets import scene_targets

    if STATE.rendering:  # handlers.is_rendering
        return
    for scene in bpy.data.scenes:
        for target in scene_targets(scene):
            problem = complete_record(target)
            if problem:
                print(f"Latent Emotion: {problem}", flush=True)
                continue
            settings = settings_of(target)
            for prop, default in (("model_file", DEFAULT_MODEL), ("directions_file", DEFAULT_DIRECTIONS)):
                recorded = getattr(settings, prop)
                if recorded != DEFAULT_RECORD and filepath:
                    path = resolved_path(recorded, default, getattr(settings, prop + "_absolute"))
                    setattr(settings, prop, stored_path(path, default, filepath))


def relink(target, which: str, path: str | os.PathLike[str]) -> Rig:
    """Point the face at another generator (``which`` "MODEL") or directions file ("DIRECTIONS") and
    record its fingerprints; the other file stays. RigError (nothing changed) when they do not load
    together."""
    settings = settings_of(target)
    path = Path(bpy.path.abspath(str(path))).resolve()
    try:
        current = face_rig(target).paths
    except RigError:  # the file being replaced is missing: the other one as recorded
        current = RigPaths(resolved_path(settings.model_file, DEFAULT_MODEL, settings.model_file_absolute),
                           resolved_path(settings.directions_file, DEFAULT_DIRECTIONS, settings.directions_file_absolute),
                           preferences.get().device if preferences.get() is not None else "auto",
                           *preferences.rig_engine())
    if which == "DIRECTIONS":
        rig = get_rig(dataclasses.replace(current, directions=path))
    else:
        try:  # RigError: the generator does not load, or the directions are another model's
            rig = get_rig(dataclasses.replace(current, model=path))
        except RigError:
            if not path.with_name("directions.json").is_file():
                raise
            rig = get_rig(dataclasses.replace(current, model=path, directions=path.with_name("directions.json")))
    paths = rig.paths
    record(settings, paths, rig)
    return rig
