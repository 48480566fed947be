from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 25, 1.0
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
api.key_channels(face, 1, interpolation="LINEAR", joy=0.0)
api.key_channels(face, 20, interpolation="LINEAR", joy=1.0)
scene.frame_set(50)
status = sorted(bpy.ops.latent_emotion.describe(text="Her smile fades slowly over 4 seconds",
                                                interpolation="LINEAR"))
values = {f: round(api.channel_values_at(face, f)["joy"], 4) for f in (20, 35, 50, 100, 150, 160)}
text = bpy.data.texts["Emotion Description: Emotion Face"].as_string()
result(status=status, joy=values, text=text)
