"""The command line with real files: the commands in this process (``backend_cli``), and ``python -m
backend`` as a user starts it for the exit code and the one-line error of a real process."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import imageio.v3 as iio
import numpy as np

from backend.model.checkpoints import fingerprint, load_generator, save_generator

from .conftest import ROOT, backend_cli


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, capture_output=True, text=True)


def test_info_describes_a_checkpoint(tiny_G, tmp_path):
    path = save_generator(tiny_G, tmp_path / "g.safetensors")
    r = backend_cli("info", path)
    assert r.returncode == 0, r.stderr
    assert "format:       latent-emotion" in r.stdout and "num_ws:       8" in r.stdout
    assert fingerprint(tiny_G) in r.stdout


def test_sample_writes_one_png_per_seed(tiny_G, tmp_path):
    path = save_generator(tiny_G, tmp_path / "g.safetensors")
    r = backend_cli("sample", "--model", path, "--seeds", "3-4,9", "--device", "cpu", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    files = sorted((tmp_path / "out").glob("*.png"))
    assert [f.name for f in files] == ["seed0003.png", "seed0004.png", "seed0009.png"]
    img = iio.imread(files[0])
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.std() > 0
    assert not np.array_equal(img, iio.imread(files[1]))


def test_convert_keeps_the_fingerprint(tiny_G, tmp_path):
    src = save_generator(tiny_G, tmp_path / "g.safetensors")
    r = backend_cli("convert", src, tmp_path / "copy.safetensors")
    assert r.returncode == 0, r.stderr
    assert load_generator(tmp_path / "copy.safetensors")[1].fingerprint == fingerprint(tiny_G)


def test_bad_checkpoint_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": print}))
    r = run("info", str(path))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert str(path) in r.stderr and "builtins.print" in r.stderr


def test_sheet_draws_each_seed_neutral_and_with_each_channel(tiny_G, tmp_path):
    from backend.animation.directions import save_directions
    from backend.rendering.sheet import HEADER_PX
    from lab.rigs import random_directions

    model = save_generator(tiny_G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(tiny_G, names=("joy", "anger")), tmp_path / "d.json")
    out = tmp_path / "sheet.png"
    r = backend_cli("sheet", "--model", model, "--directions", directions, "--seeds", "1-3", "--cell", "40",
                    "--device", "cpu", "--out", out)
    assert r.returncode == 0, r.stderr
    sheet = iio.imread(out)
    assert sheet.shape == (HEADER_PX + 3 * 40, 3 * 40, 3)
    cells = [sheet[HEADER_PX:HEADER_PX + 40, j * 40:(j + 1) * 40].astype(int) for j in range(3)]
    assert np.abs(cells[0] - cells[1]).mean() > 1 and np.abs(cells[1] - cells[2]).mean() > 1
    for bad in (["--model", str(model)],  # the tiny model with the default model's directions
                ["--model", str(model), "--directions", str(directions), "--cell", "0"]):
        r = backend_cli("sheet", *bad, "--out", tmp_path / "x.png")
        assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr


def test_thread_choice_follows_model_size_and_free_cores():
    from backend.model.generator import GeneratorConfig
    from backend.model.threads import PARALLEL_FLOPS, choose_threads, synthesis_flops

    small = GeneratorConfig(img_resolution=128, z_dim=256, w_dim=256, channel_base=2048, channel_max=256)
    ffhq = GeneratorConfig(img_resolution=1024, channel_base=32768, channel_max=512)
    assert synthesis_flops(small) < PARALLEL_FLOPS < synthesis_flops(ffhq)
    assert 270e9 < synthesis_flops(ffhq) < 300e9  # config-F: ~284 GFLOP a frame
    assert [choose_threads(synthesis_flops(small), c) for c in (1, 2, 8)] == [1, 1, 1]
    assert [choose_threads(synthesis_flops(ffhq), c) for c in (1, 2, 8)] == [1, 2, 8]


def test_small_models_run_on_one_passive_thread():
    code = ("import os\n"
            "from backend.model.threads import prepare_openmp, use_threads_for\n"
            "prepare_openmp()\n"
            "from backend.model.generator import GeneratorConfig\n"
            "import torch\n"
            "print(os.environ['OMP_WAIT_POLICY'], use_threads_for(GeneratorConfig(img_resolution=32, channel_max=32)))")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["PASSIVE", "1"]
