from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
blend, model_a, directions_a, elsewhere = sys.argv[1:5]
bpy.ops.wm.open_mainfile(filepath=blend)
strip = next(s for s in compat.all_strips(bpy.context.scene) if s.name == "Face")
records, rig = addon("records"), addon("rig")
try:
    api.frame_array(strip, 2)
    before = None
except rig.RigError as e:
    before = str(e)
import shutil
os.makedirs(elsewhere, exist_ok=True)
new_model = shutil.copy(model_a, os.path.join(elsewhere, "moved.safetensors"))
records.relink(strip, "MODEL", new_model)
frame = api.frame_array(strip, 2)
settings = addon("properties").settings_of(strip)
result(before=before, model=settings.model_file, fingerprint=settings.model_fingerprint, frame=frame.tolist())
