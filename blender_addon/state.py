"""The add-on's run-time state in one place (no bpy here): what is running, what failed.

Module globals spread over several modules made it hard to see what ``unregister`` must reset;
everything that lives between calls and is not Blender data is a field of ``STATE``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

GENERAL = ""  # key of errors that concern every face (no model chosen, the rig does not load)


@dataclass
class AddonState:
    rendering: bool = False  # between render_init and render_complete/cancel
    render_failures: list[str] = field(default_factory=list)  # frames the last render could not make
    preview_suspended: int = 0  # > 0: frame changes are code stepping the scene, not scrubbing
    # Errors shown on the faces' panels: face folder (str) or value_key(uid) → message; GENERAL: every face.
    errors: dict[str, str] = field(default_factory=dict)
    printed: set[str] = field(default_factory=set)  # preview messages already printed (each once)
    # Face folder → the newest frame the preview showed or made for it (baking.SequenceRequest): its stand-in.
    newest: dict = field(default_factory=dict)
    on_face_edit: Callable[[], None] | None = None  # set by the preview: a face setting was edited
    worker: object | None = None  # worker.LatestWorker: the one thread computing frames
    modal_bake: dict = field(default_factory=dict)  # the modal bake running: op, timer, window manager
    install_job: object | None = None  # dependencies.InstallJob: the running or last installation
    install_message: str = ""  # the last installation's outcome, shown in the panels
    install_progress_open: bool = False  # the window manager's progress bar shows the installation
    face_readers: object | None = None  # backend.readers.reading.FaceReaders for video capture (loaded on the worker)
    phrase_reader: tuple | None = None  # (sentence model reader or None, note) for Describe (main thread)
    lock: threading.Lock = field(default_factory=threading.Lock)  # errors may come from the render thread

    def set_error(self, key: str, message: str | None) -> None:
        with self.lock:
            if message is None:
                self.errors.pop(key, None)
            else:
                self.errors[key] = message

    def error_for(self, *keys: str) -> str | None:
        """The first error recorded under ``keys``, else the one for every face."""
        with self.lock:
            return next((self.errors[k] for k in (*keys, GENERAL) if k in self.errors), None)

    def reset(self) -> None:
        self.rendering = False
        self.render_failures.clear()
        self.preview_suspended = 0
        self.on_face_edit = None
        self.printed.clear()
        self.newest.clear()
        self.modal_bake.clear()
        self.install_job = None
        self.install_message = ""
        self.install_progress_open = False
        self.face_readers = None
        self.phrase_reader = None
        with self.lock:
            self.errors.clear()


STATE = AddonState()


def value_key(uid: str) -> str:
    """Key of the error about a value set on the face ``uid`` (a refused NaN)."""
    return f"value:{uid}"


@contextmanager
def preview_suspended() -> Iterator[None]:
    """No preview for the frame changes inside (code stepping through frames to read values)."""
    STATE.preview_suspended += 1
    try:
        yield
    finally:
        STATE.preview_suspended -= 1
