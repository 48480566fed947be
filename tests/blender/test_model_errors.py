"""A bad model path is reported as the model's problem, even when no directions file is set."""

from __future__ import annotations

import pytest
from .harness import script

pytestmark = pytest.mark.slow

PATHS = script("model_errors_paths")


def test_bad_model_paths_say_what_is_wrong_with_the_model(shared_blender, tmp_path):
    out = shared_blender.run(PATHS, str(tmp_path))["messages"]
    assert "a folder, not a checkpoint file" in out["folder"]
    assert "unknown format" in out["notes.txt"]
    assert "the file is empty" in out["empty.pkl"]
    assert "no such file" in out["missing.pkl"]
    assert not any("no directions file chosen" in m for m in out.values())
