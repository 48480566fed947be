"""Operators: add a face (object or strip), bake its frames, pick up the directions' channels."""

import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ImportHelper

from . import compat, dependencies
from .faces import FaceFolderError, new_face_object, new_face_strip
from .handlers import is_rendering
from .properties import settings_of, sync_extra_channels
from .rig import RigError
from .state import STATE

POLL_SECONDS = 0.05  # how often a modal bake looks for frames the worker finished


def active_target(context):
    """The face the UI works on: in the Sequencer its active strip, elsewhere the active object."""
    space = getattr(context, "space_data", None)
    if space is not None and space.type == "SEQUENCE_EDITOR":
        scene = compat.sequencer_scene(context)
        editor = scene.sequence_editor if scene else None
        strip = editor.active_strip if editor else None
        return strip if strip is not None and settings_of(strip) else None
    obj = context.active_object
    if obj is not None and settings_of(obj):
        return obj
    return None


def _face_props():
    return {
        "seed": IntProperty(name="Seed", default=0, min=0, max=2**31 - 1, description="Which face"),
        "truncation": FloatProperty(name="Truncation", default=0.7, min=0.0, max=1.0),
        "resolution": IntProperty(name="Resolution", default=0, min=0, max=8192, subtype="PIXEL",
                                  description="Frame size in pixels (0: the model's own)"),
        "name": StringProperty(name="Name", default="Emotion Face"),
    }


def _report_view(op: Operator, scene, before: str) -> None:
    if before != scene.view_settings.view_transform:
        op.report({"INFO"}, f"View transform set from {before} to {scene.view_settings.view_transform}: "
                            "renders show the face's own colours")


class LATENT_EMOTION_OT_add_face(Operator):
    """Add a plane showing a generated face whose emotion channels can be keyframed"""

    bl_idname = "latent_emotion.add_face"
    bl_label = "Emotion Face"
    bl_options = {"REGISTER", "UNDO"}

    __annotations__ = _face_props()

    @classmethod
    def poll(cls, context):
        return context.mode == "OBJECT" and not is_rendering()

    def execute(self, context):
        view = context.scene.view_settings.view_transform
        try:
            obj = new_face_object(context.scene, context.collection or context.scene.collection, name=self.name,
                                  seed=self.seed, truncation=self.truncation, resolution=self.resolution,
                                  location=context.scene.cursor.location.copy())
        except FaceFolderError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        for other in context.selected_objects:
            other.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        _report_view(self, context.scene, view)
        return {"FINISHED"}


class LATENT_EMOTION_OT_add_strip(Operator):
    """Add an image strip showing a generated face whose emotion channels can be keyframed"""

    bl_idname = "latent_emotion.add_strip"
    bl_label = "Emotion Face Strip"
    bl_options = {"REGISTER", "UNDO"}

    __annotations__ = {
        **_face_props(),
        "channel": IntProperty(name="Channel", default=1, min=1, max=128),
        "frame_start": IntProperty(name="Start Frame", default=1),
        "length": IntProperty(name="Length", default=0, min=0, description="Frames (0: to the scene's end)"),
    }

    @classmethod
    def poll(cls, context):
        return compat.sequencer_scene(context) is not None and not is_rendering()

    def invoke(self, context, event):
        scene = compat.sequencer_scene(context)
        self.frame_start = scene.frame_current
        return self.execute(context)

    def execute(self, context):
        scene = compat.sequencer_scene(context)
        view = scene.view_settings.view_transform
        try:
            strip = new_face_strip(scene, name=self.name, channel=self.channel, frame_start=self.frame_start,
                                   length=self.length or None, seed=self.seed, truncation=self.truncation,
                                   resolution=self.resolution)
        except FaceFolderError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        editor = scene.sequence_editor
        for s in compat.strips(editor):
            s.select = False
        strip.select = True
        editor.active_strip = strip
        _report_view(self, scene, view)
        return {"FINISHED"}


