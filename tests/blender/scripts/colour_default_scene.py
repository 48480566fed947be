from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
compat = addon("compat")
scene = bpy.context.scene
before = [scene.view_settings.view_transform, scene.view_settings.look]
r = scene.render
r.resolution_x = r.resolution_y = 32
r.use_sequencer = True
scene.frame_start, scene.frame_end = 1, 2
compat.set_output_png(r)
strip = api.add_strip(frame_start=1, length=2, seed=8)
api.key_channels(strip, 1, joy=-1.0)
api.key_channels(strip, 2, joy=1.0, anger=0.8)
r.filepath = os.path.join(sys.argv[1], "####")
bpy.ops.render.render(animation=True)
result(before=before, after=[scene.view_settings.view_transform, scene.view_settings.look],
       files={f: str(api.frame_path(strip, f)) for f in (1, 2)})
