from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

lose_model()
bpy.ops.render.render(animation=True)
result(finished=True)
