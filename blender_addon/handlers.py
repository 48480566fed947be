"""Render handlers: every frame a render needs exists, with the values Blender evaluates, before it is read.

``render_init`` runs once before a still (F12) or an animation (Ctrl F12, ``blender -b file -a``),
possibly in the render job's thread: it notes that a render runs and loads the rig early. Frames are
made just in time, so ``-s/-e/-j`` ranges and split renders on several machines bake exactly their
own frames; what is missing is computed into the frame cache and linked into the faces' folders:

- strips, in ``render_pre``: their channels are scene data, and Blender has evaluated the scene's
  animation (keys, NLA, drivers) for the frame on the scene itself before calling it (the
  sequencer reads strips from there);
- face objects, in ``frame_change_post`` of the render's depsgraph: Blender evaluates objects for a
  render in a depsgraph of its own, whose values never reach the original object (``render_pre``
  would see the value of the frame the user last looked at), so values are read from it. Objects
  whose channels only follow their F-curves are made in ``render_pre`` already.

A frame that cannot be made (no model file, a channel value outside the policy) never lets the
render go on with a missing or stale file: a background render (a farm job) stops with exit code
``FAILED_EXIT``; an interactive one gets an error frame (magenta, the final size) in the face's
file, the message on the face's panel and on the console.

While a render runs, no handler changes Blender data: baking only reads it and writes files.
Operators check ``is_rendering()`` before changing anything.
"""

from __future__ import annotations

import os
import sys

import bpy
from bpy.app.handlers import persistent

from . import compat
from .baking import write_error_frames
from .faces import follow_ranges, point_at_folders
from .jobs import make_job, prune_cache
from .properties import SCENE_STRIPS, settings_of
from .records import face_rig, on_save
from .rig import get_face_rig, loaded_rig
from .state import STATE
from .targets import channel_values, displayed_files, folder, label, needs_evaluation, scene_targets, values_now

FAILED_EXIT = 3  # exit code of a background render whose frames cannot be made


def is_rendering() -> bool:
    return STATE.rendering


def _report(message: str) -> None:
    print(f"Latent Emotion: {message}", flush=True)


def exit_on_failure() -> bool:
    """Whether a frame that cannot be made ends the process: background renders, where nobody sees
    an error frame and the exit code is what a farm manager reads."""
    return bool(bpy.app.background)


@persistent
def on_render_init(scene, *_args) -> None:
    STATE.rendering = True
    STATE.render_failures.clear()
    for target in scene_targets(scene):  # the faces' rigs, loaded early
        try:
            get_face_rig(face_rig(target))
        except Exception as e:  # each frame that needs the rig fails on its own (and says so)
            _report(f"the face model does not load: {e}")


def _render_pre_values(target, shown):
    return values_now(target) if compat.is_strip(target) else channel_values(target, shown)


@persistent
def on_render_pre(scene, *_args) -> None:
    targets = [t for t in scene_targets(scene) if compat.is_strip(t) or not needs_evaluation(t)]
    _bake_frame(scene, targets, _render_pre_values)


@persistent
def on_frame_change(scene, depsgraph=None) -> None:
    if not STATE.rendering or depsgraph is None or depsgraph.mode != "RENDER":
        return
    objects = [t for t in scene_targets(scene) if not compat.is_strip(t)]
    _bake_frame(scene, objects, lambda target, shown: values_now(target, target.evaluated_get(depsgraph)))


def _bake_frame(scene, targets, values_of) -> None:
    """Make the current frame's file of each target (each on its own: one failing face stops no other)."""
    frame = scene.frame_current
    for target in targets:
        try:
            job = make_job(scene, [target], [frame], values_of=values_of)
            stats = job.run()
            STATE.set_error(str(folder(target)), None)
            if stats.written:
                _report(f"{label(target)}, frame {frame}: {stats.computed} computed, {stats.written} linked")
        except Exception as e:  # never into the render: it fails below, loudly
            _fail(target, frame, e)


def _fail(target, frame: int, error: Exception) -> None:
    message = f"{label(target)}, frame {frame} cannot be made: {error}"
    STATE.render_failures.append(message)
    STATE.set_error(str(folder(target)), f"Render failed: {message}")
    _report(f"ERROR: {message}")
    if exit_on_failure():
        _report(f"stopping the render (exit code {FAILED_EXIT}): a face frame is missing")
        sys.stderr.flush()
        # At once, before Blender reads the missing file. Not SystemExit: Python finalizing inside
        # a render handler crashes Blender 4.2 (exit -11), and a farm must read our code.
        os._exit(FAILED_EXIT)
    try:
        _error_frame(target, frame)
    except Exception as e:
        _report(f"ERROR: no error frame either ({e})")


def _error_frame(target, frame: int) -> None:
    """Put an error frame of the final size in the files the face shows at ``frame``."""
    shown, names = displayed_files(target, [frame])
    where = folder(target)
    if not shown or where is None:
        return
    size = settings_of(target).resolution
    if not size:
        try:
            rig = loaded_rig(face_rig(target).paths)
        except Exception:
            rig = None
        size = rig.resolution if rig is not None else 256
    write_error_frames(where, names, size)


@persistent
def on_render_done(*_args) -> None:
    STATE.rendering = False
    if STATE.render_failures:
        _report(f"the render used error frames for {len(STATE.render_failures)} face frame(s); "
                "see the faces' panels")


@persistent
def on_load(*_args) -> None:
    """A file opened: its faces show the files in their cache folders (the file may have moved), over
    their whole ranges (files of older versions stopped at the scene's end)."""
    for scene in bpy.data.scenes:
        point_at_folders(scene)
        follow_ranges(scene)
    try:
        prune_cache()
    except OSError as e:  # a cache on a drive that went away: the frames are made again when needed
        _report(f"cannot prune the frame cache: {e}")


@persistent
def on_depsgraph_update(scene, *_args) -> None:
    """A strip face dragged longer gets files for its new frames (it would hold its last one)."""
    if STATE.rendering or scene is None or not len(getattr(scene, SCENE_STRIPS, ())):
        return
    strips = [s for s in compat.all_strips(scene) if settings_of(s) is not None]
    if strips:
        follow_ranges(scene, strips)


_HANDLERS = (
    ("load_post", on_load),
    ("depsgraph_update_post", on_depsgraph_update),
    ("render_init", on_render_init),
    ("render_pre", on_render_pre),
    ("frame_change_post", on_frame_change),
    ("render_complete", on_render_done),
    ("render_cancel", on_render_done),
    ("save_pre", on_save),
)


def same_function(h, fn) -> bool:
    """Whether handler ``h`` is ``fn``, or its older self from before a reload of the add-on."""
    return h is fn or (getattr(h, "__module__", None) == fn.__module__ and getattr(h, "__name__", None) == fn.__name__)


def register() -> None:
    for name, fn in _HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        if not any(same_function(h, fn) for h in handlers):
            handlers.append(fn)


def unregister() -> None:
    for name, fn in _HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        for h in [h for h in handlers if same_function(h, fn)]:
            handlers.remove(h)
    STATE.rendering = False
