"""Keyed channels → baked frames: the same pixels as the backend, computed only when they change."""

from __future__ import annotations

INBETWEENS = '''
import numpy as np
import torch

api = enable()
face = api.add_face(seed=3, truncation=0.6)
extra = [item.name for item in face.latent_emotion.extra]
api.key_channels(face, 1, interpolation="LINEAR", joy=0.0, surprise=1.0, brow_raise=0.0)
api.key_channels(face, 11, interpolation="LINEAR", joy=1.0, surprise=-0.5, brow_raise=0.8)
first = api.bake(face, 1, 11)
again = api.bake(face, 1, 11)

repo_backend()
from backend.checkpoints import load_generator
from backend.directions import load_directions
from backend.frame_cache import snap_w
from backend.generator import images_to_uint8
from backend.latent import compose_latent
from backend.video import decode_png

G, info = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])
w_face = G.w_from_seed(3, truncation_psi=0.6).numpy()[0]
checks = {}
for f in (1, 4, 7, 11):
    values = api.channel_values_at(face, f)
    ws = compose_latent(w_face, values, directions)
    expected = images_to_uint8(G.synthesize(torch.from_numpy(snap_w(ws)[None])))[0]
    baked = decode_png(api.frame_path(face, f).read_bytes())
    checks[f] = dict(joy=values["joy"], surprise=values["surprise"], brow=values["brow_raise"],
                     equal=bool(np.array_equal(expected, baked)), shape=list(baked.shape),
                     array_equal=bool(np.array_equal(api.frame_array(face, f), baked)))

# One key changes: only the frames after the first keyframe differ.
api.key_channels(face, 11, interpolation="LINEAR", joy=0.5)
changed = api.bake(face, 1, 11)

# Preview files are smaller; a final bake puts full-size frames back without recomputing.
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.preview_resolution = 16
preview = api.bake(face, 1, 3, preview=True)
preview_shape = list(decode_png(api.frame_path(face, 2).read_bytes()).shape)
final = api.bake(face, 1, 3)
final_shape = list(decode_png(api.frame_path(face, 2).read_bytes()).shape)
image = face.latent_emotion.image

# A duplicated face (Shift+D copies its settings) gets frames of its own at its first bake.
twin = face.copy()
twin.animation_data.action = face.animation_data.action.copy()
bpy.context.scene.collection.objects.link(twin)
api.key_channels(twin, 11, joy=-1.0)
api.bake(twin, 11, 11)
twin_files = [str(api.frame_path(t, 11)) for t in (face, twin)]
twin_materials = [t.material_slots[0].material.name for t in (face, twin)]
result(twin_files=twin_files, twin_materials=twin_materials,
       twin_images=[t.latent_emotion.image.name for t in (face, twin)],
extra=extra, checks=checks, first=[first.frames, first.computed, first.written],
       again=[again.frames, again.computed, again.written], changed=[changed.computed, changed.written],
       preview=[preview.computed, preview.written], preview_shape=preview_shape,
       final=[final.computed, final.written], final_shape=final_shape,
       image=[image.source, os.path.basename(image.filepath)])
'''


def test_keyed_inbetween_frames_are_the_backends_pixels_and_only_changes_are_recomputed(blender):
    out = blender.run(INBETWEENS)
    assert out["extra"] == ["brow_raise"]
    checks = {int(f): c for f, c in out["checks"].items()}
    for f, c in checks.items():
        t = (f - 1) / 10  # linear keys at frames 1 and 11
        assert abs(c["joy"] - t) < 1e-6 and abs(c["surprise"] - (1 - 1.5 * t)) < 1e-6
        assert abs(c["brow"] - 0.8 * t) < 1e-6
        assert c["equal"] and c["array_equal"] and c["shape"] == [32, 32, 3], (f, c)
    assert out["first"] == [11, 11, 11]
    assert out["again"] == [11, 0, 0]
    assert out["changed"] == [10, 10]
    assert out["preview"] == [0, 3] and out["preview_shape"] == [16, 16, 3]
    assert out["final"] == [0, 3] and out["final_shape"] == [32, 32, 3]
    assert out["image"] == ["SEQUENCE", "frame_00001.png"]
    assert out["twin_files"][0] != out["twin_files"][1]
    assert len(set(out["twin_materials"])) == 2 and len(set(out["twin_images"])) == 2


