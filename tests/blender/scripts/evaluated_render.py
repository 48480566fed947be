from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import math
api = enable()
compat = addon("compat")
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
scene = bpy.context.scene
out = sys.argv[2]
r = scene.render
r.resolution_x = r.resolution_y = 32
r.resolution_percentage = 100
r.dither_intensity = 0.0
r.filter_size = 0.01
scene.view_settings.view_transform = "Standard"
scene.view_settings.look = "None"
compat.set_output_png(r)
# The strip face: through the sequencer.
r.use_sequencer, r.use_compositing = True, False
r.filepath = os.path.join(out, "strip", "####")
bpy.ops.render.render(animation=True)
# The plane face: Cycles, an orthographic camera filling the frame with it.
scene.sequence_editor_clear()
r.engine = compat.CYCLES
scene.cycles.samples = 1
scene.cycles.device = "CPU"
camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
scene.collection.objects.link(camera)
scene.camera = camera
camera.location, camera.rotation_euler = (0, -5, 0), (math.pi / 2, 0, 0)
camera.data.type, camera.data.ortho_scale = "ORTHO", 2.0
r.filepath = os.path.join(out, "plane", "####")
bpy.ops.render.render(animation=True)
result(done=True)
