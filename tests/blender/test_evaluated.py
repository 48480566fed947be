"""Channel values are what Blender evaluates for a frame — keys, NLA strips with blending, drivers —
in bakes, the API and renders (which must not replace right frames with stale ones)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from backend.rendering.video import decode_png

from .harness import script

pytestmark = pytest.mark.slow

# joy: an NLA strip (ADD) of an action keyed 0 → 1 over frames 1-3; anger: keyed in the active
# action, -0.5 → 0.5; surprise: a driver, frame / 20. The same for a plane face and a strip face.
ANIMATE = script("evaluated_animate")

EXPECTED_FRAME = script("evaluated_expected_frame")

BAKE = script("evaluated_bake_1") + ANIMATE + EXPECTED_FRAME + script("evaluated_bake_2")

RENDER = script("evaluated_render")


def _png(path) -> np.ndarray:
    with open(path, "rb") as f:
        return decode_png(f.read())


def _expected() -> dict:
    return {f: {"joy": (f - 1) / 2, "anger": -0.5 + (f - 1) / 2, "surprise": f / 20} for f in (1, 2, 3)}


def test_driver_nla_and_keys_are_evaluated_in_bake_api_and_render(shared_blender, tmp_path):
    blend = tmp_path / "scene.blend"
    made = shared_blender.run(BAKE, str(blend))
    for name in ("face", "strip"):
        for f, want in _expected().items():
            got = made["values"][name][str(f)]
            for channel, value in want.items():
                assert abs(got[channel] - value) < 1e-5, (name, f, channel, got[channel], value)
        assert made["right"][name] == {"1": True, "2": True, "3": True}, name
    assert made["stats"] == [3, 3]

    baked = {name: {int(f): _png(p) for f, p in files.items()} for name, files in made["files"].items()}
    stamps = {p: (os.stat(p).st_ino, os.stat(p).st_mtime_ns) for files in made["files"].values() for p in files.values()}

    # A background render of the saved file: the baked files stay (they hold the right frames) and
    # the rendered frames are those frames.
    shared_blender.run(RENDER, str(blend), str(tmp_path / "a"))
    for p, stamp in stamps.items():
        assert (os.stat(p).st_ino, os.stat(p).st_mtime_ns) == stamp, f"{p} was rewritten by the render"
    _assert_rendered(tmp_path / "a", baked)

    # From nothing (no face folders): the render makes the same frames.
    for files in made["files"].values():
        shutil.rmtree(os.path.dirname(files["1"]))
    shared_blender.run(RENDER, str(blend), str(tmp_path / "b"))
    _assert_rendered(tmp_path / "b", baked)
    for name, files in made["files"].items():
        for f, p in files.items():
            assert np.array_equal(_png(p), baked[name][int(f)]), (name, f)


def _assert_rendered(folder, baked) -> None:
    for f in (1, 2, 3):
        assert np.array_equal(_png(folder / "strip" / f"{f:04d}.png"), baked["strip"][f]), f"strip frame {f}"
        rendered = _png(folder / "plane" / f"{f:04d}.png").astype(int)
        dist = {g: np.abs(rendered - baked["face"][g].astype(int)).mean() for g in (1, 2, 3)}
        assert min(dist, key=dist.get) == f and dist[f] < 4, (f, dist)


