from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
