from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import math

def linear_keys(owner, prop, values):
    for frame, value in values.items():
        setattr(owner, prop, value)
        owner.keyframe_insert(prop, frame=frame)

def keys_to_linear(id_data):
    for fc in compat.fcurves(id_data):
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"

def animate(target):
    settings = addon("properties").settings_of(target)
    id_data = target.id_data
    linear_keys(settings, "joy", {1: 0.0, 3: 1.0})
    keys_to_linear(id_data)
    anim = id_data.animation_data
    nla_action = anim.action
    anim.action = None
    strip = anim.nla_tracks.new().strips.new("joy", 1, nla_action)
    strip.blend_type = "ADD"
    settings.joy = 0.0
    linear_keys(settings, "anger", {1: -0.5, 3: 0.5})
    keys_to_linear(id_data)
    fc = settings.driver_add("surprise")
    fc.driver.type = "SCRIPTED"
    fc.driver.expression = "frame / 20"

def expected_values(frame):
    return {"joy": (frame - 1) / 2, "anger": -0.5 + (frame - 1) / 2, "surprise": frame / 20}
