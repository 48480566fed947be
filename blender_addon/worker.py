"""The preview's worker thread: frames into the frame cache, off Blender's main thread (no bpy here).

``LatestWorker`` runs one order at a time on a daemon thread and keeps at most one order waiting:
a new order replaces the waiting one (the latest request wins), so scrubbing over many uncached
frames computes the frame being looked at, not every frame passed on the way. Finished orders are
collected by the main thread (``done()``, from a ``bpy.app.timers`` callback), which alone touches
Blender data. This module imports nothing from Blender, and ``compute_frames`` only reads plain
values (``PreviewOrder``), so nothing here can reach ``bpy``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from .baking import SequenceRequest
from .rig import RigError, RigPaths, get_rig

Order = TypeVar("Order")


@dataclass(frozen=True)
class PreviewOrder:
    """The frames one frame change needs: what the faces show at ``frame`` of ``scene``."""

    scene: str
    frame: int
    paths: RigPaths
    cache_root: Path
    requests: Sequence[SequenceRequest]
    submitted: float = field(default_factory=time.perf_counter)


def compute_frames(order: PreviewOrder) -> int:
    """Load the rig (once) and compute the order's frames that the cache lacks; how many were computed."""
    from .backend.frame_cache import FrameCache

    rig = get_rig(order.paths)
    cache = FrameCache(order.cache_root)
    computed = 0
    failed: RigError | None = None
    for req in order.requests:
        try:
            ws = rig.latents(req.face, req.values)
        except RigError as e:  # one face's wrong settings: the other faces still get their frames
            failed = failed or RigError(f"{req.label}: {e}")
            continue
        missing = [w for w in ws if not cache.contains(rig.target.key(w))]
        if missing:
            rig.ensure_frames(np.stack(missing), cache)
            computed += len(missing)
    if failed is not None:
        raise failed  # reported by the main thread, after the others were made
    return computed


@dataclass(frozen=True)
class Finished(Generic[Order]):
    order: Order
    result: object = None
    error: BaseException | None = None


class LatestWorker(Generic[Order]):
    """One thread running ``work(order)``; a submitted order replaces the one still waiting."""

    def __init__(self, work: Callable[[Order], object], name: str = "latent-emotion-preview") -> None:
        self.work = work
        self.name = name
        self.submitted = 0  # orders submitted
        self.dropped = 0  # replaced while waiting, never run
        self.ran = 0  # orders run
        self._cond = threading.Condition()
        self._pending: Order | None = None
        self._busy = False
        self._stopping = False
        self._done: deque[Finished[Order]] = deque()
        self._thread: threading.Thread | None = None

    def submit(self, order: Order) -> None:
        with self._cond:
            if self._stopping:
                return
            if self._pending is not None:
                self.dropped += 1
            self._pending = order
            self.submitted += 1
            if self._thread is None or not self._thread.is_alive():
                # Daemon: a thread left running must never keep Blender from exiting.
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def done(self) -> list[Finished[Order]]:
        """The orders finished since the last call (main thread)."""
        out = []
        while self._done:
            out.append(self._done.popleft())
        return out

    @property
    def idle(self) -> bool:
        """Nothing waiting, nothing running, nothing left to collect."""
        with self._cond:
            return self._pending is None and not self._busy and not self._done

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> bool:
        """Drop the waiting order, let the running one end, join the thread; False if it is still running."""
        with self._cond:
            self._stopping = True
            if self._pending is not None:
                self.dropped += 1
            self._pending = None
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return not self.alive

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                order, self._pending = self._pending, None
                self._busy = True
            try:
                finished = Finished(order, result=self.work(order))
            except BaseException as e:  # reported by the main thread; the worker lives on
                finished = Finished(order, error=e)
            with self._cond:
                self.ran += 1
                self._done.append(finished)
                self._busy = False
