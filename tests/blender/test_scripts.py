"""File › Import › Emotion Script: the paper's format keyed onto faces and strips."""

from __future__ import annotations

from backend.animation.script import parse_script

from ..conftest import FIG7_VIDEO1
from .harness import script

IMPORT = script("scripts_import")


def test_imported_script_keys_the_parsers_frames_and_values(shared_blender):
    out = shared_blender.run(IMPORT, FIG7_VIDEO1)
    clip = parse_script(FIG7_VIDEO1).clips[0]
    frames = [k.frame for k in clip.keyframes]
    assert frames == [0, 33, 66, 99, 132, 165]
    assert out["op"] == ["FINISHED"]
    for channel, keys in out["face"].items():
        assert [k[0] for k in keys] == frames
        assert [k[1] for k in keys] == [round(k.values[channel], 6) for k in clip.keyframes]
        assert {k[2] for k in keys} == {"LINEAR"}
    assert out["face"]["joy"][1][1] == 1 and out["face"]["disgust"][1][1] == 1
    assert out["face"]["head_turn"][3][1] == 1 and out["face"]["anger"][5][1] == 1
    assert abs(out["face_joy_at_16"] - 0.5) < 1e-6  # linear half-way from 0 (frame 0) to 1 (frame 33)

    assert "line 2, column 1" in out["error"] and "hapy" in out["error"]

    assert out["keyed"] == [f + 10 for f in frames]
    assert [k[0] for k in out["strip"]["joy"]] == [f + 10 for f in frames]
    assert {k[2] for k in out["strip"]["joy"]} == {"CONSTANT"}
    assert out["strip_path"] == "latent_emotion_strips[0].joy"
    assert out["strip_owner"] == "Scene"
    assert out["strip_joy_at_27"] == 0.0  # constant: still the start face until frame 43