class LATENT_EMOTION_OT_bake(Operator):
    """Compute the face's frames for the scene range (only frames whose emotion changed), in the background; Esc cancels"""

    bl_idname = "latent_emotion.bake"
    bl_label = "Bake Emotion Frames"
    # Not undoable: it writes frame files (no undo step brings files back), and what it changes in
    # the .blend — a duplicated face's own folder, the directions' channels, the generator record —
    # is what those files need; undoing it would leave the faces pointing at the wrong files.

    __annotations__ = {
        "scope": EnumProperty(name="Faces", default="ACTIVE",
                              items=[("ACTIVE", "Active Face", "The active object or strip"),
                                     ("ALL", "All Faces", "Every emotion face of the scene")]),
        "preview": BoolProperty(name="Preview", default=False,
                                description="Put frames at the preview resolution of the preferences in the "
                                            "viewport (renders replace them with full-size frames)"),
    }

    @classmethod
    def poll(cls, context):
        if is_rendering() or STATE.modal_bake or dependencies.missing():
            return False
        return True

    def _targets(self, context):
        from .targets import scene_targets

        if self.scope == "ALL":
            return scene_targets(self._scene(context))
        target = active_target(context)
        return [target] if target is not None else []

    def _scene(self, context):
        space = getattr(context, "space_data", None)
        if space is not None and space.type == "SEQUENCE_EDITOR":
            return compat.sequencer_scene(context)
        return context.scene

    def _job(self, context):
        from .jobs import make_job

        targets = self._targets(context)
        if not targets:
            self.report({"ERROR"}, "No emotion face to bake: select a face object or strip")
            return None
        try:
            return make_job(self._scene(context), targets, preview=self.preview, interactive=True)
        except (RigError, ValueError) as e:
            self.report({"ERROR"}, str(e))
            return None

    def execute(self, context):
        job = self._job(context)
        if job is None:
            return {"CANCELLED"}
        from .jobs import finish

        stats = job.run()
        finish(job, self._scene(context))
        self.report({"INFO"}, f"Baked {stats.frames} frames ({stats.computed} computed, {stats.written} updated)")
        return {"FINISHED"}

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        if not self.begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        wm.progress_begin(0, 100)
        timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        STATE.modal_bake.update(op=self, timer=timer, wm=wm)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def begin(self, context) -> bool:
        """Start the bake: at once if the model is loaded, else after the worker loaded it."""
        from .baking import BakeOrder
        from .preferences import frames_dir, rig_paths
        from .records import face_rig
        from .rig import loaded_rig
        from .worker import shared_worker

        self._job_ref, self._ui_seconds = None, 0.0  # main-thread time spent in this bake's timer events
        targets = self._targets(context)
        try:
            paths = face_rig(targets[0]).paths if targets else rig_paths()
        except RigError as e:
            self.report({"ERROR"}, str(e))
            return False
        if loaded_rig(paths) is not None:
            return self.start(context)
        # The model loads on the worker (seconds for a large one): the job is made once it is there.
        self._loading = BakeOrder(paths, frames_dir(self._scene(context)), ())
        shared_worker().submit(self._loading, steps=True)
        return True

    def start(self, context) -> bool:
        """Make the job (channel values, keys: main thread) and send its frames to the worker."""
        job = self._job(context)
        if job is None:
            return False
        from .baking import BakeOrder
        from .worker import shared_worker

        self._job_ref, self._scene_name = job, self._scene(context).name
        self._order = BakeOrder(job.rig.paths, job.cache.root, job.pending_codes())
        if len(self._order.ws):
            shared_worker().submit(self._order, steps=True)
        return True

    def modal(self, context, event):
        if event.type == "ESC" or "op" not in STATE.modal_bake:
            return self._end(context, cancelled=True)
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        started = time.perf_counter()
        try:
            if self._job_ref is None:
                return self._on_model_timer(context)
            return self._on_timer(context)
        finally:
            self._ui_seconds += time.perf_counter() - started

    def _on_model_timer(self, context):
        """While the model loads on the worker: wait; then make the job."""
        outcome = self._loading.outcome
        if outcome is None:
            set_status(context, "Baking emotion frames: loading the face model — Esc to cancel")
            return {"RUNNING_MODAL"}
        if outcome.error is not None:
            self.report({"ERROR"}, f"Cannot bake: {outcome.error}")
            return self._end(context, cancelled=True, said=True)
        if not self.start(context):  # it said why
            return self._end(context, cancelled=True, said=True)
        return {"RUNNING_MODAL"}

    def _on_timer(self, context):
        job, order = self._job_ref, self._order
        if is_rendering():
            return {"RUNNING_MODAL"}  # a render reads the faces' files: they change after it
        outcome = order.outcome if len(order.ws) else None
        try:
            job.link_ready()
            if outcome is not None and outcome.error is None and not job.finished:
                job.step()  # a frame the worker made is gone from the cache already: make it here
        except Exception as e:
            self.report({"ERROR"}, f"Baking stopped at {job.current}: {e}")
            return self._end(context, cancelled=True)
        if outcome is not None and outcome.error is not None:
            self.report({"ERROR"}, f"Baking stopped at {job.current}: {outcome.error}")
            return self._end(context, cancelled=True)
        context.window_manager.progress_update(int(100 * job.done / max(1, job.total)))
        set_status(context, f"Baking emotion frames: {job.done}/{job.total} ({order.computed} computed) — Esc to cancel")
        if job.finished:
            return self._end(context, cancelled=False)
        return {"RUNNING_MODAL"}

    def _end(self, context, cancelled: bool, said: bool = False):
        from .jobs import finish
        from .worker import shared_worker

        job = self._job_ref
        stop_modal()
        set_status(context, None)
        if job is None:  # still loading the model
            shared_worker().cancel(self._loading)
            if not said:
                self.report({"WARNING"}, "Bake cancelled while the face model loaded")
            return {"CANCELLED"}
        if cancelled and len(self._order.ws):
            shared_worker().cancel(self._order)  # it stops after the frame it is computing
        job.close()
        scene = bpy.data.scenes.get(self._scene_name)
        if scene is not None and not is_rendering():
            finish(job, scene)
        what = "cancelled" if cancelled else "done"
        # Done: every frame the cache lacked was made (the worker may not have counted the last yet).
        computed = self._order.computed if cancelled else len(self._order.ws)
        self.report({"WARNING" if cancelled else "INFO"},
                    f"Bake {what}: {job.done}/{job.total} files ({computed} frames computed by "
                    f"{job.rig.engine.name}{f', {job.rig.engine.note}' if job.rig.engine.note else ''})")
        return {"CANCELLED" if cancelled else "FINISHED"}


