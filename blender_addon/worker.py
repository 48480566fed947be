"""The one worker thread between Blender and the generator: a scheduler that knows no feature (no bpy here).

``LatestWorker`` runs orders on a daemon thread, each by calling its own ``run()``; the orders and
their work live with their features (``preview_job``, ``baking.BakeOrder``, ``capture_job``,
``photo_job``, ``learn_job``). Two kinds:

- preview orders (``submit(order)``): at most one waits, and a new one replaces it (the latest
  request wins), so scrubbing over many uncached frames computes the frame being looked at, not
  every frame passed on the way. Finished ones are collected by the main thread (``done()``, from a
  ``bpy.app.timers`` callback), which alone touches Blender data;
- stepped orders (``submit(order, steps=True)``): kept in a queue; ``run()`` returns an iterator
  whose every step (a bake's frame) runs alone, with any waiting preview order run between two
  steps, so the preview stays live during a bake and a cancelled bake stops after the frame it is
  computing. They carry ``cancelled`` (a ``threading.Event``) and ``outcome`` (set by the worker).
  A ``WholeOrder`` (a video capture, a photo inversion, learning directions) is one step, its
  ``work()`` stopping at its next frame, inversion step or batch once cancelled.

This module imports nothing from Blender nor from any feature; the orders only hold plain values,
so nothing the worker runs can reach ``bpy``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .backend.jobs import Cancelled
from .state import STATE

Order = TypeVar("Order")
WAIT_SECONDS = 0.02


@dataclass(frozen=True)
class Finished(Generic[Order]):
    order: Order
    result: object = None
    error: BaseException | None = None


@dataclass(eq=False, kw_only=True)
class WholeOrder:
    """An order the worker runs as one step (preview orders wait until it ends), cancelled between
    its own steps; ``done`` of ``total`` is written by the worker for the progress bar, and
    ``outcome`` at the end (its error ``Cancelled`` once cancelled). Subclasses define ``work()``."""

    done: int = 0
    total: int = 0
    outcome: Finished | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def run(self) -> Iterator[int]:
        yield from ()  # one step: the whole work
        return self.work()

    def work(self) -> object:
        raise NotImplementedError


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


def run_order(order) -> object:
    """What the worker does with an order: its ``run()`` (an iterator of steps for a stepped order)."""
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
