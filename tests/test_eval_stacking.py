"""scripts/eval_stacking.py on the shipped default model at a toy size: it runs, prints its table and
writes its numbers and strips."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from backend.rendering.video import decode_png

from .conftest import ROOT


@pytest.mark.slow
def test_eval_stacking_compares_the_plain_and_the_capped_sum_and_writes_its_files(tmp_path):
    (tmp_path / "s.txt").write_text("# Video 1:\njoy turning-right\n")
    out, strip, text = tmp_path / "stacking.json", tmp_path / "strip.png", tmp_path / "text.png"
    r = subprocess.run([sys.executable, "scripts/eval_stacking.py", "--script", str(tmp_path / "s.txt"), "--faces", "1",
                        "--between", "2", "--json", str(out), "--strip", str(strip), "--text-strip", str(text)],
                       cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert set(doc["pairs"]) == {f"{a}+{b}" for i, a in enumerate(doc["single"]) for b in list(doc["single"])[i + 1:]}
    assert all(set(p) == {"renders", "add", "cap"} for p in doc["pairs"].values())
    assert doc["single_channel_codes_bit_identical"] is True
    clip = doc["fig7"]["1"]
    # joy with a head turn: the capped stack moves the face less far than the plain sum.
    assert clip["cap"]["keyframe_drift"][1] < clip["add"]["keyframe_drift"][1]
    assert clip["add"]["keyframe_drift"][0] == clip["cap"]["keyframe_drift"][0] == 0.0
    assert decode_png(strip.read_bytes()).shape == (2 * 128 + 2, 2 * 128 + 2, 3)  # neutral + 1 keyframe, 2 rows
    assert decode_png(text.read_bytes()).shape[0] == 2 * 128 + 2
    assert "pairs meet both" in r.stdout and "bit for bit the same as add" in r.stdout
