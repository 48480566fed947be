"""Channel values follow the shared policy (backend.animation.channels) in Blender properties and the console API."""

from __future__ import annotations
from .harness import script

VALUES = script("values_values")


def test_channel_properties_and_api_refuse_values_outside_the_policy(shared_blender):
    out = shared_blender.run(VALUES)
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
