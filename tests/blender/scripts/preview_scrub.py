from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
