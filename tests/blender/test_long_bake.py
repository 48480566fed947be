"""A bake of any length holds a window of W+ codes at a time, never one per frame of the range."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

LONG = '''
api = enable()
jobs, baking = addon("jobs"), addon("baking")
scene = bpy.context.scene
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
scene.frame_start, scene.frame_end = 1, 1200
face = api.add_face(seed=4)
api.key_channels(face, 1, interpolation="LINEAR", joy=-1.0)
api.key_channels(face, 1200, interpolation="LINEAR", joy=1.0)

rig = jobs.load_rig()
rows = []
latents = rig.latents
def counting(face_spec, values):
    ws = latents(face_spec, values)
    rows.append(len(ws))
    return ws
rig.latents = counting

job = jobs.make_job(scene, [face], range(1, 1201), rig=rig)
total = job.total
for _ in range(300):
    job.step()
todo_after = len(job._todo)
pending = job.pending_codes()
first = next(iter(pending))[1].shape
job.close()
result(total=total, window=baking.WINDOW, max_rows=max(rows), todo_after=todo_after, pending=len(pending),
       first=list(first), done=job.done)
'''


def test_a_long_bake_makes_codes_a_window_at_a_time(blender):
    out = blender.run(LONG)
    assert out["total"] == 1200 and out["done"] == 300
    assert out["max_rows"] <= out["window"] < 1200  # never the whole range's codes at once
    assert out["todo_after"] <= out["window"]
    assert out["pending"] == 900 and len(out["first"]) == 2
