"""The one worker thread between Blender and the generator: frames into the frame cache (no bpy here).

``LatestWorker`` runs orders on a daemon thread, of two kinds:

- preview orders (``submit(order)``): at most one waits, and a new one replaces it (the latest
  request wins), so scrubbing over many uncached frames computes the frame being looked at, not
  every frame passed on the way. Finished ones are collected by the main thread (``done()``, from a
  ``bpy.app.timers`` callback), which alone touches Blender data;
- bakes (``submit(order, steps=True)``): kept in a queue and run one step (one frame) at a time,
  with any waiting preview order run between two steps, so the preview stays live during a bake and
  a cancelled bake stops after the frame it is computing. Their outcome is set on the order.
  A video capture (``CaptureOrder``), a photo inversion (``PhotoOrder``) and learning directions
  (``LearnOrder``) are queued the same way, each as one step (``WholeOrder``) that stops at its
  next frame, inversion step or batch once cancelled.

This module imports nothing from Blender, and the orders only hold plain values, so nothing here
can reach ``bpy``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from .backend.jobs import Cancelled
from .baking import SequenceRequest
from .rig import FaceRig, RigError, RigPaths, get_face_rig, get_rig
from .state import STATE

Order = TypeVar("Order")
WAIT_SECONDS = 0.02


@dataclass(frozen=True)
class PreviewOrder:
    """The frames one frame change needs: what the faces show at ``frame`` of ``scene``."""

    scene: str
    frame: int
    rigs: Sequence[FaceRig]  # the generator and directions of each request's face
    cache_root: Path
    requests: Sequence[SequenceRequest]
    submitted: float = field(default_factory=time.perf_counter)

    def run(self) -> int:
        return compute_frames(self)


def compute_frames(order: PreviewOrder) -> int:
    """Load the faces' rigs (once) and compute the order's frames that the cache lacks; how many were computed."""
    from .backend.rendering.frame_cache import FrameCache

    cache = FrameCache(order.cache_root)
    computed = 0
    failed: RigError | None = None
    for face, req in zip(order.rigs, order.requests):
        try:
            rig = get_face_rig(face)
            rig.use_threads()
            ws = rig.latents(req.face, req.values)
        except RigError as e:  # one face's wrong settings: the other faces still get their frames
            failed = failed or RigError(f"{req.label}: {e}")
            continue
        stop_at = rig.preview_stop(req.preview_size)
        target = rig.target_at(stop_at)
        missing = [w for w in ws if not cache.contains(target.key(w))]
        if missing:
            rig.ensure_frames(np.stack(missing), cache, stop_at)
            computed += len(missing)
    if failed is not None:
        raise failed  # reported by the main thread, after the others were made
    return computed


@dataclass(frozen=True)
class Finished(Generic[Order]):
    order: Order
    result: object = None
    error: BaseException | None = None


@dataclass(eq=False)
class BakeOrder:
    """Frames a bake needs that the cache lacks: computed one per step; ``computed`` and ``outcome``
    are written by the worker thread and read by the main thread."""

    paths: RigPaths
    cache_root: Path
    ws: Iterable[tuple[int, np.ndarray]]  # (stop_at, W+ code (num_ws, w_dim)), with len(): baking.PendingCodes
    computed: int = 0
    outcome: Finished | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def run(self) -> Iterator[int]:
        from .backend.rendering.frame_cache import FrameCache

        rig = get_rig(self.paths)
        rig.use_threads()
        cache = FrameCache(self.cache_root)
        for stop_at, w in self.ws:
            if self.cancelled.is_set():
                return
            rig.ensure_frames(w[None], cache, stop_at)
            self.computed += 1
            yield self.computed


@dataclass(eq=False, kw_only=True)
class WholeOrder:
    """An order the worker runs as one step (preview orders wait until it ends), cancelled between
    its own steps; ``done`` of ``total`` is written by the worker for the progress bar, and
    ``outcome`` at the end (its error the subclass's cancel exception once cancelled)."""

    done: int = 0
    total: int = 0
    outcome: Finished | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def run(self) -> Iterator[int]:
        yield from ()  # one step: the whole work
        return self.work()

    def work(self) -> object:
        raise NotImplementedError


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


@dataclass(frozen=True)
class PhotoCode:
    """A photo's face code for the rig's generator, and what the panel shows beside it."""

    w_plus: np.ndarray  # (num_ws, w_dim) float32
    fingerprint: str  # the generator's
    aligned: np.ndarray  # (res, res, 3) uint8: the photo's face, aligned
    reconstruction: np.ndarray  # (res, res, 3) uint8: G(w_plus)
    pixel_mae: float
    faces_found: int


@dataclass(eq=False)
class PhotoOrder(WholeOrder):
    """A photo inverted into the rig's generator (``backend.photos.face_code``: largest face, W then W+),
    ``done`` of ``total`` steps (``Cancelled``)."""

    path: Path
    paths: RigPaths
    steps: int

    def work(self) -> PhotoCode:
        return invert_photo(self)


def invert_photo(order: PhotoOrder) -> PhotoCode:
    """Detect, align and invert ``order``'s photo (worker only: no bpy)."""
    from .backend.photos.face_code import FaceFeatures, invert_aligned, photo_face, read_photo
    from .backend.readers.reading import FaceReaders

    rig = get_rig(order.paths)
    image, _ = read_photo(order.path)
    face = photo_face(image, rig.resolution, None, FaceReaders(crop_size=rig.resolution, device=str(rig.G.device)))
    order.total = order.steps + order.steps // 2
    features = FaceFeatures(face.box, rig.G.device)

    def progress(stage: str, done: int, _total: int) -> None:
        order.done = done if stage == "W" else order.steps + done

    result = invert_aligned(rig.G, face.aligned, steps=order.steps, features=features, progress=progress,
                            cancel=order.cancelled.is_set)
    return PhotoCode(result.w_plus.astype(np.float32), rig.info.fingerprint, result.aligned, result.reconstruction,
                     result.pixel_mae, face.found)


@dataclass(frozen=True)
class LearnedFile:
    """What a Learn Directions order wrote."""

    directions: Path
    report: Path
    samples: int  # drawn
    readable: int  # read by the reader (used)
    made: int  # made in this run (the rest came from the work folder)
    skipped: tuple[tuple[str, str], ...]  # (channel, why) left without a direction
    channels: tuple[str, ...] = ()  # the channels the file has

    @property
    def missing(self) -> tuple[str, ...]:
        """Built-in channels the file has no direction for (a face keyed with them would not bake)."""
        from .backend.animation.channels import CHANNEL_NAMES

        return tuple(name for name in CHANNEL_NAMES if name not in self.channels)


@dataclass(eq=False)
class LearnOrder(WholeOrder):
    """learn-directions (``backend.learning.self_labelled``) for a model, samples stored in ``work``
    as they are made (a cancelled run resumes), ``done`` of ``total`` in ``stage`` (``Cancelled``)."""

    model: Path
    device: str
    reader: str  # "faces" or "probe:PATH" (backend.learning.readers.reader_from_spec)
    out: Path
    work_dir: Path
    samples: int
    faces: int
    stage: str = ""

    def work(self) -> LearnedFile:
        return learn_directions(self)


def learn_directions(order: LearnOrder) -> LearnedFile:
    """Learn, calibrate and write ``order``'s directions file and its report (worker only: no bpy)."""
    import json

    from .backend.animation.directions import save_directions
    from .backend.files import write_atomic
    from .backend.learning.readers import reader_from_spec
    from .backend.learning.self_labelled import LearnSettings, learn_generator_directions, learning_report
    from .backend.model.checkpoints import load_generator
    from .backend.model.devices import pick_device
    from .backend.model.threads import use_threads_for

    G, info = load_generator(order.model, pick_device(order.device))
    if G.device.type == "cpu":
        use_threads_for(G.config)
    reader = reader_from_spec(order.reader, "labeller", str(G.device))
    settings = LearnSettings(samples=order.samples, faces=order.faces)

    def progress(stage: str, done: int, total: int) -> None:
        order.stage, order.done, order.total = stage, done, total

    result = learn_generator_directions(G, info.fingerprint, reader.read, reader.key, order.work_dir, settings,
                                        reader_name=order.reader, progress=progress, cancel=order.cancelled.is_set)
    save_directions(result.directions, order.out)
    report = order.out.with_name(order.out.name.removesuffix(".json") + ".report.json")
    write_atomic(report, json.dumps(learning_report(result, settings, model=str(order.model),
                                                    generator_fingerprint=info.fingerprint,
                                                    reader=reader.description, device=str(G.device),
                                                    work=str(order.work_dir)), indent=2) + "\n")
    return LearnedFile(order.out, report, result.samples, result.readable, result.made,
                       tuple(result.learned.skipped), result.directions.names)


def wait_order(order, cancelled: Callable[[], str]):
    """A stepped order's result, waiting for the worker (no window: scripts, background Blender); its
    error raised again, ``Cancelled(cancelled())`` once it was cancelled."""
    while order.outcome is None:
        time.sleep(WAIT_SECONDS)
    if order.cancelled.is_set():  # also when dropped before it started, or when it ended meanwhile
        raise Cancelled(cancelled())
    if order.outcome.error is not None:
        raise order.outcome.error
    return order.outcome.result


def face_readers():
    """The face readers (loaded once, about a second; worker only), on the CPU with the threads their
    small nets run best on."""
    from .backend.model.threads import use_threads
    from .backend.readers.reading import READ_FLOPS, FaceReaders

    use_threads(READ_FLOPS)
    if STATE.face_readers is None:
        STATE.face_readers = FaceReaders()
    return STATE.face_readers


def run_order(order) -> object:
    """What the worker does with an order: its ``run()`` (an iterator of steps for a bake)."""
    return order.run()


def shared_worker() -> LatestWorker:
    """The add-on's one worker (made on first use; ``stop_shared_worker`` on unregister)."""
    if STATE.worker is None:
        STATE.worker = LatestWorker(run_order)
    return STATE.worker


def stop_shared_worker() -> bool:
    """Stop the worker thread (Blender 4.2/4.5 hang at exit otherwise); False if it did not stop in time."""
    worker, STATE.worker = STATE.worker, None
    return worker is None or worker.stop()


class LatestWorker(Generic[Order]):
    """One thread running ``work(order)``: preview orders (the latest wins) and bakes (queued, stepped)."""

    def __init__(self, work: Callable[[Order], object], name: str = "latent-emotion-worker") -> None:
        self.work = work
        self.name = name
        self.submitted = 0  # orders submitted
        self.dropped = 0  # replaced while waiting, never run
        self.ran = 0  # orders run to their end
        self._cond = threading.Condition()
        self._pending: Order | None = None
        self._queue: deque = deque()  # bakes, the first one running step by step
        self._steps: dict[int, Iterator] = {}  # id(bake) → its steps, once started
        self._busy = False  # running a preview order
        self._stepping = False  # running a bake's step
        self._stopping = False
        self._done: deque[Finished[Order]] = deque()
        self._thread: threading.Thread | None = None

    def submit(self, order: Order, steps: bool = False) -> None:
        with self._cond:
            if self._stopping:
                return
            if steps:
                self._queue.append(order)
            else:
                if self._pending is not None:
                    self.dropped += 1
                self._pending = order
            self.submitted += 1
            if self._thread is None or not self._thread.is_alive():
                # Daemon: a thread left running must never keep Blender from exiting.
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def cancel(self, order) -> None:
        """Stop a bake: dropped if it has not started, else it ends after the step it is in."""
        order.cancelled.set()
        with self._cond:
            if order in self._queue and id(order) not in self._steps:
                self._queue.remove(order)
                order.outcome = Finished(order, result=0)

    def done(self) -> list[Finished[Order]]:
        """The preview orders finished since the last call (main thread)."""
        out = []
        while self._done:
            out.append(self._done.popleft())
        return out

    @property
    def idle(self) -> bool:
        """No preview order waiting, running or left to collect (bakes report on their orders)."""
        with self._cond:
            return self._pending is None and not self._busy and not self._done

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> bool:
        """Drop the waiting orders, let the running step end, join the thread; False if it is still running."""
        with self._cond:
            self._stopping = True
            if self._pending is not None:
                self.dropped += 1
            self._pending = None
            for order in self._queue:
                order.cancelled.set()
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return not self.alive

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                if self._pending is not None:  # the preview first: one bake step at most in between
                    order, self._pending = self._pending, None
                    self._busy = True
                else:
                    order = self._queue[0]
                    self._stepping = True
            if self._stepping:
                self._step(order)
                continue
            try:
                finished = Finished(order, result=self.work(order))
            except BaseException as e:  # reported by the main thread; the worker lives on
                finished = Finished(order, error=e)
            with self._cond:
                self.ran += 1
                self._done.append(finished)
                self._busy = False

    def _step(self, order) -> None:
        outcome = None
        try:
            steps = self._steps.get(id(order))
            if steps is None:
                steps = self._steps[id(order)] = iter(self.work(order))
            next(steps)
        except StopIteration as stop:
            outcome = Finished(order, result=stop.value)
        except BaseException as e:  # on the order, for the main thread
            outcome = Finished(order, error=e)
        with self._cond:
            self._stepping = False
            if outcome is not None:
                self._steps.pop(id(order), None)
                if self._queue and self._queue[0] is order:
                    self._queue.popleft()
                self.ran += 1
                order.outcome = outcome
