"""Device and threads: the preferences' device runs the rig (auto by default; CPU keys as before), and the
worker sets torch's threads for the model before its frames."""

from __future__ import annotations

from .test_preview import HELPERS

from .harness import script

DEVICE = HELPERS + script("device_device")


def test_the_rig_runs_on_the_preferred_device_with_the_threads_chosen_for_the_model(blender):
    out = blender.run(DEVICE, env={"OMP_NUM_THREADS": ""})  # no user setting: the add-on chooses
    assert out["default"] == "auto" and out["stored"] == "cpu" and out["generator"] == "cpu"
    assert out["threads"] == 1 and out["torch_threads"] == 1  # a 32 px model: one thread beats two
    assert out["shown"]  # the preview's frame, made on the CPU as before
    assert out["cpu_key"]  # CPU frames keep the keys they always had
    assert out["keys"] == {"cpu": "abc", "cuda": "abc+cuda", "mps": "abc+mps"}
    if "cuda" in out:
        assert out["cuda"][0] == "RigError" and "CUDA was asked for" in out["cuda"][1]
