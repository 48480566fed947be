from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
face = api.add_face(name="Plane Face", seed=1)
strip = api.add_strip(name="Strip Face", frame_start=1, length=3, seed=2)
for t in (face, strip):
    api.key_channels(t, 1, joy=-0.5)
    api.key_channels(t, 3, joy=0.5)
    api.bake(t)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])  # Blender's default: paths relative to the file
result(files={t.name: str(api.frame_path(t, 2)) for t in (face, strip)},
       stored=[face.latent_emotion.image.filepath, strip.directory])
