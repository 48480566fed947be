from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
strip = setup(30)
face = api.add_face(name="Plane Face", seed=7)
api.key_channels(face, 1, interpolation="LINEAR", joy=0.0, brow_raise=0.0)
api.key_channels(face, 30, interpolation="LINEAR", joy=1.0, brow_raise=-0.7)
face.latent_emotion.tuning["joy"].strength = 1.5
face.latent_emotion.tuning["surprise"].use_layers = True
face.latent_emotion.tuning["surprise"].layer_stop = 2
stats = api.bake(face, 1, 30)
path = sys.argv[1]
bpy.ops.wm.save_as_mainfile(filepath=path)
result(strip_folder=str(api.frame_path(strip, 1).parent), face_files=sequence_files(face, [1, 15, 30]),
       values={f: api.channel_values_at(face, f) for f in (1, 15, 30)},
       strip_values={f: api.channel_values_at(strip, f) for f in (1, 15, 30)}, baked=stats.written)
