from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
