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
import threading, time, types
api = enable()
ops, rig_module = addon("operators"), addon("rig")
STATE = addon("state").STATE
Bake = ops.LATENT_EMOTION_OT_bake
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 6
face = api.add_face(seed=2)
bpy.context.view_layer.objects.active = face

# Which thread runs the generator; ``gate`` holds it inside a frame.
threads, gate = [], threading.Event()
gate.set()
ensure_frames = rig_module.Rig.ensure_frames
def recorded(self, ws, cache, *args):
    threads.append(threading.current_thread().name)
    gate.wait(60)
    return ensure_frames(self, ws, cache, *args)
rig_module.Rig.ensure_frames = recorded
loaded_on = []
rig_init = rig_module.Rig.__init__
load_gate = threading.Event()  # closed: the model stays loading until the test has looked
load_gate.set()
def recorded_init(self, paths):
    loaded_on.append(threading.current_thread().name)
    load_gate.wait(60)
    rig_init(self, paths)
rig_module.Rig.__init__ = recorded_init

class Event:
    def __init__(self, type): self.type, self.value = type, "PRESS"

def operator():
    """What invoke() leaves on the operator (no window here, so invoke itself cannot run)."""
    op = types.SimpleNamespace(reports=[], scope="ACTIVE", preview=False)
    op.report = lambda kind, message: op.reports.append([sorted(kind)[0], message])
    for name in ("begin", "start", "_job", "_targets", "_scene", "modal", "_on_model_timer", "_on_timer", "_end"):
        setattr(op, name, types.MethodType(getattr(Bake, name), op))
    STATE.modal_bake.update(op=op, timer=None, wm=bpy.context.window_manager)
    assert op.begin(bpy.context)
    return op

def timer_until_done(op, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        state = sorted(op.modal(bpy.context, Event("TIMER")))[0]
        if state != "RUNNING_MODAL":
            return state
        time.sleep(0.01)
    raise SystemExit("the bake did not finish")

def key(joy_end):
    api.key_channels(face, 1, interpolation="LINEAR", joy=-1.0)
    api.key_channels(face, 6, interpolation="LINEAR", joy=joy_end)

# A whole bake: the model loaded and every frame computed on the worker, the files made from timer events.
key(1.0)
load_gate.clear()
op = operator()
loading = op._job_ref is None
load_gate.set()
passthrough = sorted(op.modal(bpy.context, Event("MOUSEMOVE")))[0]
poll_while_running = bpy.ops.latent_emotion.bake.poll()
full = timer_until_done(op)
generator_threads = sorted(set(threads))
files_right = all(np.array_equal(decode_png(api.frame_path(face, f).read_bytes()), api.frame_array(face, f))
                  for f in range(1, 7))
full_state = dict(loading=loading, loaded_on=loaded_on, done=op._job_ref.done, reports=op.reports, modal=dict(STATE.modal_bake), threads=generator_threads,
                  poll_after=bpy.ops.latent_emotion.bake.poll(), ui_ms_per_frame=1000 * op._ui_seconds / 6)

# A render starts during a bake: the faces' files stay as they are until it ends.
key(0.3)
op = operator()
before = {f: api.frame_path(face, f).read_bytes() for f in range(1, 7)}
STATE.rendering = True  # what render_init does
end = time.time() + 120
while op._order.outcome is None and time.time() < end:
    op.modal(bpy.context, Event("TIMER"))
    time.sleep(0.01)
op.modal(bpy.context, Event("TIMER"))
during = dict(done=op._job_ref.done, computed=op._order.computed,
              unchanged=all(api.frame_path(face, f).read_bytes() == before[f] for f in range(1, 7)))
STATE.rendering = False
after_render = [timer_until_done(op), op._job_ref.done]

# Esc while the worker is inside a frame: the bake ends at once, the worker after that frame.
key(-0.1)
gate.clear()
threads.clear()
op = operator()
while not threads:
    time.sleep(0.01)
cancel = sorted(op.modal(bpy.context, Event("ESC")))[0]
worker_busy_at_cancel = op._order.outcome is None
gate.set()
end = time.time() + 60
while op._order.outcome is None and time.time() < end:
    time.sleep(0.01)
result(passthrough=passthrough, poll_while_running=poll_while_running, full=full, files_right=files_right,
       full_state=full_state, during=during, after_render=after_render, cancel=cancel,
       worker_busy_at_cancel=worker_busy_at_cancel, cancel_computed=op._order.computed,
       cancel_reports=op.reports, cancel_done=op._job_ref.done)
'''


def test_modal_bake_computes_on_the_worker_waits_for_renders_and_esc_cancels_at_once(blender):
    out = blender.run("import numpy as np\nfrom pathlib import Path\n" + MODAL.replace(
        "api = enable()", "api = enable()\nrepo_backend()\nfrom backend.video import decode_png", 1))
    assert out["passthrough"] == "PASS_THROUGH" and not out["poll_while_running"]
    assert out["full"] == "FINISHED" and out["files_right"]
    state = out["full_state"]
    assert state["done"] == 6 and state["reports"] == [["INFO", "Bake done: 6/6 files (6 frames computed)"]]
    assert state["threads"] == ["latent-emotion-worker"]  # never the UI thread
    assert state["loading"] and state["loaded_on"] == ["latent-emotion-worker"]
    assert state["modal"] == {} and state["poll_after"]
    print(f"UI-thread time per baked frame: {state['ui_ms_per_frame']:.2f} ms")
    assert out["during"] == {"done": 0, "computed": 5, "unchanged": True}
    assert out["after_render"] == ["FINISHED", 5]  # frame 1 kept its value
    assert out["cancel"] == "CANCELLED" and out["worker_busy_at_cancel"]
    assert out["cancel_computed"] == 1 and out["cancel_done"] == 0
    assert out["cancel_reports"] == [["WARNING", "Bake cancelled: 0/5 files (0 frames computed)"]]
