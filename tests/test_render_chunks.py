"""render --frames A-B: a shot split into chunks rendered by separate processes (a render farm's way)
fills one folder with the frames a single render makes, bit for bit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backend.animation.directions import save_directions
from backend.model.checkpoints import save_generator
from lab.rigs import random_directions

from .conftest import ROOT, backend_cli


@pytest.fixture
def rig(tiny_G, tmp_path):
    return (save_generator(tiny_G, tmp_path / "g.safetensors"),
            save_directions(random_directions(tiny_G), tmp_path / "directions.json"))


def render(rig, *args: str) -> subprocess.CompletedProcess:
    """The render command in this process (the chunks below run as processes of their own)."""
    model, directions = rig
    return backend_cli("render", "--model", model, "--directions", directions, "--script",
                       ROOT / "examples" / "fig7.txt", "--frames-between", "3", "--seed", "2", *args)


def test_chunks_rendered_apart_fill_one_folder_bit_identical_to_one_render(rig, tmp_path):
    whole = render(rig, "--out", str(tmp_path / "whole"), "--cache", str(tmp_path / "cache-whole"))
    assert whole.returncode == 0, whole.stderr
    chunks = [subprocess.Popen([sys.executable, "-m", "backend", "render", "--model", str(rig[0]), "--directions",
                                str(rig[1]), "--script", str(ROOT / "examples" / "fig7.txt"), "--frames-between", "3",
                                "--seed", "2", "--frames", span, "--out", str(tmp_path / "chunks"),
                                "--cache", str(tmp_path / "shared-cache")], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
              for span in ("0-6", "7-14", "15-20")]  # at once, one shared cache
    for p in chunks:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    made = sorted(p.name for p in (tmp_path / "chunks").iterdir())
    assert made == sorted(p.name for p in (tmp_path / "whole").iterdir()) == [f"frame_{f:05d}.png" for f in range(21)]
    for name in made:
        assert (tmp_path / "chunks" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


@pytest.mark.parametrize("span, message", [
    ("9-3", "--frames must run forwards"),
    ("a-b", "--frames must look like '0-99'"),
    ("10-999", "frames 10-999 are not within the timeline's 0-20"),
])
def test_a_bad_frame_range_is_one_clear_error(rig, tmp_path, span, message):
    r = render(rig, "--frames", span, "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache"))
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
