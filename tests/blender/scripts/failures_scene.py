from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import numpy as np
api = enable()
compat, handlers = addon("compat"), addon("handlers")
from importlib import import_module
STATE = import_module(MODULE + ".state").STATE
scene = bpy.context.scene
r = scene.render
r.resolution_x = r.resolution_y = 32
r.use_sequencer = True
scene.view_settings.view_transform = "Standard"
scene.frame_start, scene.frame_end = 1, 3
compat.set_output_png(r)
strip = api.add_strip(frame_start=1, length=3, seed=1)
api.key_channels(strip, 1, joy=0.0)
api.key_channels(strip, 3, joy=1.0)
prefs = bpy.context.preferences.addons[MODULE].preferences
out = sys.argv[1]
r.filepath = os.path.join(out, "####")

def lose_model():
    """The generator file the face was made with is gone (the face records it: records.py)."""
    settings = addon("properties").settings_of(strip)
    settings.model_file, settings.model_file_absolute = os.path.join(out, "no-such-model.safetensors"), ""
