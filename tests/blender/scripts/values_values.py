from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
from importlib import import_module
repo_backend()
from backend.animation.channels import CHANNELS, VALUE_LIMIT
face = api.add_face(seed=1)
settings = face.latent_emotion
ranges = {}
for c in CHANNELS:
    p = settings.bl_rna.properties[c.name]
    ranges[c.name] = [p.hard_min, p.hard_max, p.soft_min, p.soft_max, c.minimum, c.maximum]
extra = face.latent_emotion.extra[0]
p = extra.bl_rna.properties["value"]
ranges["extra"] = [p.hard_min, p.hard_max]

settings.joy = 0.5
settings.joy = float("nan")  # what typing "nan" in the field does
extra.value = float("nan")
settings.anger = float("inf")
settings.fear = -7.0
plain = dict(joy=settings.joy, extra=extra.value, anger=settings.anger, fear=settings.fear)
state = import_module(MODULE + ".state")
panel = state.STATE.error_for(state.value_key(settings.uid))

errors = {}
for what, call in (("set_nan", lambda: api.set_channels(face, joy=float("nan"))),
                   ("set_big", lambda: api.set_channels(face, surprise=2.5)),
                   ("key_inf", lambda: api.key_channels(face, 4, disgust=float("-inf"))),
                   ("key_text", lambda: api.key_channels(face, 4, joy="lots")),
                   ("at_frame", lambda: api.set_channels(face, 3, brow_raise=9.0))):
    try:
        call()
        errors[what] = None
    except Exception as e:
        errors[what] = [type(e).__name__, str(e)]
fc = face.animation_data
result(panel=panel, limit=VALUE_LIMIT, ranges=ranges, plain=plain, errors=errors, surprise=settings.surprise,
       keyed=fc is not None and fc.action is not None)
