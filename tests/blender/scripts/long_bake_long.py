from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
