"""Key Channels from Video's job on the worker: a video read into the nine channels' values (no bpy here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .state import STATE
from .worker import WholeOrder


@dataclass(eq=False)
class CaptureOrder(WholeOrder):
    """A video read into the nine channels' values (``backend.readers.capture``) at ``fps``, ``done`` of
    ``total`` frames; the outcome's result is the ``CaptureResult`` (``Cancelled``)."""

    path: Path
    fps: float

    def work(self):
        return capture_video(self)


def capture_video(order: CaptureOrder):
    """Read ``order``'s video at its frame rate (frame i is what plays at i / fps) and capture its face."""
    from .backend.readers.capture import capture
    from .backend.readers.images import open_media

    media = open_media(order.path, constant_rate=True, fps=order.fps)
    if not media.is_video:
        raise ValueError(f"{order.path.name}: a still image; channels come from a video")
    order.total = media.n_frames

    def progress(_stage: str, done: int, _total: int) -> None:
        order.done = done

    return capture(media.frames, order.fps, face_readers(), progress=progress, total=media.n_frames,
                   cancel=order.cancelled.is_set)


def face_readers():
    """The face readers (loaded once, about a second; worker only), on the CPU with the threads their
    small nets run best on."""
    from .backend.model.threads import use_threads
    from .backend.readers.reading import READ_FLOPS, FaceReaders

    use_threads(READ_FLOPS)
    if STATE.face_readers is None:
        STATE.face_readers = FaceReaders()
    return STATE.face_readers
