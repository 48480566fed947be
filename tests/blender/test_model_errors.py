"""A bad model path is reported as the model's problem, even when no directions file is set."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

PATHS = '''
import os
from pathlib import Path
enable()
rig = addon("rig")
tmp = Path(sys.argv[1])
(tmp / "folder").mkdir()
(tmp / "notes.txt").write_text("not a model")
(tmp / "empty.pkl").write_bytes(b"")
messages = {}
for name in ("folder", "notes.txt", "empty.pkl", "missing.pkl"):
    try:
        rig.resolve_paths(str(tmp / name), "", "cpu")
        messages[name] = None
    except rig.RigError as e:
        messages[name] = str(e)
result(messages=messages)
'''


def test_bad_model_paths_say_what_is_wrong_with_the_model(blender, tmp_path):
    out = blender.run(PATHS, str(tmp_path))["messages"]
    assert "a folder, not a checkpoint file" in out["folder"]
    assert "unknown format" in out["notes.txt"]
    assert "the file is empty" in out["empty.pkl"]
    assert "no such file" in out["missing.pkl"]
    assert not any("no directions file chosen" in m for m in out.values())
