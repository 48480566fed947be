from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
scene = bpy.context.scene
render_png(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
result(rendered=sorted(os.listdir(sys.argv[2])))
