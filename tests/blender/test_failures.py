"""Frames that cannot be made: a background render fails with an exit code, an interactive one shows
an error frame (never a missing file, never a stale one) and says so on the face's panel."""

from __future__ import annotations

import numpy as np
import pytest

from backend.rendering.video import decode_png

from .harness import script

pytestmark = pytest.mark.slow

SCENE = script("failures_scene")

MISSING_MODEL = SCENE + script("failures_missing_model")


def test_background_render_exits_nonzero_when_the_model_file_is_missing(blender, tmp_path):
    out = blender.run(MISSING_MODEL, str(tmp_path), expect_rc=3)
    assert "finished" not in out
    assert not list(tmp_path.glob("*.png"))  # it stopped before the first frame
    assert "strip 'Emotion Face', frame 1 cannot be made" in out["_stdout"]
    assert "no-such-model.safetensors" in out["_stdout"]


BAD_VALUE = SCENE + script("failures_bad_value")


def test_background_render_exits_nonzero_on_a_bad_channel_value(blender, tmp_path):
    out = blender.run(BAD_VALUE, str(tmp_path), expect_rc=3)
    assert "finished" not in out
    assert "frame 2 cannot be made" in out["_stdout"] and "joy" in out["_stdout"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["0001.png"]


INTERACTIVE = SCENE + script("failures_interactive")


def test_interactive_render_shows_error_frames_and_reports_on_the_panel(blender, tmp_path):
    out = blender.run(INTERACTIVE, str(tmp_path))
    assert out["finished"] and not out["rendering"]
    assert out["failures"] == 3
    assert out["panel"].startswith("Render failed: strip 'Emotion Face', frame 3 cannot be made")
    for f in (1, 2, 3):
        frame = decode_png((tmp_path / f"{f:04d}.png").read_bytes())
        assert frame.shape == (32, 32, 3)
        assert (frame == np.array([255, 0, 255], np.uint8)).all(), f"frame {f} is not the error frame"


PREVIEW = SCENE + script("failures_preview")


def test_preview_errors_stay_on_the_faces_panel(shared_blender, tmp_path):
    out = shared_blender.run(PREVIEW, str(tmp_path))
    assert out["panel"] and "no-such-model.safetensors" in out["panel"]
