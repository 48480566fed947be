from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
blend, out, first, last, slow = sys.argv[1:6]
bpy.ops.wm.open_mainfile(filepath=blend)
scene = bpy.context.scene
if slow == "1":
    import time
    def slow_down(*_args):
        time.sleep(0.5)
    bpy.app.handlers.render_post.append(slow_down)
scene.frame_start, scene.frame_end = int(first), int(last)
scene.render.filepath = os.path.join(out, "####")
bpy.ops.render.render(animation=True)
result(done=True)
