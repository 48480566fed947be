"""Live preview: frame changes show the backend's frame, off the main thread, latest request first."""

from __future__ import annotations

import ast
from pathlib import Path

from .harness import ROOT

# Blender's event loop does not run in the bpy module: ``drive`` calls the preview's timer as the
# loop would, until it asks to stop. ``expected`` is the backend's own frame for a face's values.
HELPERS = '''
import threading, time
from pathlib import Path
import numpy as np
import torch

api = enable()
preview, handlers = addon("preview"), addon("handlers")
scene = bpy.context.scene
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.preview_resolution = 0

def drive(timeout=60.0):
    end = time.time() + timeout
    while bpy.app.timers.is_registered(preview._poll):
        if preview._poll() is None:
            bpy.app.timers.unregister(preview._poll)  # what Blender does when a timer returns None
        elif time.time() > end:
            raise SystemExit("the preview did not finish")
        time.sleep(0.005)

repo_backend()
from backend.model.checkpoints import load_generator
from backend.animation.directions import load_directions
from backend.rendering.frame_cache import snap_w
from backend.model.generator import images_to_uint8
from backend.animation.latent import compose_latent
from backend.rendering.render import resize
from backend.rendering.video import decode_png

G, _ = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])

def expected(face, frame, seed):
    w = G.w_from_seed(seed, truncation_psi=0.7).numpy()[0]
    ws = compose_latent(w, api.channel_values_at(face, frame), directions)
    return images_to_uint8(G.synthesize(torch.from_numpy(snap_w(ws)[None])))[0]

def shows(face, frame, seed, size=32):
    path = api.frame_path(face, frame)
    if not path.is_file():
        return False
    want = expected(face, frame, seed)
    return bool(np.array_equal(decode_png(path.read_bytes()), want if size == 32 else resize(want, size)))

def last_shown():
    return preview.stats.shown[-1][1] if preview.stats.shown else None
'''

SCRUB = HELPERS + '''
face = api.add_face(seed=3)
api.key_channels(face, 1, interpolation="LINEAR", joy=0.0, surprise=1.0)
api.key_channels(face, 60, interpolation="LINEAR", joy=1.0, surprise=-1.0)
w = preview.worker()
out = {}

# First change: the rig loads and the frame is made on the worker; the timer shows it.
scene.frame_set(4)
out["first"] = dict(timer=bpy.app.timers.is_registered(preview._poll), shown_at_once=last_shown() == 4)
threads = []
work = w.work
w.work = lambda order: (threads.append(threading.current_thread().name), work(order))[1]
drive()
out["first"].update(shown=last_shown(), equal=shows(face, 4, 3), threads=threads)

# Cached: the frame is in the cache but not in the face's folder; preview size 16.
prefs.preview_resolution = 16
api.frame_path(face, 4).unlink()
scene.frame_set(5)
drive()
submitted = w.submitted
scene.frame_set(4)
out["cached"] = dict(shown=last_shown(), new_orders=w.submitted - submitted,
                     timer=bpy.app.timers.is_registered(preview._poll), equal=shows(face, 4, 3, size=16))
prefs.preview_resolution = 0

# Latest wins: the worker is held on its first order while 20 frame changes arrive. Meanwhile the
# face shows a stand-in (its newest frame, 4) where it has no file; made frames replace it.
cached = lambda: len(list(Path(os.environ["LE_TEST_CACHE"], "frames").glob("??/*.png")))
started, gate = threading.Event(), threading.Event()
w.work = lambda order: (started.set(), gate.wait(30), work(order))[2]
before = dict(ran=w.ran, dropped=w.dropped, cached=cached())
scene.frame_set(12)
started.wait(30)
for f in range(13, 32):
    scene.frame_set(f)
gate.set()
drive()
w.work = work
out["latest"] = dict(ran=w.ran - before["ran"], dropped=w.dropped - before["dropped"],
                     computed=cached() - before["cached"], shown=last_shown(), equal=shows(face, 31, 3),
                     stand_ins=[f for _, f, _ in preview.stats.stand_ins if f >= 12],
                     between=all(np.array_equal(decode_png(api.frame_path(face, f).read_bytes()), expected(face, 4, 3))
                                 for f in range(13, 31)))

# While a render runs, frame changes change nothing.
handlers.on_render_init(scene)
submitted = w.submitted
scene.frame_set(40)
out["render"] = dict(new_orders=w.submitted - submitted, file=api.frame_path(face, 40).exists())
handlers.on_render_done(scene)

# A saved and reopened file keeps a working preview.
path = os.path.join(os.environ["LE_TEST_CACHE"], "scrub.blend")
bpy.ops.wm.save_as_mainfile(filepath=path)
bpy.ops.wm.open_mainfile(filepath=path)
scene = bpy.context.scene
face = api.faces(scene)[0]
scene.frame_set(45)
drive()
out["reopened"] = dict(shown=last_shown(), equal=shows(face, 45, 3),
                       handler=preview.on_frame_change in bpy.app.handlers.frame_change_post)

# Editing a channel at the same frame (a slider, the console) refreshes the face from a timer.
before = api.frame_path(face, 45).read_bytes()
face.latent_emotion.anger = 0.8
timer = bpy.app.timers.is_registered(preview._after_edit)
bpy.app.timers.unregister(preview._after_edit)  # run it now, as the event loop would
preview._after_edit()
drive()
out["edited"] = dict(timer=timer, shown=last_shown(), equal=shows(face, 45, 3),
                     changed=api.frame_path(face, 45).read_bytes() != before)

# Unregistering stops the thread and removes the handler and the timer.
scene.frame_set(50)  # an order in flight while the add-on goes
import addon_utils
addon_utils.disable(MODULE)
out["unregistered"] = dict(
    thread=w.alive, timer=bpy.app.timers.is_registered(preview._poll),
    handler=any(getattr(h, "__name__", "") == "on_frame_change" for h in bpy.app.handlers.frame_change_post),
    threads=[t.name for t in threading.enumerate() if t.name == w.name])
result(**out)
'''


