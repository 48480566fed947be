from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
blend, out = sys.argv[1:3]
bpy.ops.wm.open_mainfile(filepath=blend)
strip = next(s for s in compat.all_strips(bpy.context.scene) if s.name == "Face")
settings = addon("properties").settings_of(strip)
before = settings.model_file
render(out)
bpy.ops.wm.save_mainfile()
result(before=before, after=settings.model_file, fingerprint=settings.model_fingerprint,
       rendered=sorted(os.listdir(out)))
