"""Low-resolution previews: a model bigger than the preview size stops synthesis at a smaller block
for previews (live and Bake Preview), never for final frames."""

from __future__ import annotations

from .test_preview import HELPERS

from .harness import script

LOWRES = HELPERS + script("lowres_preview_lowres")


def test_previews_of_a_bigger_model_stop_early_and_final_frames_do_not(shared_blender):
    out = shared_blender.run(LOWRES)
    assert out["default"] is True
    low = {"size": [16, 16, 3], "lowres": True, "scaled": False, "full": False}
    assert out["bake_preview"] == low  # the 16 px block's own image, not the 32 px frame scaled down
    assert out["live"] == low and out["live_shown"] == 6  # the preview worker takes the same path
    assert out["final"] == {"size": [32, 32, 3], "lowres": False, "scaled": True, "full": True}
    assert out["off"] == {"size": [16, 16, 3], "lowres": False, "scaled": True, "full": False}  # preference off
