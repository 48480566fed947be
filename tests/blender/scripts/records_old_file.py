from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
blend, out = sys.argv[1:3]
records = addon("records")
strip = api.add_strip(name="Face", frame_start=1, length=3, seed=5)
api.key_channels(strip, 1, joy=0.5)
settings = addon("properties").settings_of(strip)
for prop in ("model_file", "model_fingerprint", "directions_file", "directions_fingerprint", "model_file_absolute",
             "directions_file_absolute"):
    setattr(settings, prop, "")  # what a file from before the record holds
bpy.app.handlers.save_pre.remove(next(h for h in bpy.app.handlers.save_pre if h.__name__ == "on_save"))
bpy.ops.wm.save_as_mainfile(filepath=blend)
result(saved=True)