DRIVEN_AND_OPERATOR = '''
import numpy as np
import torch

api = enable()
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
fc = face.driver_add("latent_emotion.surprise")
fc.driver.type = "SCRIPTED"
fc.driver.expression = "frame / 20"  # a simple expression: evaluated without Python auto-run
api.key_channels(face, 1, joy=0.25)
bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 5
state = list(bpy.ops.latent_emotion.bake("INVOKE_DEFAULT"))  # no window: runs to the end at once

repo_backend()
from backend.checkpoints import load_generator
from backend.directions import load_directions
from backend.frame_cache import snap_w
from backend.generator import images_to_uint8
from backend.latent import compose_latent
from backend.video import decode_png

G, info = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])
w = G.w_from_seed(1, truncation_psi=0.7).numpy()[0]
values = {name: 0.0 for name in directions.names}
values.update(joy=0.25, surprise=4 / 20)
expected = images_to_uint8(G.synthesize(torch.from_numpy(snap_w(compose_latent(w, values, directions))[None])))[0]
baked = decode_png(api.frame_path(face, 4).read_bytes())
result(state=state, equal=bool(np.array_equal(expected, baked)), frame=bpy.context.scene.frame_current,
       files=sorted(p.name for p in api.frame_path(face, 1).parent.glob("*.png")))
'''


def test_bake_operator_evaluates_drivers_and_bakes_the_scene_range(blender):
    out = blender.run(DRIVEN_AND_OPERATOR)
    assert out["state"] == ["FINISHED"]
    assert out["equal"]
    assert out["frame"] == 1  # the frame stepping for drivers puts the scene back
    assert out["files"] == [f"frame_{f:05d}.png" for f in range(1, 6)]


MODAL = '''
import types
api = enable()
ops, jobs = addon("operators"), addon("jobs")
Bake = ops.LATENT_EMOTION_OT_bake
scene = bpy.context.scene
face = api.add_face(seed=2)
api.key_channels(face, 1, joy=-1.0)
api.key_channels(face, 3, joy=1.0)

class Event:
    def __init__(self, type): self.type, self.value = type, "PRESS"

def fake_operator():
    """What invoke() leaves on the operator (no window here, so invoke itself cannot run)."""
    op = types.SimpleNamespace(reports=[])
    op.report = lambda kind, message: op.reports.append([sorted(kind)[0], message])
    op._end = types.MethodType(Bake._end, op)
    op._job_ref = jobs.make_job(scene, [face], range(1, 4), interactive=True)
    op._scene_name = scene.name
    ops._modal.update(op=op, timer=None, wm=bpy.context.window_manager)
    return op

op = fake_operator()
full = [sorted(Bake.modal(op, bpy.context, Event(t)))[0] for t in ("MOUSEMOVE", "TIMER", "TIMER", "TIMER")]
full_state = [op._job_ref.done, op.reports, dict(ops._modal), bpy.ops.latent_emotion.bake.poll()]
api.key_channels(face, 3, joy=0.0)
op = fake_operator()
poll_while_running = bpy.ops.latent_emotion.bake.poll()
cancel = [sorted(Bake.modal(op, bpy.context, Event(t)))[0] for t in ("TIMER", "ESC")]
result(full=full, full_state=full_state, poll_while_running=poll_while_running, cancel=cancel,
       cancel_reports=op.reports, cancel_done=op._job_ref.done)
'''


def test_modal_bake_steps_one_frame_per_timer_event_and_esc_cancels(blender):
    out = blender.run(MODAL)
    assert out["full"] == ["PASS_THROUGH", "RUNNING_MODAL", "RUNNING_MODAL", "FINISHED"]
    done, reports, modal, poll_after = out["full_state"]
    assert done == 3 and reports == [["INFO", "Bake done: 3/3 files (3 frames computed)"]]
    assert modal == {} and poll_after
    assert not out["poll_while_running"]
    assert out["cancel"] == ["RUNNING_MODAL", "CANCELLED"] and out["cancel_done"] == 1
    assert out["cancel_reports"] == [["WARNING", "Bake cancelled: 1/2 files (1 frames computed)"]]
