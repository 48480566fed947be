from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api.bake(strip, 1, 3)
fc = compat.find_fcurve(scene, addon("properties").channel_ref(strip, "joy").paths)
fc.keyframe_points[1].co[1] = float("nan")  # keys can hold what the property refuses
bpy.ops.render.render(animation=True)
result(finished=True)
