from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import importlib
repo = os.path.join(bpy.utils.user_resource("EXTENSIONS"), "user_default")
os.makedirs(repo, exist_ok=True)
os.symlink(os.path.join(ROOT, "blender_addon"), os.path.join(repo, "latent_emotion"))  # README: developer install
api = enable()
backend = importlib.import_module(MODULE + ".backend")
face = api.add_face(seed=1)
api.key_channels(face, 1, joy=0.5)
stats = api.bake(face, 1, 2)
result(backend=backend.__file__, default_model=str(importlib.import_module(MODULE + ".rig").DEFAULT_MODEL),
       written=stats.written, file=str(api.frame_path(face, 1)))
