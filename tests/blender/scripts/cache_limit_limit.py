from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
