"""File › Import › Emotion Script: the paper's format keyed onto faces and strips."""

from __future__ import annotations

from backend.script import parse_script

from ..conftest import FIG7_VIDEO1

IMPORT = '''
api = enable(rig=False)  # keying needs no model
compat = addon("compat")
script_path = os.path.join(os.getcwd(), "fig7.txt")
open(script_path, "w").write(sys.argv[1])
bad_path = os.path.join(os.getcwd(), "bad.txt")
open(bad_path, "w").write("joy\\nhapy\\n")

def keys_of(target):
    """channel → [(frame, value, interpolation)] from the target's F-curves."""
    out = {}
    for name in ("joy", "sadness", "anger", "fear", "surprise", "disgust", "eye_close", "mouth_open", "head_turn"):
        fc = compat.find_fcurve(target.id_data, addon("properties").channel_ref(target, name).path)
        out[name] = [(kp.co[0], round(kp.co[1], 6), kp.interpolation) for kp in fc.keyframe_points]
    return out

face = api.add_face(seed=0)
bpy.context.view_layer.objects.active = face
op = bpy.ops.latent_emotion.import_script(filepath=script_path, start_frame=0)
error = ""
try:
    bpy.ops.latent_emotion.import_script(filepath=bad_path, start_frame=0)
except RuntimeError as e:
    error = str(e)

strip = api.add_strip(frame_start=1, length=200)
keyed = api.import_script(strip, sys.argv[1], start=10, interpolation="CONSTANT")
path = addon("properties").channel_ref(strip, "joy").path
result(op=list(op), face=keys_of(face), error=error, strip=keys_of(strip), keyed=keyed, strip_path=path,
       strip_owner=strip.id_data.name, strip_joy_at_27=api.channel_values_at(strip, 27)["joy"],
       face_joy_at_16=api.channel_values_at(face, 16.5)["joy"])
'''


def test_imported_script_keys_the_parsers_frames_and_values(blender):
    out = blender.run(IMPORT, FIG7_VIDEO1)
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