def test_scrubbing_shows_the_backends_frame_latest_request_first(blender):
    out = blender.run(SCRUB)
    first = out["first"]
    assert first["timer"] and not first["shown_at_once"]
    assert first["shown"] == 4 and first["equal"]
    assert first["threads"] and "MainThread" not in first["threads"]
    cached = out["cached"]
    assert cached["shown"] == 4 and cached["new_orders"] == 0 and not cached["timer"] and cached["equal"]
    latest = out["latest"]
    # The held order, then only the newest of the 19 that queued behind it.
    assert latest["ran"] == 2 and latest["dropped"] == 18 and latest["computed"] == 2, latest
    assert latest["shown"] == 31 and latest["equal"]
    # Each frame passed shows frame 4 meanwhile; frame 31 shows frame 12 once that is made, unless
    # the timer first runs after frame 31 itself is made (then it shows at once: a race, both fine).
    stand_ins = latest["stand_ins"]
    assert stand_ins[:20] == list(range(12, 32)) and stand_ins[20:] in ([], [31]) and latest["between"], stand_ins
    assert out["render"] == {"new_orders": 0, "file": False}
    assert out["reopened"] == {"shown": 45, "equal": True, "handler": True}
    assert out["edited"]["timer"] and out["edited"]["shown"] == 45 and out["edited"]["equal"], out["edited"]
    assert out["edited"]["changed"]
    assert out["unregistered"] == {"thread": False, "timer": False, "handler": False, "threads": []}


BAD_FACE = HELPERS + '''
good, bad = api.add_face(seed=3), api.add_face(seed=5)
api.key_channels(good, 1, interpolation="LINEAR", joy=0.0)
api.key_channels(good, 30, interpolation="LINEAR", joy=1.0)
item = bad.latent_emotion.tuning.add()
item.name, item.use_layers, item.layer_start, item.layer_stop = "joy", True, 6, 2  # start after stop
scene.frame_set(7)
drive()
printed = sorted(addon("state").STATE.printed)
scene.frame_set(8)  # cached rig now: the main thread meets the bad face too
drive()
result(good=[shows(good, f, 3) for f in (7, 8)], bad=[api.frame_path(bad, f).is_file() for f in (7, 8)],
       printed=printed, later=sorted(addon("state").STATE.printed))
'''


def test_a_face_with_wrong_settings_does_not_stop_the_others(blender):
    out = blender.run(BAD_FACE)
    assert out["good"] == [True, True], out
    assert out["bad"] == [False, False]
    assert any("layer range 6-2" in m for m in out["printed"] + out["later"]), out


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports, relative ones as ``.name``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_the_preview_worker_cannot_reach_bpy():
    """Everything the worker's module imports, transitively within the add-on, is free of bpy."""
    addon = ROOT / "blender_addon"
    blender = {"bpy", "bpy_extras", "mathutils", "addon_utils"}
    todo, seen = [addon / "worker.py"], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            assert name.split(".")[0] not in blender, (path, name)
            if name.startswith(".backend"):
                continue  # the whole backend is checked below
            if name.startswith(".") and name != ".":
                todo.append(addon / f"{name.lstrip('.').split('.')[0]}.py")
    assert {p.name for p in seen} >= {"worker.py", "baking.py", "rig.py"}
    for path in (ROOT / "backend").rglob("*.py"):
        assert not {n.split(".")[0] for n in _imports(path)} & blender, path
