"""A face records the generator and directions it was made with: a .blend opened on another machine
(other preferences) renders the recorded face, or refuses naming the face, the file it needs and
what it found; Relink picks the file again; a file from before the record keeps rendering and gets
the record when saved."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.directions import save_directions
from backend.model.checkpoints import save_generator
from backend.model.generator import Generator
from backend.rendering.video import decode_png
from lab.rigs import random_directions

from ..conftest import randomize_, tiny_config
from .conftest import EXTRA_CHANNEL

from .harness import script

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("blender_records")]  # one worker makes the project

SCENE = script("records_scene")

MAKE = SCENE + script("records_make")

RENDER_ONLY = SCENE + script("records_render_only")

# Another machine: its preferences name another generator (b), which must not be used.
OPEN_ELSEWHERE = RENDER_ONLY + script("records_open_elsewhere")


def _generator_files(folder, seed: int, name: str) -> tuple[str, str]:
    G = randomize_(Generator(tiny_config()), seed=seed).eval()
    model = save_generator(G, folder / f"{name}.safetensors")
    directions = save_directions(random_directions(G, (*CHANNEL_NAMES, EXTRA_CHANNEL)),
                                 folder / f"{name}.directions.json")
    return str(model), str(directions)


def _frames(folder) -> dict[int, np.ndarray]:
    return {f: decode_png((folder / f"{f:04d}.png").read_bytes()) for f in (1, 2, 3)}


@pytest.fixture(scope="module")
def project(installed, shared_installed, tmp_path_factory):
    """A project folder (shot.blend, models/a.*) made and rendered with generator a, and generator b
    (another person) outside it."""
    tmp = tmp_path_factory.mktemp("records")
    (tmp / "project" / "models").mkdir(parents=True)
    shutil.copy(installed.extra_env["LE_TEST_MODEL"], tmp / "project" / "models" / "a.safetensors")
    shutil.copy(installed.extra_env["LE_TEST_DIRECTIONS"], tmp / "project" / "models" / "a.directions.json")
    (tmp / "b").mkdir()
    b = _generator_files(tmp / "b", seed=2, name="b")
    made = shared_installed.run(MAKE, str(tmp / "project"), str(tmp / "made"))
    return tmp, b, made


def test_a_new_face_records_its_generator_relative_to_the_blend_with_fingerprints(project):
    tmp, _b, made = project
    assert made["before"][0].endswith("a.safetensors")  # recorded when made (absolute: the file was unsaved)
    assert made["model"] == "//models/a.safetensors" and made["directions"] == "//models/a.directions.json"
    assert len(made["fingerprint"]) == 64 and len(made["directions_fingerprint"]) == 64


def test_a_blend_opened_with_other_preferences_renders_the_recorded_face(project, installed):
    tmp, (model_b, directions_b), _made = project
    moved = tmp / "elsewhere" / "project"  # another machine's mount of the shared folder
    shutil.copytree(tmp / "project", moved)
    out = installed.run(OPEN_ELSEWHERE, str(moved / "shot.blend"), str(tmp / "elsewhere-out"), model_b,
                        directions_b, env={"LE_TEST_CACHE": str(tmp / "cache-elsewhere")})
    reference, elsewhere = _frames(tmp / "made"), _frames(tmp / "elsewhere-out")
    for f in (1, 2, 3):
        assert np.array_equal(reference[f], elsewhere[f]), f"frame {f} is not the recorded face"
    assert out["new_model"].endswith("b.safetensors")  # the preference is still what new faces take
    b_frame = np.array(out["b_frame"], dtype=np.uint8)
    assert not np.array_equal(b_frame, reference[2])  # b is another person: the test can tell them apart


@pytest.mark.parametrize("damage", ["missing", "replaced"])
def test_a_missing_or_different_generator_stops_the_render_naming_the_face_and_files(project, installed, damage):
    tmp, (model_b, directions_b), made = project
    copy = tmp / f"damaged-{damage}" / "project"
    shutil.copytree(tmp / "project", copy)
    model = copy / "models" / "a.safetensors"
    original = tmp / "project" / "models" / "a.safetensors"  # the absolute path recorded: looked at too
    if damage == "missing":
        model.unlink()
        original.rename(original.with_suffix(".away"))
    else:
        shutil.copy(model_b, model)  # same name, another generator
    try:
        out = installed.run(RENDER_ONLY, str(copy / "shot.blend"), str(tmp / f"out-{damage}"), model_b,
                            directions_b, env={"LE_TEST_CACHE": str(tmp / f"cache-{damage}")}, expect_rc=3)
    finally:
        if damage == "missing":
            original.with_suffix(".away").rename(original)
    said = out["_stdout"] + out["_stderr"]
    assert "strip 'Face'" in said and "//models/a.safetensors" in said, said[-3000:]
    assert str(model) in said
    assert made["fingerprint"][:12] in said
    if damage == "missing":
        assert "found no file there" in said
    else:
        # The directions no longer fit the generator found: the message names both and their fingerprints.
        assert "do not load together" in said and "another generator" in said
    assert not (tmp / f"out-{damage}" / "0001.png").exists()  # nothing rendered with another face


RELINK = SCENE + script("records_relink")


def test_relink_points_the_face_at_the_file_again_and_records_its_fingerprint(project, shared_installed):
    tmp, _b, made = project
    copy = tmp / "relink" / "project"
    shutil.copytree(tmp / "project", copy)
    (copy / "models" / "a.safetensors").rename(tmp / "relink" / "kept.safetensors")
    original = tmp / "project" / "models" / "a.safetensors"  # the absolute path recorded: gone too
    original.rename(original.with_suffix(".away"))
    try:
        out = shared_installed.run(RELINK, str(copy / "shot.blend"), str(tmp / "relink" / "kept.safetensors"),
                                   str(copy / "models" / "a.directions.json"), str(tmp / "relink" / "other-folder"),
                                   env={"LE_TEST_CACHE": str(tmp / "cache-relink")})
    finally:
        original.with_suffix(".away").rename(original)
    assert "found no file there" in out["before"]
    assert out["fingerprint"] == made["fingerprint"]
    assert out["model"].endswith("moved.safetensors")
    assert np.array_equal(np.array(out["frame"], dtype=np.uint8), _frames(tmp / "made")[2])


OLD_FILE = SCENE + script("records_old_file")

OLD_FILE_OPEN = SCENE + script("records_old_file_open")


def test_a_file_from_before_the_record_renders_as_before_and_gets_the_record_on_save(shared_blender, tmp_path):
    blend = str(tmp_path / "old.blend")
    shared_blender.run(OLD_FILE, blend, str(tmp_path / "out"))
    out = shared_blender.run(OLD_FILE_OPEN, blend, str(tmp_path / "out"))
    assert out["before"] == ""
    assert out["rendered"] == ["0001.png", "0002.png", "0003.png"]
    assert out["after"].endswith("generator.safetensors") and len(out["fingerprint"]) == 64
