"""The frame cache keeps to the preferences' limit, least recently used first, never dropping a frame
that a face's folder holds."""

from __future__ import annotations
from .harness import script

LIMIT = script("cache_limit_limit")


def test_cache_prunes_past_its_limit_but_keeps_every_frame_a_face_shows(shared_blender):
    out = shared_blender.run(LIMIT)
    assert len(out["first"]) == 3 and len(out["both"]) == 5
    assert set(out["shown_before"]) < set(out["both"]) and len(out["shown_before"]) == 3
    # After the third bake: exactly the frames the face shows are left, over the limit as they are.
    assert out["after"] == out["shown_after"] and len(out["after"]) == 3
    assert out["files_ok"]
