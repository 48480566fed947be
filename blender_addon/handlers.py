"""Render handlers: every frame a render needs exists before Blender reads it.

``render_init`` runs once before a still (F12) or an animation (Ctrl F12, ``blender -b file -a``),
possibly in the render job's thread: it notes that a render runs and loads the rig, so that a
missing model fails early. It cannot tell a still from an animation, so the frames themselves are
made by ``render_pre``, which Blender calls before each frame it renders with
``scene.frame_current`` set to that frame: what is missing is computed (into the frame cache) and
linked into the faces' folders just in time, so ``-s/-e/-j`` ranges and split renders on several
machines bake exactly their own frames.

While a render runs, no handler changes Blender data: baking only reads F-curves and writes files.
Operators check ``is_rendering()`` before changing anything.
"""

from __future__ import annotations

import traceback

import bpy
from bpy.app.handlers import persistent

from .targets import scene_targets

_rendering = False


def is_rendering() -> bool:
    return _rendering


def _report(message: str) -> None:
    print(f"Latent Emotion: {message}", flush=True)


@persistent
def on_render_init(scene, *_args) -> None:
    global _rendering
    _rendering = True
    try:
        if scene_targets(scene):
            from .jobs import load_rig

            load_rig()
    except Exception as e:  # a handler must not raise into the render
        _report(f"cannot bake frames for this render: {e}")


@persistent
def on_render_pre(scene, *_args) -> None:
    try:
        targets = scene_targets(scene)
        if not targets:
            return
        from .jobs import make_job

        frame = scene.frame_current
        job = make_job(scene, targets, [frame])
        stats = job.run()
        if stats.written:
            _report(f"frame {frame}: {stats.computed} computed, {stats.written} linked")
    except Exception as e:
        _report(f"frame {scene.frame_current} could not be baked: {e}")
        traceback.print_exc()


@persistent
def on_render_done(*_args) -> None:
    global _rendering
    _rendering = False


_HANDLERS = (
    ("render_init", on_render_init),
    ("render_pre", on_render_pre),
    ("render_complete", on_render_done),
    ("render_cancel", on_render_done),
)


def register() -> None:
    for name, fn in _HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        if fn not in handlers:
            handlers.append(fn)


def unregister() -> None:
    global _rendering
    for name, fn in _HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        # Compare by name too: after a reload of the add-on an old function object may be there.
        for h in list(handlers):
            if h is fn or (getattr(h, "__module__", None) == fn.__module__ and h.__name__ == fn.__name__):
                handlers.remove(h)
    _rendering = False
