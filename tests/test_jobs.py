"""backend.jobs: one progress shape, one cancel, one Cancelled, for every long job."""

from __future__ import annotations

import io
import signal

import numpy as np
import pytest

from backend.jobs import Cancelled, ProgressLine, Terminated, check_cancel, sigterm_unwinds
from backend.model.generator import Generator, synthesize_frames
from backend.photos.face_code import invert_aligned

from .conftest import randomize_, tiny_config


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr("backend.jobs.time.perf_counter", c)
    return c


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_whole_lines_at_most_every_interval_and_every_stage_end(clock):
    out = io.StringIO()
    line = ProgressLine(out, interval=5.0)
    for done in range(1, 11):
        clock.now = done * 1.0
        line("frames", done, 10)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [x.split()[1] for x in lines] == ["1/10", "6/10", "10/10"]  # first, 5 s later, the end
    assert lines[-1].startswith("frames 10/10 (9 s")


def test_a_terminal_gets_one_line_rewritten_and_ended_before_the_next_stage(clock):
    out = _Tty()
    line = ProgressLine(out)
    line("W", 1, 4)
    clock.now = 1.0
    line("W", 2, 4)
    line("W+", 1, 2)  # a new stage: the open line ends first
    clock.now = 2.0
    line("W+", 2, 2)
    text = out.getvalue()
    assert text.count("\n") == 2 and text.endswith("\n")
    assert "\rW 2/4" in text and text.index("\rW 2/4") < text.index("\n") < text.index("\rW+ 1/2")


def test_close_ends_an_open_line_once(clock):
    out = _Tty()
    line = ProgressLine(out)
    line("sampling", 3, 100)
    line.close()
    line.close()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


def test_unknown_totals_print_the_count_without_an_eta(clock):
    out = io.StringIO()
    ProgressLine(out)("encoding", 7, 0)
    assert out.getvalue() == "encoding 7 (0 s)\n"


def test_check_cancel_raises_only_when_asked():
    check_cancel(None, "x")
    check_cancel(lambda: False, "x")
    with pytest.raises(Cancelled, match="stop now"):
        check_cancel(lambda: True, "stop now")


def test_sigterm_unwinds_inside_and_the_old_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with sigterm_unwinds():
            signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_cancelled_photo_inversion_raises_cancelled_after_reporting_its_steps():
    G = randomize_(Generator(tiny_config()).eval(), seed=3)
    photo = synthesize_frames(G, G.w_from_seed(1).numpy())[0]
    seen = []
    with pytest.raises(Cancelled, match="after 3 of 50 W steps"):
        invert_aligned(G, photo, steps=50, progress=lambda *a: seen.append(a), cancel=lambda: len(seen) >= 3)
    assert seen == [("W", 1, 50), ("W", 2, 50), ("W", 3, 50)]
    assert np.isfinite(photo).all()
