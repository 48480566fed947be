"""The "Install Dependencies" button: pip in a worker thread, progress polled by a timer.

The worker (``dependencies.InstallJob``) never touches bpy. ``_poll`` runs on the main thread
from ``bpy.app.timers``: it moves the window manager's progress bar, redraws the panels, and when
the job ends checks that the packages import, or says what went wrong.
"""

import bpy
from bpy.types import Operator

from . import dependencies
from .state import STATE
from .windows import redraw

PACKAGE = __package__
POLL_SECONDS = 0.5

def watch() -> None:
    """Poll the running installation from a timer that outlives opening another file (persistent),
    so that its progress bar and outcome are not left behind."""
    if not bpy.app.timers.is_registered(_poll):
        bpy.app.timers.register(_poll, first_interval=POLL_SECONDS, persistent=True)


def _poll():
    job = dependencies.current_job()
    wm = bpy.context.window_manager
    if job is None:
        return None
    if not job.done:
        if wm is not None:
            if not STATE.install_progress_open:
                wm.progress_begin(0, 100)
                STATE.install_progress_open = True
            wm.progress_update(int(100 * job.fraction))
        redraw()
        return POLL_SECONDS
    if STATE.install_progress_open and wm is not None:
        wm.progress_end()
    STATE.install_progress_open = False
    if job.error:
        STATE.install_message = f"Installation failed: {job.error.splitlines()[0]}"
        print(f"Latent Emotion: {job.error}")
    else:
        still = dependencies.after_install()
        STATE.install_message = ("Dependencies installed" if not still else
                                 f"Installed; restart Blender to load {', '.join(still)}")
    redraw()
    return None


def stop() -> None:
    """Cancel a running installation and remove the timer (unregister)."""
    if bpy.app.timers.is_registered(_poll):
        bpy.app.timers.unregister(_poll)
    dependencies.stop_install()
    if STATE.install_progress_open:
        wm = bpy.context.window_manager
        if wm is not None:
            wm.progress_end()
        STATE.install_progress_open = False


class LATENT_EMOTION_OT_install_dependencies(Operator):
    """Download and install PyTorch and the other packages Latent Emotion needs (several GB) into the \
extension's user folder"""

    bl_idname = "latent_emotion.install_dependencies"
    bl_label = "Install Dependencies"

    @classmethod
    def poll(cls, context):
        job = dependencies.current_job()
        return job is None or job.done

    def invoke(self, context, event):
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context):
        if not getattr(bpy.app, "online_access", True):
            self.report({"ERROR"}, "Online access is off: allow it in Preferences › System › Network, then retry")
            return {"CANCELLED"}
        try:
            dependencies.start_install(PACKAGE)
        except Exception as e:
            self.report({"ERROR"}, f"Cannot install: {e}")
            return {"CANCELLED"}
        STATE.install_message = ""
        watch()
        self.report({"INFO"}, "Installing dependencies in the background")
        return {"FINISHED"}


class LATENT_EMOTION_OT_cancel_install(Operator):
    """Stop the dependency installation"""

    bl_idname = "latent_emotion.cancel_install"
    bl_label = "Cancel Installation"

    @classmethod
    def poll(cls, context):
        job = dependencies.current_job()
        return job is not None and not job.done

    def execute(self, context):
        dependencies.current_job().cancel()
        return {"FINISHED"}


def draw_install(layout) -> bool:
    """Draw the installation state when the add-on cannot work yet; True if anything was drawn."""
    job = dependencies.current_job()
    missing = dependencies.missing()
    if job is not None and not job.done:
        box = layout.box()
        box.label(text=f"Installing ({job.index + 1}/{len(job.steps)}): {job.title}", icon="SORTTIME")
        box.operator(LATENT_EMOTION_OT_cancel_install.bl_idname, icon="CANCEL")
        return True
    if not missing:
        if STATE.install_message:
            layout.label(text=STATE.install_message, icon="CHECKMARK")
        return False
    box = layout.box()
    box.label(text=f"Missing: {', '.join(missing)}", icon="ERROR")
    if STATE.install_message:
        box.label(text=STATE.install_message)
    box.operator(LATENT_EMOTION_OT_install_dependencies.bl_idname, icon="IMPORT")
    return True


CLASSES = (LATENT_EMOTION_OT_install_dependencies, LATENT_EMOTION_OT_cancel_install)
