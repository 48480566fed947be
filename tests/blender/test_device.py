"""Device and threads: the preferences' device runs the rig (auto by default; CPU keys as before), and the
worker sets torch's threads for the model before its frames."""

from __future__ import annotations

from .test_preview import HELPERS

DEVICE = HELPERS + '''
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
'''


def test_the_rig_runs_on_the_preferred_device_with_the_threads_chosen_for_the_model(blender):
    out = blender.run(DEVICE, env={"OMP_NUM_THREADS": ""})  # no user setting: the add-on chooses
    assert out["default"] == "auto" and out["stored"] == "cpu" and out["generator"] == "cpu"
    assert out["threads"] == 1 and out["torch_threads"] == 1  # a 32 px model: one thread beats two
    assert out["shown"]  # the preview's frame, made on the CPU as before
    assert out["cpu_key"]  # CPU frames keep the keys they always had
    assert out["keys"] == {"cpu": "abc", "cuda": "abc+cuda", "mps": "abc+mps"}
    if "cuda" in out:
        assert out["cuda"][0] == "RigError" and "CUDA was asked for" in out["cuda"][1]
