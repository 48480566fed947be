"""A .blend file that moves finds its faces' frames in the cache (no folder tree made beside it)."""

from __future__ import annotations

import os
from pathlib import Path
from .harness import script

MAKE = script("moved_file_make")

OPEN = script("moved_file_open")


def test_moved_blend_file_shows_the_cached_frames_without_a_new_folder_tree(shared_blender, tmp_path):
    first = tmp_path / "a" / "b" / "scene.blend"
    first.parent.mkdir(parents=True)
    made = shared_blender.run(MAKE, str(first))
    assert all(p.startswith("//") for p in made["stored"])  # relative: they break when the file moves
    moved = tmp_path / "elsewhere" / "scene.blend"
    moved.parent.mkdir()
    os.rename(first, moved)
    out = shared_blender.run(OPEN, str(moved))
    assert out["files"] == made["files"]
    assert out["written"] == [0, 0]  # the files were there already
    assert os.path.normpath(out["image"]) == os.path.normpath(made["files"]["Plane Face"].replace("00002", "00001"))
    for stored in made["stored"]:  # where the relative paths lead from the new place: nothing made there
        stale = Path(os.path.normpath(moved.parent / stored[2:]))
        assert not stale.exists() and not stale.parent.exists(), stale