def set_status(context, text: str | None) -> None:
    if context.workspace is not None:
        context.workspace.status_text_set(text)


class WorkerOperator:
    """An operator whose work is one worker order (``done``, ``total``, ``outcome``, cancellable):
    modal with a window (progress bar, ``status(order)`` in the status bar, Esc cancels), waiting
    for the worker otherwise (scripts, ``blender -b``). Subclasses define ``start(context)`` (the
    order sent, or None after a report; RigError/ValueError are reported), ``status(order)``,
    ``cancelled_report(order)``, ``apply(context, result)`` with the order's result and, where the
    message needs more than the label, ``error_report(error)``."""

    def begin(self, context) -> bool:
        from .rig import RigError

        try:
            self._order = self.start(context)
        except (RigError, ValueError) as e:
            self.report({"ERROR"}, f"{self.bl_label}: {e}")
            return False
        return self._order is not None

    def error_report(self, error: Exception) -> str:
        return f"{self.bl_label}: {error}"

    def _finish(self, context):
        from .backend.files import FileError
        from .backend.jobs import Cancelled
        from .rig import RigError
        from .worker import wait_order

        order = self._order
        try:
            result = wait_order(order, lambda: self.cancelled_report(order))
        except Cancelled:
            self.report({"WARNING"}, self.cancelled_report(self._order))
            return {"CANCELLED"}
        except (OSError, ValueError, FileError, RigError) as e:  # the message names the file and why
            self.report({"ERROR"}, self.error_report(e))
            return {"CANCELLED"}
        return self.apply(context, result)

    def still_active(self, context, nothing: str):
        """The face the operator started on if it is still the active one; else None, reported."""
        target = active_target(context)
        if target is None or target.name != self._target_name:
            self.report({"ERROR"}, f"The face {self._target_name!r} is no longer the active face: nothing {nothing}")
            return None
        return target

    def execute(self, context):
        self._timer = None
        if not self.begin(context):
            return {"CANCELLED"}
        if context.window is None or bpy.app.background:  # no event loop to drive a modal operator
            return self._finish(context)
        wm = context.window_manager
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        from .worker import shared_worker

        if event.type == "ESC":
            shared_worker().cancel(self._order)  # it stops at its next step
        if event.type != "TIMER":
            return {"RUNNING_MODAL"} if event.type == "ESC" else {"PASS_THROUGH"}
        order = self._order
        if order.outcome is None:
            context.window_manager.progress_update(int(100 * order.done / max(1, order.total)))
            set_status(context, f"{self.status(order)} — Esc to cancel")
            return {"RUNNING_MODAL"}
        if getattr(self, "_timer", None) is not None:
            context.window_manager.event_timer_remove(self._timer)
            context.window_manager.progress_end()
        set_status(context, None)
        return self._finish(context)


