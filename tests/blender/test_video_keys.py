"""Key Channels from Video: a filmed face's channels keyed on a face, at the scene's frame rate."""

from __future__ import annotations

import numpy as np
import pytest

from backend.rendering.video import write_video

from ..test_capture import FPS, LEFT, RIGHT, performance_frames
from .harness import script


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """The performance clip of tests/test_capture.py, a clip without a face, and a file that is no video."""
    tmp = tmp_path_factory.mktemp("videos")
    write_video(performance_frames(), tmp / "performance.mp4", FPS)
    write_video([np.full((64, 64, 3), 120, np.uint8)] * 4, tmp / "wall.mp4", FPS)
    (tmp / "notes.mp4").write_text("not a video")
    return tmp


KEYS = script("video_keys_keys")


def test_video_keys_land_on_the_scene_frames_from_the_start_frame(shared_blender, videos):
    out = shared_blender.run(KEYS, str(videos / "performance.mp4"), str(videos / "wall.mp4"), str(videos / "notes.mp4"))
    assert out["status"] == ["FINISHED"], out["error"]
    assert out["keyed"] == list(range(5, 18))  # 13 video frames at 10 fps, from frame 5
    v = {int(f): values for f, values in out["every"].items()}
    turn = [v[5 + i]["head_turn"] for i in range(13)]
    assert all(turn[i] > 0.2 for i in RIGHT)  # turned toward the image's right...
    assert all(turn[i] < -0.15 for i in list(LEFT)[1:])  # ...and the other way where the clip mirrors
    assert all(v[f]["joy"] > 0.9 for f in v)  # the photo smiles throughout
    # Reduced: fewer keys, first and last kept, the curves within the tolerance of every frame's keys.
    reduced = out["reduced"]
    assert reduced[0] == 1 and reduced[-1] == 13 and len(reduced) < 13
    assert out["reduced_keys"] == reduced
    for i in range(13):
        a, b = out["shifted"][str(1 + i)], v[5 + i]
        assert max(abs(a[c] - b[c]) for c in b if c != "brow_raise") <= 0.05 + 1e-4, i
    assert out["from_strip"][0] == ["FINISHED"] and out["strip_keyed"][0] == 7  # where the movie strip starts
    assert out["strip_keys"] == list(range(2, 15))  # a strip face: keys on its scene
    assert out["strip_turn"][1] > 0.2 and out["strip_turn"][6] < -0.15
    errors = out["errors"]
    assert errors["wall"][0] is None and "no face found in any of the 4 frames" in errors["wall"][1]
    assert errors["wall_api"] == "no face found in any of the 4 frames"
    assert errors["notes"][0] is None and "notes.mp4" in errors["notes"][1]
    assert "notes.mp4" in errors["notes_api"]
    assert out["after"] == out["keyed"]  # a failed capture keyed nothing
    assert out["cancelled"] is not None and out["cancelled"][1] < 13


# Blender's event loop does not run in the bpy module: the test sends the modal operator the events
# a window would (as tests/blender/test_frames.py does for the bake).
MODAL = script("video_keys_modal")


def test_the_modal_operator_reads_on_the_worker_and_esc_cancels(shared_blender, videos):
    out = shared_blender.run(MODAL, str(videos / "performance.mp4"))
    assert out["cancelled"] == "CANCELLED" and not out["keyed_after_cancel"]
    assert out["cancel_reports"][0][0] == "WARNING" and "cancelled" in out["cancel_reports"][0][1]
    assert out["done"] == "FINISHED"
    assert out["reports"][0][0] == "INFO" and out["reports"][0][1].startswith("Keyed ")
    assert "missing in video frames 8-9" in out["reports"][0][1]
    assert out["first_key"] == 3 and out["last_key"] == 15
