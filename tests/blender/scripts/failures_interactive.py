from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

handlers.exit_on_failure = lambda: False  # as in Blender's UI: no process to end
prefs.preview_resolution = 16
api.bake(strip, 1, 3, preview=True)  # small stand-ins in the folder: never a final frame
good = api.frame_array(strip, 1)
lose_model()
bpy.ops.render.render(animation=True)
folder = str(api.frame_path(strip, 1).parent)
result(finished=True, rendering=handlers.is_rendering(), failures=len(STATE.render_failures),
       panel=STATE.error_for(folder), good=good.tolist())
