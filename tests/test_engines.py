"""Frame engines: a tiny generator exported to ONNX and run by ONNX Runtime, against torch eager.

One export (seconds) is shared by the module; the damaged-graph test pays for a second one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from backend.model.checkpoints import fingerprint, save_generator
from backend.model.engines import EngineError, OnnxEngine, graph_file, pick_engine
from backend.model.generator import Generator, synthesize_frames

from .conftest import ROOT, backend_cli, randomize_, tiny_config

pytest.importorskip("onnxruntime")
pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.xdist_group("test_engines")]  # one export


@pytest.fixture(scope="module")
def G() -> Generator:
    torch.manual_seed(0)
    return randomize_(Generator(tiny_config())).eval()  # tiny_G's weights, for the whole module


@pytest.fixture(scope="module")
def exported(G, tmp_path_factory, one_thread):
    """A folder holding G's exported graph, and the engine that exported it."""
    folder = tmp_path_factory.mktemp("graphs")
    engine = OnnxEngine(G, fingerprint(G), folder)
    return folder, engine


def codes(G: Generator, seeds=range(6)) -> np.ndarray:
    return np.concatenate([G.w_from_seed(s, truncation_psi=0.7).numpy() for s in seeds])


def test_onnx_frames_are_within_one_step_of_torch_and_repeat_exactly(G, exported):
    folder, engine = exported
    assert engine.exports == 1 and engine.graph_path(G.config.img_resolution).is_file()
    ws = codes(G)
    frames = engine.frames(ws)
    want = synthesize_frames(G, ws)
    assert frames.shape == want.shape == (6, 32, 32, 3) and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - want).max() <= 1
    assert np.array_equal(engine.frames(ws), frames)  # deterministic
    assert not any(p.name.endswith(".tmp") for p in folder.iterdir())  # written atomically


def test_a_second_engine_reuses_the_cached_graph(G, exported):
    folder, first = exported
    again = OnnxEngine(G, fingerprint(G), folder)
    assert again.exports == 0
    assert np.array_equal(again.frames(codes(G)), first.frames(codes(G)))


def test_a_cached_graph_is_touched_when_used_so_pruning_keeps_it(G, exported, tmp_path):
    folder, first = exported
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    path = tmp_path / first.graph_path(G.config.img_resolution).name
    os.utime(path, (1_000_000_000, 1_000_000_000))
    assert OnnxEngine(G, fingerprint(G), tmp_path).exports == 0
    assert path.stat().st_mtime > 1_000_000_000  # used now: the last the pruning removes


def test_a_damaged_cached_graph_is_exported_again(G, exported, tmp_path):
    folder, first = exported
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    path = first.graph_path(G.config.img_resolution)
    damaged = tmp_path / path.name
    damaged.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    engine = OnnxEngine(G, fingerprint(G), tmp_path)
    assert engine.exports == 1
    assert np.array_equal(engine.frames(codes(G)), first.frames(codes(G)))


def test_graphs_are_named_by_weights_settings_and_versions(exported):
    folder, engine = exported
    base = dict(folder=folder, fingerprint="a" * 64, resolution=32, noise_mode="const", fused=False,
                onnxruntime_version="1.32.0")
    names = {graph_file(**{**base, **change}).name for change in (
        {}, {"fingerprint": "b" * 64}, {"resolution": 16}, {"noise_mode": "none"}, {"fused": True},
        {"onnxruntime_version": "1.33.0"})}
    assert len(names) == 6
    assert engine.graph_path(32).parent == folder


def test_auto_is_onnx_on_the_cpu_and_torch_by_name(G, exported, monkeypatch):
    folder, _ = exported
    monkeypatch.delenv("LATENT_EMOTION_ENGINE", raising=False)
    auto = pick_engine(G, fingerprint(G), "auto", graphs=folder)
    assert auto.name == "onnx" and auto.exports == 0
    assert pick_engine(G, fingerprint(G), "torch", graphs=folder).name == "torch"
    monkeypatch.setenv("LATENT_EMOTION_ENGINE", "torch")
    assert pick_engine(G, fingerprint(G), "auto", graphs=folder).name == "torch"
    with pytest.raises(EngineError, match="unknown engine"):
        pick_engine(G, fingerprint(G), "tensorrt", graphs=folder)


