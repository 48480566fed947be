from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
project, out = sys.argv[1], sys.argv[2]
use_rig(os.path.join(project, "models", "a.safetensors"), os.path.join(project, "models", "a.directions.json"))
strip = api.add_strip(name="Face", frame_start=1, length=3, seed=5)
for f, joy in ((1, -1.0), (3, 1.0)):
    api.key_channels(strip, f, joy=joy)
settings = addon("properties").settings_of(strip)
recorded_before_save = [settings.model_file, settings.model_fingerprint]
render(out)
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(project, "shot.blend"))
result(before=recorded_before_save, model=settings.model_file, directions=settings.directions_file,
       fingerprint=settings.model_fingerprint, directions_fingerprint=settings.directions_fingerprint)
