"""Live preview: while scrubbing or playing, each face shows the current frame's channel values.

On ``frame_change_post`` (main thread) each face's channel values — as Blender evaluated them for
the new frame: keys, drivers, NLA — become a W+ code and a frame key (numpy and a hash, no
generator). When the frame cache holds the frame, the face's file for that frame is made at once
(a hard link, or a copy at the preview resolution of the preferences) and Blender re-reads it.
Otherwise the faces' requests go to the worker thread (``preview_job.PreviewOrder``: no bpy there, the latest
request wins) and a ``bpy.app.timers`` callback shows the frame the scene is at when the worker is done.
The rig is loaded by the worker too: the main thread never waits for the generator.

Until its frame is made, a face shows a stand-in: the newest frame it showed or the worker made,
in the file of the current frame (so no missing-file image while scrubbing, and a face that
follows playback at the worker's pace). The folder's index records what the file holds, so the
stand-in is replaced when the real frame is made and never taken for it by a bake or a render.

Nothing here runs while a render runs: renders make full-size frames themselves (``handlers``).
Editing a face's settings without changing the frame (a slider, the console) refreshes it the
same way, from a short timer (``schedule_refresh``). What goes wrong (no model, a face's bad
settings or values) is printed once and shown on the face's panel (``STATE.errors``) until the face
shows its frame again. ``stats`` records the time spent on the main thread, for
``scripts/bench_preview.py``.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from . import preferences
from .baking import BakeJob, SequenceRequest
from .handlers import is_rendering, same_function
from .jobs import file_size, synthesis_size
from .preview_job import PreviewOrder
from .properties import settings_of
from .records import face_rig
from .rig import FaceRig, Rig, RigError, loaded_rig
from .state import GENERAL, STATE
from .targets import folder as folder_of
from .targets import refresh_display, scene_targets, sequence_request, values_now
from .windows import redraw
from .worker import LatestWorker, shared_worker, stop_shared_worker

POLL_SECONDS = 0.02  # how often the timer looks for finished frames while the worker is busy
EDIT_SECONDS = 0.05  # edits within this time (a dragged slider, a script setting nine channels) refresh once
_HISTORY = 4096


@dataclass
class PreviewStats:
    """Main-thread timings (seconds, ``time.perf_counter``) of the recent frame changes."""

    handler_s: deque = field(default_factory=lambda: deque(maxlen=_HISTORY))  # each frame_change_post call
    timer_s: deque = field(default_factory=lambda: deque(maxlen=_HISTORY))  # each timer call that applied results
    shown: deque = field(default_factory=lambda: deque(maxlen=_HISTORY))  # (scene, frame, time) all faces show
    stand_ins: deque = field(default_factory=lambda: deque(maxlen=_HISTORY))  # (face, frame, time)

    def clear(self) -> None:
        for d in (self.handler_s, self.timer_s, self.shown, self.stand_ins):
            d.clear()


stats = PreviewStats()


def worker() -> LatestWorker:
    """The add-on's one worker thread (``worker.shared_worker``), which makes the preview's frames."""
    return shared_worker()


def _rendering() -> bool:
    return is_rendering() or bpy.app.is_job_running("RENDER")


def _report_once(message: str, key: str = GENERAL) -> None:
    """Print a message once; show it on the panel of the face whose folder is ``key`` (all: GENERAL)."""
    STATE.set_error(key, message)
    if message not in STATE.printed:
        STATE.printed.add(message)
        print(f"Latent Emotion preview: {message}", flush=True)


def show_current_frame(scene: bpy.types.Scene, submit: bool = True, replace_stand_ins: bool = False) -> bool:
    """Show each face's frame for the scene's current frame where the cache has it; send the rest to
    the worker if ``submit``. A face still waiting gets a stand-in where its file is missing (or
    always, with ``replace_stand_ins``). True when every face shows its frame. Main thread, not
    while rendering."""
    targets = scene_targets(scene)
    if not targets:
        return True
    cache_root = preferences.frames_dir(scene)
    frame = scene.frame_current
    waiting: list[SequenceRequest] = []
    waiting_rigs: list[FaceRig] = []
    for target in targets:
        try:
            face = face_rig(target)
        except RigError as e:  # no model chosen, or the face's recorded file is missing
            key = str(folder_of(target))
            if not STATE.errors.get(key, "").startswith("Render failed"):  # that one says it already
                _report_once(str(e), key)
            continue
        rig = loaded_rig(face.paths)
        try:
            if rig is not None:
                face.check(rig)
                STATE.set_error(GENERAL, None)  # the model loads: what was said about it is past
            req = _request(target, frame, rig)
        except (RigError, ValueError) as e:  # another file than recorded; a value outside the policy
            _report_once(str(e), str(folder_of(target)))
            continue
        if req is None:
            continue
        try:
            if rig is not None and _show_cached(rig, cache_root, req, target):
                STATE.newest[req.folder] = req
                STATE.set_error(str(req.folder), None)
                continue
            if rig is not None and (replace_stand_ins or not (req.folder / req.filenames[0]).exists()):
                _stand_in(rig, cache_root, req, target)
        except RigError as e:  # this face's settings (rows, channels) are wrong: the others go on
            _report_once(f"{req.label}: {e}", str(req.folder))
            continue
        waiting.append(req)
        waiting_rigs.append(face)
    if waiting and submit:
        worker().submit(PreviewOrder(scene.name, frame, tuple(waiting_rigs), cache_root, tuple(waiting)))
        if not bpy.app.timers.is_registered(_poll):
            bpy.app.timers.register(_poll, first_interval=POLL_SECONDS)
    if not waiting:
        stats.shown.append((scene.name, frame, time.perf_counter()))
    return not waiting


def _request(target, frame: int, rig: Rig | None) -> SequenceRequest | None:
    # Without a rig the size is unknown; the worker does not need it, only the file made later.
    settings = settings_of(target)
    size = file_size(settings, rig, preferences.preview_resolution()) if rig is not None else 0
    return sequence_request(target, [frame], resolution=size, values_of=lambda _shown: values_now(target),
                            preview_size=synthesis_size(settings))


def _show_cached(rig: Rig, cache_root: Path, req: SequenceRequest, target) -> bool:
    """Make the face's file for the frame if the cache has the frame; False if it needs the generator."""
    from .backend.rendering.frame_cache import FrameCache

    job = BakeJob(rig, FrameCache(cache_root), [req], any_size=True)
    if job.uncached():
        job.close()
        return False
    if not job.finished:
        job.run()
        refresh_display(target)
    return True


