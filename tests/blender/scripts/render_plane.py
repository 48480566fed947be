from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import math
api = enable()
compat = addon("compat")
scene = bpy.context.scene
for obj in list(bpy.data.objects):  # the startup cube would hide the face
    bpy.data.objects.remove(obj)
r = scene.render
r.engine = compat.CYCLES
scene.cycles.samples = 1
scene.cycles.device = "CPU"
r.resolution_x = r.resolution_y = 32
r.filter_size = 0.01
r.dither_intensity = 0.0
scene.view_settings.view_transform = "Standard"
scene.frame_start, scene.frame_end = 1, 3
face = api.add_face(seed=2)
api.key_channels(face, 1, joy=-1.0)
api.key_channels(face, 3, joy=1.0)
camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
scene.collection.objects.link(camera)
scene.camera = camera
camera.location, camera.rotation_euler = (0, -5, 0), (math.pi / 2, 0, 0)
camera.data.type, camera.data.ortho_scale = "ORTHO", 2.0  # the 2×2 plane fills the frame
compat.set_output_png(r)
r.filepath = os.path.join(sys.argv[1], "####")
bpy.ops.render.render(animation=True)
result(files={f: str(api.frame_path(face, f)) for f in (1, 2, 3)})
