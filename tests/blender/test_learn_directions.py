"""Learn Directions: the chosen model's directions learned on the worker and made the preference."""

from __future__ import annotations

import json
import shutil

from ..test_generator_directions import FEATURES_PROBE

LEARN = '''
api = enable()
learn, worker = addon("learn"), addon("worker")
model, probe = sys.argv[1:3]
prefs = bpy.context.preferences.addons[MODULE].preferences
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
directions = prefs.directions_path
more = learn.wait(learn.start_learning(128, 1, reader))  # resumes: the first 64 samples are stored
bad_reader = run(samples=8, faces=1, reader="nonsense")

face = api.add_face(seed=3)  # the rig loads the learned file with the model (fingerprints match)
frame = api.frame_array(face, 1)
result(cancelled=cancelled, first=first, directions=directions, made=more.made, samples=more.samples,
       report=str(more.report), bad_reader=bad_reader, frame=list(frame.shape),
       work=sorted(p.name for p in learn.work_dir().iterdir()))
'''


def test_learn_directions_writes_the_models_directions_resumes_and_sets_the_preference(blender, tmp_path):
    model = tmp_path / "mine.safetensors"
    shutil.copy(blender.env["LE_TEST_MODEL"], model)
    out = blender.run(LEARN, str(model), str(FEATURES_PROBE))
    assert out["cancelled"] is not None and "cancelled" in out["cancelled"]
    assert out["first"][0] == ["FINISHED"], out["first"]
    written = tmp_path / "mine.directions.json"
    assert out["directions"] == str(written) and written.is_file()
    assert out["samples"] == 128 and out["made"] == 64  # the first run's 64 samples were reused
    assert json.loads((tmp_path / "mine.directions.report.json").read_text())["channels"]
    assert out["bad_reader"][0] is None and "'faces' or 'probe:PATH'" in out["bad_reader"][1]
    assert out["frame"] == [32, 32, 3]
    assert any(name.startswith("samples-") for name in out["work"])  # the work folder is the user folder's
