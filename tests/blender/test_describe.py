"""Describe: a description in plain English keyed on a face from the current frame, its script kept in a text."""

from __future__ import annotations
from .harness import script

DESCRIBE = script("describe_describe")


def test_a_description_is_keyed_from_the_current_frame_and_its_script_kept(shared_blender):
    out = shared_blender.run(DESCRIBE)
    assert out["status"] == ["FINISHED"]
    # 10 fps: smiles over 1 s, held 0.5 s, surprised over 2.5 s ("slowly"), held 0.5 s; from frame 20.
    assert out["joy"] == [[20.0, 0.0], [30.0, 1.0], [35.0, 1.0], [60.0, 0.0], [65.0, 0.0]]
    assert out["surprise"] == [[20.0, 0.0], [30.0, 0.0], [35.0, 0.0], [60.0, 1.0], [65.0, 1.0]]
    text = out["text"]
    assert text.startswith("# Made from the description: She smiles") and "surprise +25" in text
    assert "# not understood: 'glorps' at character 46" in text  # reported, never dropped
    assert "# sentence model not used" in text  # the test extension is built without models/text
    # The console API on a strip: keys on the strip's scene, at its rate: frowns over 1 s, held 2 s.
    assert out["strip_keyed"][0] == 5 and out["strip_anger"][1] == [15.0, 1.0] and out["strip_anger"][2] == [35.0, 1.0]
    assert "anger +10" in out["strip_script"]
    assert "nothing in the description says what the face does" in out["refused"]
    assert out["joy_after"] == out["joy"]  # a refused description keys nothing


FROM_KEYED = script("describe_from_keyed")


def test_describe_starts_from_the_faces_values_at_the_current_frame(shared_blender):
    out = shared_blender.run(FROM_KEYED)
    assert out["status"] == ["FINISHED"]
    joy = {int(f): v for f, v in out["joy"].items()}
    assert joy[20] == 1.0 and joy[35] == 1.0 and joy[50] == 1.0  # the smile holds until the description starts
    assert 0.0 < joy[100] < 1.0 and joy[150] == 0.0 and joy[160] == 0.0  # then fades over 4 s (100 frames)
    assert "joy @0" in out["text"] and "# the values the performance starts from" in out["text"]
