"""Long jobs (render, learn, invert, capture, bake, install): the one protocol they all speak.

A job reports through one ``Progress`` callback, ``progress(stage, done, total)`` (``total`` 0 when
unknown), asks one ``Cancel`` check between its steps and raises one ``Cancelled`` when it says
stop; what the job stored so far stays (a rerun resumes). The CLI shows progress with
``ProgressLine``; the add-on's worker copies it into the order that Blender's timers poll.
Standard library only: ``deps`` uses it before anything else is installed.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Progress = Callable[[str, int, int], None]  # (stage, done, total); total 0 when unknown
Cancel = Callable[[], bool]


class Cancelled(Exception):
    """A job stopped because its cancel check asked it to; what it stored so far stays."""


def check_cancel(cancel: Cancel | None, what: str) -> None:
    """Raise ``Cancelled(what)`` when ``cancel()`` says stop."""
    if cancel is not None and cancel():
        raise Cancelled(what)


class ProgressLine:
    """A ``Progress`` for a terminal: on a TTY one line rewritten in place (at most every
    ``tty_interval`` seconds), elsewhere (logs, pipes) a whole line at most every ``interval``
    seconds; the first report, a stage's end and ``close()`` always print. The rate and ETA are
    those of this run's work (a stage's first report, e.g. samples found stored, is the start)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 5.0, tty_interval: float = 0.2) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = tty_interval if self.tty else interval
        self.stage, self.start, self.first, self.last, self.open = "", 0.0, 0, float("-inf"), False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != self.stage:
            self.close()
            self.stage, self.start, self.first, self.last = stage, now, done, float("-inf")
        finished = total > 0 and done >= total
        if not finished and now - self.last < self.interval:
            return
        self.last = now
        self._write(self._text(stage, done, total, now), finished)
        if finished:
            self.stage = ""

    def _text(self, stage: str, done: int, total: int, now: float) -> str:
        elapsed = now - self.start
        if total <= 0:
            return f"{stage} {done} ({elapsed:.0f} s)"
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        eta = f", about {(total - done) / rate:.0f} s left" if rate > 0 and done < total else ""
        return f"{stage} {done}/{total} ({elapsed:.0f} s{eta})"

    def _write(self, text: str, finished: bool) -> None:
        if self.tty:
            self.stream.write("\r" + text + "   " + ("\n" if finished else ""))
            self.open = not finished
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End a line left open (before an error message or another stage's line)."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


class Terminated(BaseException):
    """SIGTERM (``timeout``, farm managers): unwinds like Ctrl-C, so partial files are removed."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While inside: SIGTERM raises ``Terminated`` (on the main thread; elsewhere nothing changes).
    The previous handler is restored on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