def test_auto_falls_back_to_torch_when_onnxruntime_does_not_import(G, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    monkeypatch.delenv("LATENT_EMOTION_ENGINE", raising=False)
    e = pick_engine(G, "abc", "auto", graphs=tmp_path)
    assert (e.name, e.note, len(e.frames(G.w_from_seed(0).numpy()))) == ("torch", "onnxruntime is not installed", 1)
    with pytest.raises(EngineError) as err:
        pick_engine(G, "abc", "onnx", graphs=tmp_path)
    assert str(err.value).startswith("the onnx engine needs onnxruntime") and "--engine torch" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing was exported


def test_render_engine_option_keys_frames_apart(G, exported, tmp_path):
    from backend.animation.directions import save_directions
    from lab.rigs import random_directions

    folder, _ = exported
    model = save_generator(G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(G, names=("joy",)), tmp_path / "d.json")
    (tmp_path / "v.csv").write_text("frame,joy\n0,0\n3,1\n")
    for run in ("1", "2"):  # beside each frame cache: no export in the commands
        shutil.copytree(folder, tmp_path / run / "graphs")

    def render(engine: str, run: str, out: str, process: bool = False) -> subprocess.CompletedProcess:
        args = ["render", "--model", model, "--directions", directions, "--values", tmp_path / "v.csv", "--cache",
                tmp_path / run / "frames", "--device", "cpu", "--engine", engine, "--out", tmp_path / out]
        if not process:
            return backend_cli(*args)
        return subprocess.run([sys.executable, "-m", "backend", *map(str, args)], cwd=ROOT, capture_output=True,
                              text=True)

    def counts(r: subprocess.CompletedProcess) -> tuple[int, int, str]:
        assert r.returncode == 0, r.stderr
        m = re.search(r"\((\d+) computed, (\d+) from cache\), engine (\w+)", r.stdout)
        assert m, r.stdout
        return int(m.group(1)), int(m.group(2)), m.group(3)

    assert counts(render("onnx", "1", "a")) == (4, 0, "onnx")
    assert counts(render("onnx", "2", "b", process=True)) == (4, 0, "onnx")  # another process, another cache
    assert counts(render("torch", "1", "c")) == (4, 0, "torch")  # torch's frames are keyed apart
    assert counts(render("onnx", "1", "d")) == (0, 4, "onnx")
    assert [p.name for p in (tmp_path / "1" / "graphs").iterdir()] == [p.name for p in folder.iterdir()]
    pngs = {d: sorted((tmp_path / d).glob("*.png")) for d in "abc"}
    assert [p.read_bytes() for p in pngs["a"]] == [p.read_bytes() for p in pngs["b"]]  # deterministic
    a, c = (np.stack([iio.imread(p) for p in pngs[d]]) for d in "ac")
    assert a.shape == c.shape == (4, 32, 32, 3) and np.abs(a.astype(int) - c).max() <= 1
    r = backend_cli("render", "--model", model, "--directions", directions, "--values", tmp_path / "v.csv",
                    "--engine", "onnx", "--compile", "--out", tmp_path / "x")
    assert r.returncode == 2 and r.stderr.startswith("error: --compile") and "Traceback" not in r.stderr


def test_the_addon_rig_bakes_with_the_engine_it_is_given(G, exported, tmp_path):
    from backend.animation.directions import save_directions
    from backend.rendering.frame_cache import FrameCache
    from blender_addon.baking import BakeJob, SequenceRequest
    from blender_addon.rig import FaceSpec, Rig, RigPaths
    from lab.rigs import random_directions

    folder, _ = exported
    model = save_generator(G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(G), tmp_path / "directions.json")
    frames = {}
    for engine in ("onnx", "torch"):
        rig = Rig(RigPaths(model, directions, "cpu", engine, folder))
        assert rig.engine.name == engine and getattr(rig.engine, "exports", 0) == 0  # the module's graph
        req = SequenceRequest("face", tmp_path / engine, (1, 2), ("1.png", "2.png"), FaceSpec(seed=3, truncation=0.7),
                              {"joy": np.array([0.0, 1.0])})
        stats = BakeJob(rig, FrameCache(tmp_path / "cache"), [req]).run()
        assert stats.computed == 2  # torch's frames are keyed apart from onnx's: computed again
        frames[engine] = np.stack([iio.imread(tmp_path / engine / n) for n in req.filenames])
    assert np.abs(frames["onnx"].astype(int) - frames["torch"]).max() <= 1


def test_auto_keeps_torch_for_models_bigger_than_measured(tmp_path, monkeypatch):
    from backend.model import allocator
    from backend.model.engines import AUTO_ONNX_MAX_RESOLUTION, AUTO_ONNX_MAX_RESOLUTION_KEPT, auto_onnx_max_resolution

    monkeypatch.delenv("LATENT_EMOTION_ENGINE", raising=False)
    # Where malloc keeps freed blocks (the CLI; conftest does as it does) torch is the faster above
    # 256 px; where it does not (the add-on's worker thread), onnx is, up to 1024 px.
    assert allocator.freed_memory_kept() and auto_onnx_max_resolution() == AUTO_ONNX_MAX_RESOLUTION_KEPT
    big = Generator(tiny_config(img_resolution=2 * AUTO_ONNX_MAX_RESOLUTION_KEPT, channel_base=4096, channel_max=4))
    engine = pick_engine(big, "abc", "auto", graphs=tmp_path)
    assert engine.name == "torch" and "not measured" in engine.note and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(allocator, "_kept", False)
    assert auto_onnx_max_resolution() == AUTO_ONNX_MAX_RESOLUTION
