from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
strip = setup(6)
out = sys.argv[1]
render_png(os.path.join(out, "png"), 1, 6)
compat.set_output_mp4(scene.render)
scene.frame_start, scene.frame_end = 1, 6
scene.render.filepath = os.path.join(out, "mp4", "clip_")
bpy.ops.render.render(animation=True)
result(files=sequence_files(strip, range(1, 7)))
