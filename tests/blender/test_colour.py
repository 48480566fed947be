"""Colour management: with Blender's default scene settings (AgX view), renders show the face's own
colours, because adding a face sets the Standard view transform."""

from __future__ import annotations

import numpy as np
import pytest

from backend.rendering.video import decode_png
from .harness import script

pytestmark = pytest.mark.slow

DEFAULT_SCENE = script("colour_default_scene")


def test_sequencer_render_under_default_agx_matches_the_frames(shared_blender, tmp_path):
    out = shared_blender.run(DEFAULT_SCENE, str(tmp_path))
    assert out["before"][0] == "AgX"  # Blender's factory setting
    assert out["after"] == ["Standard", "None"]
    for f, path in out["files"].items():
        want = decode_png(open(path, "rb").read()).astype(int)
        got = decode_png((tmp_path / f"{int(f):04d}.png").read_bytes()).astype(int)
        assert np.abs(got - want).max() <= 1, f"frame {f}: max difference {np.abs(got - want).max()}"
