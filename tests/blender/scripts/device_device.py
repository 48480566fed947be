from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import importlib
rig_module = addon("rig")
default = prefs.bl_rna.properties["device"].default
prefs.device = "cpu"
paths = addon("preferences").rig_paths()
face = api.add_face(seed=3)
torch.set_num_threads(2)  # what a machine with more cores starts with
scene.frame_set(2)
drive()
rig = rig_module.loaded_rig(paths)
from backend.rendering.frame_cache import RenderTarget
info_fp = rig.info.fingerprint
key_fingerprint = importlib.import_module(rig_module.__package__ + ".backend.rendering.frame_cache").key_fingerprint
keys = dict(cpu=key_fingerprint("abc", "cpu"), cuda=key_fingerprint("abc", "cuda"), mps=key_fingerprint("abc", "mps"))
out = dict(default=default, stored=paths.device, generator=rig.G.device.type, threads=rig.threads,
           torch_threads=torch.get_num_threads(), shown=shows(face, 2, 3), cpu_key=rig.target.fingerprint == info_fp,
           keys=keys)
if not torch.cuda.is_available():
    prefs.device = "cuda"
    try:
        api.bake(face, 1, 1)
        out["cuda"] = None
    except Exception as e:
        out["cuda"] = [type(e).__name__, str(e)]
result(**out)
