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
ANIMATE = '''
import math

def linear_keys(owner, prop, values):
    for frame, value in values.items():
        setattr(owner, prop, value)
        owner.keyframe_insert(prop, frame=frame)

def keys_to_linear(id_data):
    for fc in compat.fcurves(id_data):
        for kp in fc.keyframe_points:
            kp.interpolation = "LINEAR"

def animate(target):
    settings = addon("properties").settings_of(target)
    id_data = target.id_data
    linear_keys(settings, "joy", {1: 0.0, 3: 1.0})
    keys_to_linear(id_data)
    anim = id_data.animation_data
    nla_action = anim.action
    anim.action = None
    strip = anim.nla_tracks.new().strips.new("joy", 1, nla_action)
    strip.blend_type = "ADD"
    settings.joy = 0.0
    linear_keys(settings, "anger", {1: -0.5, 3: 0.5})
    keys_to_linear(id_data)
    fc = settings.driver_add("surprise")
    fc.driver.type = "SCRIPTED"
    fc.driver.expression = "frame / 20"

def expected_values(frame):
    return {"joy": (frame - 1) / 2, "anger": -0.5 + (frame - 1) / 2, "surprise": frame / 20}
'''

EXPECTED_FRAME = '''
repo_backend()
import torch
from backend.model.checkpoints import load_generator
from backend.animation.directions import load_directions
from backend.rendering.frame_cache import snap_w
from backend.model.generator import images_to_uint8
from backend.animation.latent import compose_latent

G, _ = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])

def expected_frame(seed, frame):
    w = G.w_from_seed(seed, truncation_psi=0.7).numpy()[0]
    ws = compose_latent(w, expected_values(frame), directions)
    return images_to_uint8(G.synthesize(torch.from_numpy(snap_w(ws)[None])))[0]
'''

BAKE = '''
api = enable()
compat = addon("compat")
''' + ANIMATE + EXPECTED_FRAME + '''
import numpy as np
from backend.rendering.video import decode_png

scene = bpy.context.scene
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
scene.frame_start, scene.frame_end = 1, 3
face = api.add_face(name="Plane Face", seed=5)
strip = api.add_strip(name="Strip Face", frame_start=1, length=3, seed=6)
animate(face)
animate(strip)
values = {name: {f: api.channel_values_at(t, f) for f in (1, 2, 3)} for name, t in (("face", face), ("strip", strip))}
stats = [api.bake(t, 1, 3).written for t in (face, strip)]
files = {name: {f: str(api.frame_path(t, f)) for f in (1, 2, 3)} for name, t in (("face", face), ("strip", strip))}
right = {name: {f: bool(np.array_equal(decode_png(open(files[name][f], "rb").read()), expected_frame(seed, f)))
                for f in (1, 2, 3)} for name, seed in (("face", 5), ("strip", 6))}
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
result(values=values, stats=stats, files=files, right=right)
'''

RENDER = script("evaluated_render")


def _png(path) -> np.ndarray:
    with open(path, "rb") as f:
        return decode_png(f.read())


def _expected() -> dict:
    return {f: {"joy": (f - 1) / 2, "anger": -0.5 + (f - 1) / 2, "surprise": f / 20} for f in (1, 2, 3)}


def test_driver_nla_and_keys_are_evaluated_in_bake_api_and_render(blender, tmp_path):
    blend = tmp_path / "scene.blend"
    made = blender.run(BAKE, str(blend))
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
    blender.run(RENDER, str(blend), str(tmp_path / "a"))
    for p, stamp in stamps.items():
        assert (os.stat(p).st_ino, os.stat(p).st_mtime_ns) == stamp, f"{p} was rewritten by the render"
    _assert_rendered(tmp_path / "a", baked)

    # From nothing (no face folders): the render makes the same frames.
    for files in made["files"].values():
        shutil.rmtree(os.path.dirname(files["1"]))
    blender.run(RENDER, str(blend), str(tmp_path / "b"))
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


