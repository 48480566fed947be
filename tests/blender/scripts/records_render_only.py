from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
blend, out, model_b, directions_b = sys.argv[1:5]
use_rig(model_b, directions_b)
bpy.ops.wm.open_mainfile(filepath=blend)
scene = bpy.context.scene
render(out)
result(finished=True)
