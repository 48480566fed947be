from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
faces = api.faces()
stats = [api.bake(t).written for t in faces]
result(files={t.name: str(api.frame_path(t, 2)) for t in faces}, written=stats,
       image=bpy.path.abspath(faces[0].latent_emotion.image.filepath))
