"""scripts/eval_stacking.py on the shipped default model at a toy size: it runs, prints its table and
writes its numbers and strips."""

from __future__ import annotations

import json

import pytest
import torch

from backend.rendering.video import decode_png

from .conftest import ROOT, script_module


@pytest.mark.slow
def test_eval_stacking_compares_the_plain_and_the_capped_sum_and_writes_its_files(tmp_path, monkeypatch, capsys):
    (tmp_path / "s.txt").write_text("# Video 1:\njoy turning-right\n")
    out, strip, text = tmp_path / "stacking.json", tmp_path / "strip.png", tmp_path / "text.png"
    script = script_module("eval_stacking")
    monkeypatch.chdir(ROOT)  # its default model, directions and probe paths
    threads = torch.get_num_threads()
    try:  # in this process (no interpreter and torch start); it sets torch to its --threads (1)
        code = script.main(["--script", str(tmp_path / "s.txt"), "--faces", "1", "--between", "2", "--json", str(out),
                            "--strip", str(strip), "--text-strip", str(text)])
    finally:
        torch.set_num_threads(threads)
    stdout = capsys.readouterr().out
    assert code == 0, stdout
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
    assert "pairs meet both" in stdout and "bit for bit the same as add" in stdout
