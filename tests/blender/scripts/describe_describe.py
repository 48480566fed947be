from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 10, 1.0
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
face.latent_emotion.description_text = "She smiles, then slowly looks surprised. She glorps."
scene.frame_current = 20
status = sorted(bpy.ops.latent_emotion.describe())

def keys(target, channel):
    fc = addon("compat").find_fcurve(target.id_data, addon("properties").channel_ref(target, channel).paths)
    return [[kp.co[0], round(kp.co[1], 4)] for kp in fc.keyframe_points]

text = bpy.data.texts["Emotion Description: Emotion Face"].as_string()

strip = api.add_strip(frame_start=1, length=80)
description, keyed = api.describe(strip, "He frowns for 2 seconds.", start=5, interpolation="LINEAR")

try:
    bpy.ops.latent_emotion.describe(text="glorp glorp")
    refused = None
except RuntimeError as e:
    refused = str(e)
result(status=status, joy=keys(face, "joy"), surprise=keys(face, "surprise"), text=text,
       strip_keyed=keyed, strip_anger=keys(strip, "anger"), strip_script=description.script,
       refused=refused, joy_after=keys(face, "joy"))
