"""Key Channels from Video: a filmed face's channels keyed on a face, at the scene's frame rate."""

from __future__ import annotations

import numpy as np
import pytest

from backend.video import write_video

from ..test_capture import FPS, LEFT, RIGHT, performance_frames


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """The performance clip of tests/test_capture.py, a clip without a face, and a file that is no video."""
    tmp = tmp_path_factory.mktemp("videos")
    write_video(performance_frames(), tmp / "performance.mp4", FPS)
    write_video([np.full((64, 64, 3), 120, np.uint8)] * 4, tmp / "wall.mp4", FPS)
    (tmp / "notes.mp4").write_text("not a video")
    return tmp


KEYS = '''
api = enable()
capture = addon("capture")
clip, wall, notes = sys.argv[1:4]
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 10, 1.0
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
scene.frame_current = 5

def run(**props):
    try:
        return sorted(bpy.ops.latent_emotion.key_from_video(**props)), None
    except RuntimeError as e:  # an ERROR report
        return None, str(e)

status, error = run(filepath=clip, start_frame=5, reduce=False)
def keyed(target, channel="head_turn"):
    fc = addon("compat").find_fcurve(target.id_data, addon("properties").channel_ref(target, channel).paths)
    return [kp.co[0] for kp in fc.keyframe_points]
every = {f: api.channel_values_at(face, f) for f in range(5, 18)}

other = api.add_face(seed=2, name="Other")
reduced = api.key_from_video(other, clip, start=1, tolerance=0.05)
shifted = {f: api.channel_values_at(other, f) for f in range(1, 14)}

# A movie strip instead of a file: keys from where it starts; and a strip face, keyed through the API.
compat = addon("compat")
editor = scene.sequence_editor_create()
movie = compat.strips(editor).new_movie("Take 3", clip, 3, 7)
moviegoer = api.add_face(seed=4, name="Moviegoer")
bpy.context.view_layer.objects.active = moviegoer
from_strip = run(strip="Take 3")
strip_face = api.add_strip(frame_start=1, length=40, channel=5)
strip_keys = api.key_from_video(strip_face, clip, start=2, tolerance=None)
strip_turn = [api.channel_values_at(strip_face, 2 + i)["head_turn"] for i in range(13)]
bpy.context.view_layer.objects.active = face

errors = {}
for name, path in (("wall", wall), ("notes", notes)):
    errors[name] = run(filepath=path, start_frame=1)
    try:
        api.key_from_video(face, path)
        errors[name + "_api"] = None
    except ValueError as e:
        errors[name + "_api"] = str(e)

order = capture.start_capture(clip, 10)
addon("worker").shared_worker().cancel(order)
try:
    capture.wait(order)
    cancelled = None
except addon("backend.jobs").Cancelled as e:
    cancelled = [str(e), order.done]
result(status=status, error=error, keyed=keyed(face), every={str(k): v for k, v in every.items()},
       reduced=reduced, reduced_keys=keyed(other, "joy"), shifted={str(k): v for k, v in shifted.items()},
       errors=errors, cancelled=cancelled, after=keyed(face), from_strip=from_strip, strip_keyed=keyed(moviegoer),
       strip_keys=strip_keys, strip_turn=strip_turn)
'''


def test_video_keys_land_on_the_scene_frames_from_the_start_frame(blender, videos):
    out = blender.run(KEYS, str(videos / "performance.mp4"), str(videos / "wall.mp4"), str(videos / "notes.mp4"))
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
MODAL = '''
import time, types
api = enable()
capture = addon("capture")
Op = capture.LATENT_EMOTION_OT_key_from_video
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 10, 1.0
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face

def operator():
    op = types.SimpleNamespace(reports=[], strip="", filepath=sys.argv[1], start_frame=3, reduce=True,
                               tolerance=0.02, replace=True)
    op.report = lambda kind, message: op.reports.append([sorted(kind)[0], message])
    for name in ("begin", "start", "_source", "modal", "status", "_finish", "cancelled_report", "error_report",
                 "apply", "still_active"):
        setattr(op, name, types.MethodType(getattr(Op, name), op))
    assert op.begin(bpy.context)
    return op

op = operator()
cancelled = events_until_done(op, first="ESC")
cancel_reports, keyed_after_cancel = op.reports, face.animation_data is not None
op = operator()
done = events_until_done(op)
fc = addon("compat").find_fcurve(face, addon("properties").channel_ref(face, "joy").paths)
result(cancelled=cancelled, cancel_reports=cancel_reports, keyed_after_cancel=keyed_after_cancel,
       done=done, reports=op.reports, first_key=fc.keyframe_points[0].co[0], last_key=fc.keyframe_points[-1].co[0])
'''


def test_the_modal_operator_reads_on_the_worker_and_esc_cancels(blender, videos):
    out = blender.run(MODAL, str(videos / "performance.mp4"))
    assert out["cancelled"] == "CANCELLED" and not out["keyed_after_cancel"]
    assert out["cancel_reports"][0][0] == "WARNING" and "cancelled" in out["cancel_reports"][0][1]
    assert out["done"] == "FINISHED"
    assert out["reports"][0][0] == "INFO" and out["reports"][0][1].startswith("Keyed ")
    assert "missing in video frames 8-9" in out["reports"][0][1]
    assert out["first_key"] == 3 and out["last_key"] == 15
