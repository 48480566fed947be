from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

from pathlib import Path
api = enable()
learn, worker = addon("learn"), addon("worker")
model, probe = sys.argv[1:3]
prefs = bpy.context.preferences.addons[MODULE].preferences
face = api.add_face(seed=3)  # made with the test rig: it records those files
api.bake(face, 1, 1)  # the rig loads: the record gets the fingerprints
settings = face.latent_emotion
made_with = [settings.model_file, settings.directions_file, settings.directions_fingerprint]
frame_before = api.frame_array(face, 1)
prefs.model_path, prefs.directions_path = model, ""
reader = "probe:" + probe

order = learn.start_learning(64, 1, reader)  # cancelled before it starts: nothing written
worker.shared_worker().cancel(order)
try:
    learn.wait(order)
    cancelled = None
except addon("backend.jobs").Cancelled as e:
    cancelled = str(e)

def run(**props):
    try:
        return sorted(bpy.ops.latent_emotion.learn_directions(**props)), None
    except RuntimeError as e:  # an ERROR report
        return None, str(e)

first = run(samples=64, faces=1, reader=reader)
after_first = prefs.directions_path
asked = run(samples=64, faces=1, reader=reader, use_incomplete=True)
after_asked = prefs.directions_path
more = learn.wait(learn.start_learning(128, 1, reader))  # resumes: the first 64 samples are stored
bad_reader = run(samples=8, faces=1, reader="nonsense")

frame_after = api.frame_array(face, 1)  # the face keeps the directions it was made with
result(cancelled=cancelled, first=first, after_first=after_first, asked=asked, after_asked=after_asked,
       made=more.made, samples=more.samples, report=str(more.report), missing=list(more.missing),
       bad_reader=bad_reader, same_frame=bool((frame_before == frame_after).all()),
       made_with=made_with, now=[settings.model_file, settings.directions_file, settings.directions_fingerprint],
       folder=str(learn.directions_file(Path(model)).parent),
       user=bpy.utils.extension_path_user(addon("preferences").PACKAGE),
       work=sorted(p.name for p in learn.work_dir().iterdir()))
