"""The add-on's bpy-free modules (worker, baking, rig, state, paths), imported without Blender."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.animation.directions import save_directions
from backend.model.checkpoints import save_generator
from backend.rendering.video import decode_png
from lab.rigs import random_directions

from .conftest import ROOT

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_bpy_free_modules_import_without_blender():
    code = ("import sys; import blender_addon.worker, blender_addon.baking, blender_addon.rig, "
            "blender_addon.state, blender_addon.paths; print('bpy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@pytest.fixture
def addon_rig(tiny_G, tmp_path):
    from blender_addon.rig import Rig, RigPaths

    model = save_generator(tiny_G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(tiny_G), tmp_path / "directions.json")
    return Rig(RigPaths(Path(model), Path(directions), "cpu"))


def _request(rig_folder, frames, joy, label="face"):
    from blender_addon.baking import SequenceRequest
    from blender_addon.rig import FaceSpec

    names = tuple(f"{f:04d}.png" for f in frames)
    return SequenceRequest(label, rig_folder, tuple(frames), names, FaceSpec(seed=3, truncation=0.7),
                           {"joy": np.asarray(joy, np.float64)})


def test_a_bake_writes_each_frame_once_reports_progress_and_a_rerun_writes_nothing(addon_rig, tmp_path):
    from backend.rendering.frame_cache import FrameCache
    from blender_addon.baking import BakeJob

    cache = FrameCache(tmp_path / "cache")
    req = _request(tmp_path / "seq", [1, 2, 3, 4], [0.0, 1.0, 1.0, 0.0])
    seen = []
    stats = BakeJob(addon_rig, cache, [req]).run(progress=lambda *a: seen.append(a))
    assert stats.frames == 4 and stats.written == 4 and stats.computed == 2  # frames 1=4 and 2=3 share codes
    assert seen == [("baking", i, 4) for i in range(1, 5)]
    frames = [decode_png((tmp_path / "seq" / name).read_bytes()) for name in req.filenames]
    assert (frames[0] == frames[3]).all() and (frames[1] == frames[2]).all() and not (frames[0] == frames[1]).all()
    again = BakeJob(addon_rig, cache, [req]).run()
    assert again.written == 0 and again.computed == 0


def test_a_cancelled_bake_raises_cancelled_and_keeps_what_it_made(addon_rig, tmp_path):
    from blender_addon.backend.jobs import Cancelled

    from backend.rendering.frame_cache import FrameCache
    from blender_addon.baking import BakeJob

    cache = FrameCache(tmp_path / "cache")
    req = _request(tmp_path / "seq", [1, 2, 3], [0.0, 0.5, 1.0])
    job = BakeJob(addon_rig, cache, [req])
    with pytest.raises(Cancelled, match="after 1 of 3"):
        job.run(cancel=lambda: job.done >= 1)
    resumed = BakeJob(addon_rig, cache, [req]).run()
    assert resumed.written == 2  # the first file stayed, indexed


def test_the_rig_refuses_a_keyed_channel_its_directions_lack_and_bad_tuning(addon_rig):
    from blender_addon.rig import FaceSpec, RigError, Tuning

    face = FaceSpec(seed=1, truncation=0.5)
    assert addon_rig.latents(face, {"brow_raise": np.zeros(2)}).shape == (2, addon_rig.info.num_ws,
                                                                         addon_rig.info.w_dim)
    with pytest.raises(RigError, match="no channel brow_raise"):
        addon_rig.latents(face, {"brow_raise": np.ones(2)})
    with pytest.raises(RigError, match="layer range"):
        addon_rig.tuned_directions({"joy": Tuning(layers=(3, 99))})
    with pytest.raises(RigError, match="strength must be positive"):
        addon_rig.tuned_directions({"joy": Tuning(scale=-1.0)})


def test_get_rig_loads_once_and_again_when_the_model_file_changes(tiny_G, tmp_path):
    import os

    from blender_addon.rig import RigPaths, forget_rig, get_rig

    model = save_generator(tiny_G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(tiny_G), tmp_path / "directions.json")
    paths = RigPaths(Path(model), Path(directions), "cpu")
    try:
        first = get_rig(paths)
        assert get_rig(paths) is first
        st = os.stat(model)
        os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert get_rig(paths) is not first
    finally:
        forget_rig()
