"""Channel values follow the shared policy (backend.channels) in Blender properties and the console API."""

from __future__ import annotations

VALUES = '''
api = enable()
from importlib import import_module
repo_backend()
from backend.channels import CHANNELS, VALUE_LIMIT
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
'''


def test_channel_properties_and_api_refuse_values_outside_the_policy(blender):
    out = blender.run(VALUES)
    limit = out["limit"]
    for name, r in out["ranges"].items():
        assert r[:2] == [-limit, limit], name
        if name != "extra":
            assert r[2:4] == r[4:6], name  # the slider spans the channel's own range
    assert out["plain"] == {"joy": 0.0, "extra": 0.0, "anger": limit, "fear": -limit}
    assert out["panel"].startswith("brow_raise: NaN is not a channel value")  # the face's panel says why
    errors = out["errors"]
    assert errors["set_nan"] == ["ChannelValueError", "Emotion Face: joy: nan is not a finite number"]
    assert errors["set_big"][0] == "ChannelValueError" and "2.5 is outside [-2, 2]" in errors["set_big"][1]
    assert errors["key_inf"] == ["ChannelValueError", "Emotion Face: disgust at frame 4: -inf is not a finite number"]
    assert errors["key_text"] == ["ChannelValueError", "Emotion Face: joy at frame 4: 'lots' is not a number"]
    assert errors["at_frame"][0] == "ChannelValueError" and "brow_raise" in errors["at_frame"][1]
    assert out["surprise"] == 0.0 and not out["keyed"]  # nothing was set or keyed by a refused call
