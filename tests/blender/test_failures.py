"""Frames that cannot be made: a background render fails with an exit code, an interactive one shows
an error frame (never a missing file, never a stale one) and says so on the face's panel."""

from __future__ import annotations

import numpy as np
import pytest

from backend.rendering.video import decode_png

pytestmark = pytest.mark.slow

SCENE = '''
import numpy as np
api = enable()
compat, handlers = addon("compat"), addon("handlers")
from importlib import import_module
STATE = import_module(MODULE + ".state").STATE
scene = bpy.context.scene
r = scene.render
r.resolution_x = r.resolution_y = 32
r.use_sequencer = True
scene.view_settings.view_transform = "Standard"
scene.frame_start, scene.frame_end = 1, 3
compat.set_output_png(r)
strip = api.add_strip(frame_start=1, length=3, seed=1)
api.key_channels(strip, 1, joy=0.0)
api.key_channels(strip, 3, joy=1.0)
prefs = bpy.context.preferences.addons[MODULE].preferences
out = sys.argv[1]
r.filepath = os.path.join(out, "####")

def lose_model():
    """The generator file the face was made with is gone (the face records it: records.py)."""
    settings = addon("properties").settings_of(strip)
    settings.model_file, settings.model_file_absolute = os.path.join(out, "no-such-model.safetensors"), ""
'''

MISSING_MODEL = SCENE + '''
lose_model()
bpy.ops.render.render(animation=True)
result(finished=True)
'''


def test_background_render_exits_nonzero_when_the_model_file_is_missing(blender, tmp_path):
    out = blender.run(MISSING_MODEL, str(tmp_path), expect_rc=3)
    assert "finished" not in out
    assert not list(tmp_path.glob("*.png"))  # it stopped before the first frame
    assert "strip 'Emotion Face', frame 1 cannot be made" in out["_stdout"]
    assert "no-such-model.safetensors" in out["_stdout"]


BAD_VALUE = SCENE + '''
api.bake(strip, 1, 3)
fc = compat.find_fcurve(scene, addon("properties").channel_ref(strip, "joy").paths)
fc.keyframe_points[1].co[1] = float("nan")  # keys can hold what the property refuses
bpy.ops.render.render(animation=True)
result(finished=True)
'''


def test_background_render_exits_nonzero_on_a_bad_channel_value(blender, tmp_path):
    out = blender.run(BAD_VALUE, str(tmp_path), expect_rc=3)
    assert "finished" not in out
    assert "frame 2 cannot be made" in out["_stdout"] and "joy" in out["_stdout"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["0001.png"]


INTERACTIVE = SCENE + '''
handlers.exit_on_failure = lambda: False  # as in Blender's UI: no process to end
prefs.preview_resolution = 16
api.bake(strip, 1, 3, preview=True)  # small stand-ins in the folder: never a final frame
good = api.frame_array(strip, 1)
lose_model()
bpy.ops.render.render(animation=True)
folder = str(api.frame_path(strip, 1).parent)
result(finished=True, rendering=handlers.is_rendering(), failures=len(STATE.render_failures),
       panel=STATE.error_for(folder), good=good.tolist())
'''


def test_interactive_render_shows_error_frames_and_reports_on_the_panel(blender, tmp_path):
    out = blender.run(INTERACTIVE, str(tmp_path))
    assert out["finished"] and not out["rendering"]
    assert out["failures"] == 3
    assert out["panel"].startswith("Render failed: strip 'Emotion Face', frame 3 cannot be made")
    for f in (1, 2, 3):
        frame = decode_png((tmp_path / f"{f:04d}.png").read_bytes())
        assert frame.shape == (32, 32, 3)
        assert (frame == np.array([255, 0, 255], np.uint8)).all(), f"frame {f} is not the error frame"


PREVIEW = SCENE + '''
preview = addon("preview")
lose_model()
scene.frame_set(2)
import time
end = time.time() + 60
while bpy.app.timers.is_registered(preview._poll) and time.time() < end:
    if preview._poll() is None:
        bpy.app.timers.unregister(preview._poll)
    time.sleep(0.01)
folder = str(api.frame_path(strip, 2).parent)
result(panel=STATE.error_for(folder))
'''


def test_preview_errors_stay_on_the_faces_panel(blender, tmp_path):
    out = blender.run(PREVIEW, str(tmp_path))
    assert out["panel"] and "no-such-model.safetensors" in out["panel"]
