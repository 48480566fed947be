"""scripts/bench_generator.py --reference: the harness that times our synthesis against a checkout of
NVIDIA's code. No NVIDIA code is here, so the reference folders these tests build expose our own
generator under NVIDIA's module path and constructor signatures (stylegan2-ada-pytorch's nested
``synthesis_kwargs`` and stylegan3's flat ones): what is tested is the harness — importing from the
folder, building the network from our config, moving the weights by name, interleaved timing and
the output comparison — not the upstream code."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "bench_generator.py"

# A stand-in for the checkout: NVIDIA's constructor, our network inside.
NESTED = """
from backend.model.generator import Generator as _Ours, GeneratorConfig

class Generator(_Ours):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={}, synthesis_kwargs={}):
        super().__init__(GeneratorConfig(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                         img_channels=img_channels, mapping_layers=mapping_kwargs["num_layers"],
                                         **synthesis_kwargs))
"""
FLAT = """
from backend.model.generator import Generator as _Ours, GeneratorConfig

class Generator(_Ours):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={}, **synthesis_kwargs):
        super().__init__(GeneratorConfig(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                         img_channels=img_channels, mapping_layers=mapping_kwargs["num_layers"],
                                         **synthesis_kwargs))
"""


def checkout(root: Path, module: str, source: str) -> Path:
    path = root / "training" / f"{module}.py"
    path.parent.mkdir(parents=True)
    (path.parent / "__init__.py").write_text("")
    path.write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def bench(monkeypatch):
    """The script as a module; the reference's ``training`` package is forgotten afterwards."""
    spec = importlib.util.spec_from_file_location("bench_generator", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield module
    for name in [m for m in sys.modules if m == "training" or m.startswith("training.")]:
        del sys.modules[name]


@pytest.mark.parametrize("module, source", [("networks", NESTED), ("networks_stylegan2", FLAT)], ids=["ada", "sg3"])
def test_reference_runs_on_identical_weights_and_prints_the_ratio(tmp_path, bench, capsys, module, source):
    bench.run_reference("s64", str(checkout(tmp_path / "ref", module, source)), [1, 2], 2, "cpu")
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [row[:2] for row in rows] == [["s64", "1"], ["s64", "2"]]
    for row in rows:
        ours, ref, ratio, diff, load = map(float, row[2:])
        assert ours > 0 and ref > 0
        # ms are printed to 0.1, the ratio to 0.001 of the unrounded times: within what the rounding allows
        assert (ours - 0.05) / (ref + 0.05) - 0.0005 <= ratio <= (ours + 0.05) / (ref - 0.05) + 0.0005
        assert diff == 0.0  # the same weights and codes: the same image
        assert load >= 0


def test_a_reference_with_other_parameters_is_refused(tmp_path, bench):
    wrong = NESTED.replace("mapping_layers=mapping_kwargs[\"num_layers\"]", "mapping_layers=1")
    with pytest.raises(bench.ReferenceUnusable, match="parameters differ from ours"):
        bench.run_reference("s64", str(checkout(tmp_path / "ref", "networks", wrong)), [1], 1, "cpu")


def test_a_folder_that_is_not_a_checkout_is_refused(tmp_path, bench):
    (tmp_path / "empty").mkdir()
    with pytest.raises(bench.ReferenceUnusable, match="no training/networks.py"):
        bench.reference_networks(str(tmp_path / "empty"))
    with pytest.raises(bench.ReferenceUnusable, match="ModuleNotFoundError"):
        bench.reference_networks(str(checkout(tmp_path / "broken", "networks", "import dnnlib_that_is_not_here\n")))


def test_the_command_says_why_in_one_line(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(SCRIPT), "--configs", "s64", "--reference", str(tmp_path / "nowhere")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode != 0 and r.stderr == f"error: --reference {tmp_path / 'nowhere'}: no such folder\n"


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message a machine without CUDA gives")
def test_the_gpu_run_says_plainly_when_there_is_no_gpu():
    """scripts/bench_gpu.py is the prepared run for a lent GPU (it was run whole with --quick
    --device cpu when written: 38 s); without CUDA it stops at once with a one-line error."""
    done = subprocess.run([sys.executable, "scripts/bench_gpu.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "no CUDA device here" in done.stderr and "Traceback" not in done.stderr
