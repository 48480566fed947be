from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
