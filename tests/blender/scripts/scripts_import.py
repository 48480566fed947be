from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable(rig=False)  # keying needs no model
compat = addon("compat")
script_path = os.path.join(os.getcwd(), "fig7.txt")
open(script_path, "w").write(sys.argv[1])
bad_path = os.path.join(os.getcwd(), "bad.txt")
open(bad_path, "w").write("joy\nhapy\n")

def keys_of(target):
    """channel → [(frame, value, interpolation)] from the target's F-curves."""
    out = {}
    for name in ("joy", "sadness", "anger", "fear", "surprise", "disgust", "eye_close", "mouth_open", "head_turn"):
        fc = compat.find_fcurve(target.id_data, addon("properties").channel_ref(target, name).path)
        out[name] = [(kp.co[0], round(kp.co[1], 6), kp.interpolation) for kp in fc.keyframe_points]
    return out

face = api.add_face(seed=0)
bpy.context.view_layer.objects.active = face
op = bpy.ops.latent_emotion.import_script(filepath=script_path, start_frame=0)
error = ""
try:
    bpy.ops.latent_emotion.import_script(filepath=bad_path, start_frame=0)
except RuntimeError as e:
    error = str(e)

strip = api.add_strip(frame_start=1, length=200)
keyed = api.import_script(strip, sys.argv[1], start=10, interpolation="CONSTANT")
path = addon("properties").channel_ref(strip, "joy").path
result(op=list(op), face=keys_of(face), error=error, strip=keys_of(strip), keyed=keyed, strip_path=path,
       strip_owner=strip.id_data.name, strip_joy_at_27=api.channel_values_at(strip, 27)["joy"],
       face_joy_at_16=api.channel_values_at(face, 16.5)["joy"])