def _stand_in(rig: Rig, cache_root: Path, req: SequenceRequest, target) -> None:
    """Put the face's newest frame in the file of the frame it waits for."""
    newest = STATE.newest.get(req.folder)
    if newest is None:
        return
    stand_in = replace(newest, frames=req.frames, filenames=req.filenames, resolution=req.resolution)
    if _show_cached(rig, cache_root, stand_in, target):
        stats.stand_ins.append((req.label, req.frames[0], time.perf_counter()))


@persistent
def on_frame_change(scene, *_args) -> None:
    if STATE.preview_suspended or _rendering():
        return
    start = time.perf_counter()
    try:
        show_current_frame(scene)
    except Exception as e:  # a handler must not raise into playback
        _report_once(f"{type(e).__name__}: {e}")
    finally:
        stats.handler_s.append(time.perf_counter() - start)


def schedule_refresh() -> None:
    """After a face setting is edited: show the current frame with the new values, soon (one timer
    for a burst of edits). Frame changes refresh by themselves; this covers edits at the same frame."""
    if STATE.preview_suspended or _rendering() or bpy.app.timers.is_registered(_after_edit):
        return
    bpy.app.timers.register(_after_edit, first_interval=EDIT_SECONDS)


def _after_edit() -> None:
    """Timer: the edited faces' current frames, as a frame change would show them."""
    scene = bpy.context.scene
    if scene is None or _rendering():
        return None
    try:
        show_current_frame(scene)
    except Exception as e:
        _report_once(f"{type(e).__name__}: {e}")
    return None


def _poll() -> float | None:
    """Timer: show what the worker finished, for the frame each scene is at now."""
    _worker = STATE.worker
    if _worker is None:
        return None
    if _rendering():
        return POLL_SECONDS  # results wait: nothing changes data during a render
    finished = _worker.done()
    if finished:
        start = time.perf_counter()
        scenes = set()
        for f in finished:
            if f.error is not None:
                folders = [str(req.folder) for req in f.order.requests if req.label in str(f.error)]
                _report_once(f"{type(f.error).__name__}: {f.error}", folders[0] if folders else GENERAL)
                if not isinstance(f.error, RigError):
                    continue
                # One face's settings failed; the order's other faces were made: show them.
            else:
                for req in f.order.requests:
                    STATE.newest[req.folder] = req
            scenes.add(f.order.scene)
        for name in sorted(scenes):
            scene = bpy.data.scenes.get(name)
            if scene is None:
                continue
            try:
                # The frame changes since submitted their own orders: never submit from here.
                show_current_frame(scene, submit=False, replace_stand_ins=True)
            except Exception as e:
                _report_once(f"{type(e).__name__}: {e}")
        redraw({"VIEW_3D", "SEQUENCE_EDITOR", "IMAGE_EDITOR"})
        stats.timer_s.append(time.perf_counter() - start)
    return None if _worker.idle else POLL_SECONDS


def register() -> None:
    STATE.on_face_edit = schedule_refresh
    handlers = bpy.app.handlers.frame_change_post
    if not any(same_function(h, on_frame_change) for h in handlers):
        handlers.append(on_frame_change)


def unregister() -> None:
    """Remove the handler and the timer, stop the worker thread (Blender 4.2/4.5 hang at exit otherwise)."""
    STATE.on_face_edit = None
    handlers = bpy.app.handlers.frame_change_post
    for h in [h for h in handlers if same_function(h, on_frame_change)]:
        handlers.remove(h)
    for timer in (_poll, _after_edit):
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    if not stop_shared_worker():
        _report_once("the worker thread did not stop in time")
    stats.clear()
    STATE.printed.clear()
    STATE.newest.clear()
