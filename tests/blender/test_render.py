"""Rendering faces: the sequencer to PNG and MP4, split renders, saved files opened again.

Nothing is baked before these renders: the render handlers compute each frame as it is needed.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from backend.rendering.video import decode_png, read_frames

from .harness import Blender, SharedBlender, script

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("blender_render")]  # one worker saves the file

# Scene set-up shared by the scripts: sequencer output equal to its input (no view transform, no
# dithering), a strip face keyed with a different value every frame so every frame differs.
SCENE = script("render_scene")

PNG_AND_MP4 = SCENE + script("render_png_and_mp4")


def _png(path) -> np.ndarray:
    with open(path, "rb") as f:
        frame = decode_png(f.read())
    assert frame is not None, path
    return frame


def test_sequencer_renders_png_and_mp4_with_the_cached_frames(shared_blender, tmp_path):
    out = shared_blender.run(PNG_AND_MP4, str(tmp_path))
    expected = {int(f): _png(p) for f, p in out["files"].items()}
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.name for p in pngs] == [f"{f:04d}.png" for f in range(1, 7)]
    for f, path in zip(range(1, 7), pngs, strict=True):
        assert np.array_equal(_png(path), expected[f]), f"frame {f} differs from the cache"
    assert len({e.tobytes() for e in expected.values()}) == 6  # every frame differs

    movies = list((tmp_path / "mp4").glob("*.mp4"))
    assert len(movies) == 1, movies
    frames = list(read_frames(movies[0]))
    assert len(frames) == 6
    for i, frame in enumerate(frames):  # lossy, but each frame is nearest to its own cached frame
        dist = [np.abs(frame.astype(int) - expected[f].astype(int)).mean() for f in range(1, 7)]
        assert int(np.argmin(dist)) == i, dist
        assert dist[i] < 20


# --- a saved file: opened again, and rendered in two halves -----------------------------------------

SAVE = SCENE + script("render_save")

REOPEN = script("render_reopen")

RENDER_RANGE = SCENE + script("render_render_range")


@pytest.fixture(scope="module")
def saved(installed, session, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    env = {**installed.extra_env, "LE_TEST_CACHE": str(folder / "cache0")}
    blender = SharedBlender(installed.home, env, session=session)
    return blender, folder, blender.run(SAVE, str(folder / "scene.blend"))


def test_saved_file_keeps_faces_channels_keys_and_image_sequence(saved):
    blender, folder, made = saved
    assert made["baked"] == 30
    out = blender.run(REOPEN, str(folder / "scene.blend"))
    assert out["faces"] == ["Plane Face", "Face"]
    assert out["seed"] == 7 and out["strip_seed"] == 4
    assert out["extra"] == ["brow_raise"]
    assert out["joy_strength"] == 1.5 and out["surprise_layers"] == [True, 2]
    assert out["keys"] == [1.0, 30.0]
    assert out["values"] == made["values"] and out["strip_values"] == made["strip_values"]
    assert out["image"][0] == "SEQUENCE" and out["image"][2:] == [1, 1048574]  # every scene frame
    assert out["files"] == ["frame_00001.png", "frame_00015.png", "frame_00030.png"]
    for f, path in made["face_files"].items():
        assert _png(path).shape == (32, 32, 3)
    assert out["strip_elements"] == 30


def test_split_render_in_two_processes_is_bit_identical_on_the_overlap(saved):
    blender, folder, made = saved
    blend = str(folder / "scene.blend")
    halves = {}
    for name, first, last in (("a", 1, 20), ("b", 10, 30)):
        # Each half starts from nothing: its own empty cache, no sequence files left by the other.
        shutil.rmtree(made["strip_folder"], ignore_errors=True)
        runner = Blender(blender.home, {**blender.extra_env, "LE_TEST_CACHE": str(folder / f"cache_{name}")})
        out = runner.run(RENDER_RANGE, blend, str(folder / name), str(first), str(last))
        assert out["rendered"] == [f"{f:04d}.png" for f in range(first, last + 1)]
        halves[name] = {f: _png(folder / name / f"{f:04d}.png") for f in range(first, last + 1)}
    for f in range(10, 21):
        assert np.array_equal(halves["a"][f], halves["b"][f]), f"frame {f} differs between the halves"
    assert not np.array_equal(halves["a"][10], halves["a"][11])


PLANE = script("render_plane")


def test_plane_face_shows_each_frames_own_image_in_a_cycles_render(shared_blender, tmp_path):
    out = shared_blender.run(PLANE, str(tmp_path))
    expected = {int(f): _png(p).astype(int) for f, p in out["files"].items()}
    for f in (1, 2, 3):
        rendered = _png(tmp_path / f"{f:04d}.png").astype(int)
        dist = {g: np.abs(rendered - e).mean() for g, e in expected.items()}
        assert min(dist, key=dist.get) == f and dist[f] < 4, dist  # 1 sample: edges are noisy
