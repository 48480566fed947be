"""Colour management: with Blender's default scene settings (AgX view), renders show the face's own
colours, because adding a face sets the Standard view transform."""

from __future__ import annotations

import numpy as np
import pytest

from backend.video import decode_png

pytestmark = pytest.mark.slow

DEFAULT_SCENE = '''
api = enable()
compat = addon("compat")
scene = bpy.context.scene
before = [scene.view_settings.view_transform, scene.view_settings.look]
r = scene.render
r.resolution_x = r.resolution_y = 32
r.use_sequencer = True
scene.frame_start, scene.frame_end = 1, 2
compat.set_output_png(r)
strip = api.add_strip(frame_start=1, length=2, seed=8)
api.key_channels(strip, 1, joy=-1.0)
api.key_channels(strip, 2, joy=1.0, anger=0.8)
r.filepath = os.path.join(sys.argv[1], "####")
bpy.ops.render.render(animation=True)
result(before=before, after=[scene.view_settings.view_transform, scene.view_settings.look],
       files={f: str(api.frame_path(strip, f)) for f in (1, 2)})
'''


def test_sequencer_render_under_default_agx_matches_the_frames(blender, tmp_path):
    out = blender.run(DEFAULT_SCENE, str(tmp_path))
    assert out["before"][0] == "AgX"  # Blender's factory setting
    assert out["after"] == ["Standard", "None"]
    for f, path in out["files"].items():
        want = decode_png(open(path, "rb").read()).astype(int)
        got = decode_png((tmp_path / f"{int(f):04d}.png").read_bytes()).astype(int)
        assert np.abs(got - want).max() <= 1, f"frame {f}: max difference {np.abs(got - want).max()}"
