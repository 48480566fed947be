"""The add-on's bpy-free modules (the worker, the jobs it runs, baking, rig, state, paths), imported without Blender."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from backend.animation.directions import save_directions
from backend.model.checkpoints import save_generator
from backend.rendering.video import decode_png
from lab.rigs import random_directions

from .conftest import ROOT

pytestmark = pytest.mark.usefixtures("one_thread")


ADDON = ROOT / "blender_addon"
BLENDER = {"bpy", "bpy_extras", "mathutils", "addon_utils"}
# What the worker thread runs: each feature's order and its work (the bake's lives in baking.py).
JOB_MODULES = ("baking", *sorted(p.stem for p in ADDON.glob("*_job.py")))


def test_the_bpy_free_modules_import_without_blender():
    assert {"preview_job", "capture_job", "photo_job", "learn_job"} <= set(JOB_MODULES)
    names = ", ".join(f"blender_addon.{m}" for m in ("worker", *JOB_MODULES, "rig", "state", "paths"))
    code = f"import sys; import {names}; print('bpy' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports (inside functions too), relative ones as ``.name``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_the_scheduler_imports_no_feature_module():
    """The worker knows orders only by their ``run()``: of the add-on it imports the state alone."""
    addon_imports = {n.lstrip(".").split(".")[0] for n in _imports(ADDON / "worker.py") if n.startswith(".")}
    assert addon_imports <= {"state", "backend"}, addon_imports


def test_nothing_the_worker_runs_can_reach_bpy():
    """The worker and every job module, with all they import within the add-on, are free of bpy."""
    todo, seen = [ADDON / "worker.py", *(ADDON / f"{m}.py" for m in JOB_MODULES)], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            assert name.split(".")[0] not in BLENDER, (path, name)
            if name.startswith(".backend"):
                continue  # the whole backend is checked below
            if name.startswith(".") and name != ".":
                todo.append(ADDON / f"{name.lstrip('.').split('.')[0]}.py")
    assert {p.stem for p in seen} >= {"worker", "rig", "state", *JOB_MODULES}
    for path in (ROOT / "backend").rglob("*.py"):
        assert not {n.split(".")[0] for n in _imports(path)} & BLENDER, path


def test_the_scheduler_runs_an_order_by_its_own_work_and_drops_one_cancelled_before_it_started():
    from blender_addon.backend.jobs import Cancelled
    from blender_addon.worker import LatestWorker, WholeOrder, run_order, wait_order

    release = threading.Event()

    class Sum(WholeOrder):
        def __init__(self, numbers):
            super().__init__()
            self.numbers = numbers

        def work(self):
            release.wait(30)
            self.total = self.done = len(self.numbers)
            return sum(self.numbers)

    worker = LatestWorker(run_order, name="test-worker")
    try:
        first, second = Sum([1, 2, 3]), Sum([4])
        worker.submit(first, steps=True)
        worker.submit(second, steps=True)
        worker.cancel(second)  # still queued behind the first: dropped, never run
        release.set()
        assert wait_order(first, lambda: "cancelled") == 6 and (first.done, first.total) == (3, 3)
        with pytest.raises(Cancelled, match="second was cancelled"):
            wait_order(second, lambda: "second was cancelled")
        assert second.done == 0 and worker.ran == 1
    finally:
        assert worker.stop(timeout=30)


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


def test_preview_and_bake_orders_make_their_frames_on_the_worker_without_blender(addon_rig, tmp_path):
    from backend.rendering.frame_cache import FrameCache
    from blender_addon.baking import BakeJob, BakeOrder
    from blender_addon.preview_job import PreviewOrder
    from blender_addon.rig import FaceRig, forget_rig
    from blender_addon.worker import LatestWorker, run_order, wait_order

    cache = FrameCache(tmp_path / "cache")
    req = _request(tmp_path / "seq", [1, 2, 3], [0.0, 0.5, 1.0])
    keys = addon_rig.keys(addon_rig.latents(req.face, req.values))
    worker = LatestWorker(run_order, name="test-worker")
    try:
        shown = _request(tmp_path / "seq", [2], [0.5])
        worker.submit(PreviewOrder("Scene", 2, (FaceRig("face", addon_rig.paths),), cache.root, (shown,)))
        finished = []
        for _ in range(3000):
            finished += worker.done()
            if finished:
                break
            time.sleep(0.01)
        assert len(finished) == 1 and finished[0].error is None and finished[0].result == 1, finished
        assert [cache.contains(k) for k in keys] == [False, True, False]
        order = BakeOrder(addon_rig.paths, cache.root, BakeJob(addon_rig, cache, [req]).pending_codes())
        assert len(order.ws) == 2
        worker.submit(order, steps=True)
        wait_order(order, lambda: "cancelled")
        assert order.computed == 2 and all(cache.contains(k) for k in keys)
    finally:
        assert worker.stop(timeout=30)
        forget_rig()
