"""Faces follow the scene's range (planes) and their own length (strips) after they were made."""

from __future__ import annotations

import pytest
from .harness import script

pytestmark = pytest.mark.slow

EXTEND = script("ranges_extend")


def test_faces_follow_a_longer_scene_and_a_longer_strip_in_bake_paths_and_renders(shared_blender, tmp_path):
    out = shared_blender.run(EXTEND, str(tmp_path))
    assert out["paths"]["face"].endswith("frame_00100.png")
    assert out["paths"]["strip"].endswith("frame_00099.png")  # strips number their files from 0
    assert out["baked"] == [100, 100]
    assert out["reopened"].endswith("frame_00100.png")
    face48, face100 = out["dists"]["face"]
    assert face100 < 4 < face48, out["dists"]
    strip48, strip100 = out["dists"]["strip"]
    assert strip100 == 0 < strip48, out["dists"]
