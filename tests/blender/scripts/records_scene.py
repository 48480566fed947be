from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

compat = addon("compat")
scene = bpy.context.scene
sequencer_output(scene)
compat.set_output_png(scene.render)

def use_rig(model, directions):
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.model_path, prefs.directions_path = model, directions

def render(folder, first=1, last=3):
    scene = bpy.context.scene  # the open file's
    scene.frame_start, scene.frame_end = first, last
    scene.render.filepath = os.path.join(folder, "####")
    bpy.ops.render.render(animation=True)
