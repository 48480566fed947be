from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import importlib
enabled_before = MODULE in bpy.context.preferences.addons
# blender_addon/README.md, "Scripts", as it stands (the model from $LATENT_EMOTION_MODEL & co.):
le = importlib.import_module("bl_ext.user_default.latent_emotion.api")
face = le.add_face(seed=3)
le.key_channels(face, 1, joy=0.0)
le.key_channels(face, 33, joy=1.0)
le.bake(face, 1, 33)
frame = le.frame_array(face, 17)      # (H, W, 3) uint8
result(enabled_before=enabled_before, shape=list(frame.shape))