def stop_modal() -> None:
    """Remove the modal bake's timer and progress (when it ends, and on unregister)."""
    modal = STATE.modal_bake
    if not modal:
        return
    wm, timer = modal.get("wm"), modal.get("timer")
    modal.clear()
    try:
        if timer is not None:
            wm.event_timer_remove(timer)
        wm.progress_end()
    except (ReferenceError, RuntimeError):
        pass


class LATENT_EMOTION_OT_sync_channels(Operator):
    """Add the channels of the directions file that this face lacks"""

    bl_idname = "latent_emotion.sync_channels"
    bl_label = "Load Channels from Directions"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return active_target(context) is not None and not is_rendering()

    def execute(self, context):
        from .backend.animation.directions import DirectionsError, load_directions
        from .records import face_rig

        try:
            names = load_directions(face_rig(active_target(context)).paths.directions).names
        except (RigError, DirectionsError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        added = sync_extra_channels(settings_of(active_target(context)), names)
        self.report({"INFO"}, f"Added channels: {', '.join(added)}" if added else "No new channels")
        return {"FINISHED"}


class LATENT_EMOTION_OT_relink(Operator, ImportHelper):
    """Pick the generator or directions file this face was made with again (its fingerprint is recorded)"""

    bl_idname = "latent_emotion.relink"
    bl_label = "Relink"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ""
    __annotations__ = {
        "which": EnumProperty(name="File", default="MODEL",
                              items=[("MODEL", "Generator", "The face generator"),
                                     ("DIRECTIONS", "Directions", "The emotion directions")]),
        "filter_glob": StringProperty(default="*.safetensors;*.pkl;*.pt;*.json", options={"HIDDEN"}),
    }

    @classmethod
    def poll(cls, context):
        return active_target(context) is not None and not is_rendering()

    def execute(self, context):
        from .records import relink
        from .rig import short
        from .targets import folder, label

        target = active_target(context)
        try:
            rig = relink(target, self.which, self.filepath)
        except RigError as e:
            self.report({"ERROR"}, f"Relink: {e}")
            return {"CANCELLED"}
        STATE.set_error(str(folder(target)), None)
        what = "generator" if self.which == "MODEL" else "directions"
        self.report({"INFO"}, f"{label(target)} now uses the {what} {Path(self.filepath).name} "
                              f"(fingerprint {short(rig.info.fingerprint if self.which == 'MODEL' else rig.directions.fingerprint)})")
        return {"FINISHED"}


CLASSES = (LATENT_EMOTION_OT_add_face, LATENT_EMOTION_OT_add_strip, LATENT_EMOTION_OT_bake,
           LATENT_EMOTION_OT_sync_channels, LATENT_EMOTION_OT_relink)
