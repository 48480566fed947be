from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
capture = addon("capture")
clip, wall, notes = sys.argv[1:4]
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 10, 1.0
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
scene.frame_current = 5

def run(**props):
    try:
        return sorted(bpy.ops.latent_emotion.key_from_video(**props)), None
    except RuntimeError as e:  # an ERROR report
        return None, str(e)

status, error = run(filepath=clip, start_frame=5, reduce=False)
def keyed(target, channel="head_turn"):
    fc = addon("compat").find_fcurve(target.id_data, addon("properties").channel_ref(target, channel).paths)
    return [kp.co[0] for kp in fc.keyframe_points]
every = {f: api.channel_values_at(face, f) for f in range(5, 18)}

other = api.add_face(seed=2, name="Other")
reduced = api.key_from_video(other, clip, start=1, tolerance=0.05)
shifted = {f: api.channel_values_at(other, f) for f in range(1, 14)}

# A movie strip instead of a file: keys from where it starts; and a strip face, keyed through the API.
compat = addon("compat")
editor = scene.sequence_editor_create()
movie = compat.strips(editor).new_movie("Take 3", clip, 3, 7)
moviegoer = api.add_face(seed=4, name="Moviegoer")
bpy.context.view_layer.objects.active = moviegoer
from_strip = run(strip="Take 3")
strip_face = api.add_strip(frame_start=1, length=40, channel=5)
strip_keys = api.key_from_video(strip_face, clip, start=2, tolerance=None)
strip_turn = [api.channel_values_at(strip_face, 2 + i)["head_turn"] for i in range(13)]
bpy.context.view_layer.objects.active = face

errors = {}
for name, path in (("wall", wall), ("notes", notes)):
    errors[name] = run(filepath=path, start_frame=1)
    try:
        api.key_from_video(face, path)
        errors[name + "_api"] = None
    except ValueError as e:
        errors[name + "_api"] = str(e)

order = capture.start_capture(clip, 10)
addon("worker").shared_worker().cancel(order)
try:
    capture.wait(order)
    cancelled = None
except addon("backend.jobs").Cancelled as e:
    cancelled = [str(e), order.done]
result(status=status, error=error, keyed=keyed(face), every={str(k): v for k, v in every.items()},
       reduced=reduced, reduced_keys=keyed(other, "joy"), shifted={str(k): v for k, v in shifted.items()},
       errors=errors, cancelled=cancelled, after=keyed(face), from_strip=from_strip, strip_keyed=keyed(moviegoer),
       strip_keys=strip_keys, strip_turn=strip_turn)
