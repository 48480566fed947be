from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
compat = addon("compat")
face = bpy.data.objects["Plane Face"]
strip = next(s for s in compat.all_strips(bpy.context.scene) if s.name == "Face")
settings = face.latent_emotion
image = settings.image
user = addon("targets").image_user(face)
result(faces=[t.name for t in api.faces()], seed=settings.seed, strip_seed=addon("properties").settings_of(strip).seed,
       extra=[i.name for i in settings.extra], joy_strength=settings.tuning["joy"].strength,
       surprise_layers=[settings.tuning["surprise"].use_layers, settings.tuning["surprise"].layer_stop],
       keys=[kp.co[0] for kp in compat.find_fcurve(face, "latent_emotion.joy").keyframe_points],
       values={f: api.channel_values_at(face, f) for f in (1, 15, 30)},
       strip_values={f: api.channel_values_at(strip, f) for f in (1, 15, 30)},
       image=[image.source, image.filepath, user.frame_start, user.frame_duration],
       files=addon("targets").displayed_files(face, [1, 15, 30])[1],
       strip_elements=len(strip.elements))
