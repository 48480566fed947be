"""The frame cache keeps to the preferences' limit, least recently used first, never dropping a frame
that a face's folder holds."""

from __future__ import annotations

LIMIT = '''
import os
api = enable()
prefs = bpy.context.preferences.addons[MODULE].preferences
frames_dir = addon("preferences").frames_dir()
jobs = addon("jobs")

def cached():
    return {p.stem for p in frames_dir.glob("??/*.png")}

face = api.add_face(seed=1)
api.key_channels(face, 1, interpolation="LINEAR", joy=-1.0)
api.key_channels(face, 3, interpolation="LINEAR", joy=1.0)
prefs.cache_limit_gb = 0.0  # no limit
api.bake(face, 1, 3)
first = cached()
api.key_channels(face, 3, interpolation="LINEAR", joy=0.5)
api.bake(face, 1, 3)  # frames 2 and 3 change: their first versions are shown by no face now
both = cached()
shown = jobs.shown_keys()
prefs.cache_limit_gb = 1e-9  # a few bytes: everything that may go, goes
api.key_channels(face, 3, interpolation="LINEAR", joy=0.4)
api.bake(face, 1, 3)
after = cached()
result(first=sorted(first), both=sorted(both), shown_before=sorted(shown), after=sorted(after),
       shown_after=sorted(jobs.shown_keys()),
       files_ok=all(api.frame_path(face, f).is_file() for f in (1, 2, 3)))
'''


def test_cache_prunes_past_its_limit_but_keeps_every_frame_a_face_shows(blender):
    out = blender.run(LIMIT)
    assert len(out["first"]) == 3 and len(out["both"]) == 5
    assert set(out["shown_before"]) < set(out["both"]) and len(out["shown_before"]) == 3
    # After the third bake: exactly the frames the face shows are left, over the limit as they are.
    assert out["after"] == out["shown_after"] and len(out["after"]) == 3
    assert out["files_ok"]
