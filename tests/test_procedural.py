"""Procedural face renderer: determinism, shapes, where each AU draws, emotion mapping, yaw, vectors."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lab.procedural import (
    AU_NAMES,
    AU_SLICE,
    EMOTION_NAMES,
    EMOTION_PROTOTYPES,
    EMOTION_SLICE,
    VECTOR_NAMES,
    YAW_INDEX,
    ActionUnits,
    Emotions,
    FaceParams,
    HairStyle,
    Identity,
    emotions_to_aus,
    face_params_from_emotions,
    face_params_from_seed,
    render_face,
)
from lab.procedural.geometry import FACE_CENTER, FACE_SCALE

SIZE = 128
# Plain identity: short hair, no glasses or beard, so every AU is in plain view.
PLAIN = Identity(hair_style=HairStyle.SHORT)
NO_AUS = ActionUnits()


def _face(aus: ActionUnits = NO_AUS, yaw: float = 0.0, identity: Identity = PLAIN) -> np.ndarray:
    return render_face(FaceParams(identity, aus, Emotions(), yaw), SIZE).astype(np.int16)


def _rows(y0: float, y1: float) -> slice:
    """Image rows covering face heights y0..y1 (face units, y down)."""
    to_row = lambda y: int(round((FACE_CENTER[1] + FACE_SCALE * y) * SIZE))  # noqa: E731
    return slice(to_row(y0), to_row(y1))


BROWS = _rows(-1.0, -0.25)
EYES = _rows(-0.25, 0.02)
NOSE = _rows(0.02, 0.3)
MOUTH = _rows(0.36, 1.3)
NEUTRAL = _face()


def _change(img: np.ndarray, rows: slice = slice(None)) -> float:
    return float(np.abs(img[rows] - NEUTRAL[rows]).sum())


def _image_hash(seed: int) -> str:
    return hashlib.sha256(render_face(face_params_from_seed(seed), SIZE).tobytes()).hexdigest()


def test_same_seed_gives_identical_bytes_in_this_process_and_another() -> None:
    here = _image_hash(7)
    assert here == _image_hash(7)
    code = (
        "import hashlib; from lab.procedural import face_params_from_seed, render_face; "
        f"print(hashlib.sha256(render_face(face_params_from_seed(7), {SIZE}).tobytes()).hexdigest())"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "123"}
    other = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip().splitlines()[-1] == here


def test_different_seeds_give_different_faces() -> None:
    hashes = {_image_hash(seed) for seed in range(6)}
    assert len(hashes) == 6
    assert face_params_from_seed(1) != face_params_from_seed(2)


@pytest.mark.parametrize("size", [128, 256])
def test_render_is_uint8_rgb_of_the_requested_size(size: int) -> None:
    img = render_face(face_params_from_seed(3), size)
    assert img.shape == (size, size, 3)
    assert img.dtype == np.uint8
    assert img.flags.c_contiguous


def test_render_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        render_face(face_params_from_seed(0), 8)


MOUTH_AUS = ("au12", "au15", "au16", "au20", "au23", "au26")
BROW_AUS = ("au1", "au2", "au4")
EYE_AUS = ("au5", "au6", "au7", "au43")


@pytest.mark.parametrize("name", MOUTH_AUS)
def test_mouth_aus_change_the_mouth_but_not_the_brows_or_eyes(name: str) -> None:
    img = _face(ActionUnits(**{name: 1.0}))
    assert _change(img, MOUTH) > 2000
    assert _change(img, BROWS) == 0
    assert _change(img, EYES) == 0


@pytest.mark.parametrize("name", BROW_AUS)
def test_brow_aus_change_the_brows_but_not_the_mouth(name: str) -> None:
    img = _face(ActionUnits(**{name: 1.0}))
    assert _change(img, BROWS) > 2000
    assert _change(img, MOUTH) == 0


@pytest.mark.parametrize("name", EYE_AUS)
def test_eye_aus_change_the_eyes_but_not_the_mouth(name: str) -> None:
    img = _face(ActionUnits(**{name: 1.0}))
    assert _change(img, EYES) > 2000
    assert _change(img, MOUTH) == 0


def test_nose_wrinkle_changes_the_nose() -> None:
    assert _change(_face(ActionUnits(au9=1.0)), NOSE) > 2000


@pytest.mark.parametrize("name", AU_NAMES)
def test_stronger_au_changes_the_face_more(name: str) -> None:
    changes = [_change(_face(ActionUnits(**{name: a}))) for a in (0.25, 0.5, 0.75, 1.0)]
    assert 0 < changes[0] < changes[1] < changes[2] < changes[3]


def test_different_aus_draw_different_faces() -> None:
    faces = {name: _face(ActionUnits(**{name: 1.0})) for name in AU_NAMES}
    for a, b in itertools.combinations(AU_NAMES, 2):
        assert np.abs(faces[a] - faces[b]).sum() > 2000, (a, b)


@pytest.mark.parametrize(
    ("emotion", "aus"),
    [
        ("joy", {"au6", "au12"}),
        ("sadness", {"au1", "au4", "au15"}),
        ("surprise", {"au1", "au2", "au5", "au26"}),
        ("fear", {"au1", "au2", "au4", "au5", "au7", "au20", "au26"}),
        ("anger", {"au4", "au5", "au7", "au23"}),
        ("disgust", {"au9", "au15", "au16"}),
    ],
)
def test_emotion_prototypes_use_exactly_their_emfacs_aus(emotion: str, aus: set[str]) -> None:
    mapped = emotions_to_aus(Emotions(**{emotion: 1.0}))
    assert {n for n in AU_NAMES if getattr(mapped, n) > 0} == aus
    assert mapped == EMOTION_PROTOTYPES[emotion]


def test_emotion_mixes_take_the_max_per_au_and_scale_with_intensity() -> None:
    half_joy = emotions_to_aus(Emotions(joy=0.5))
    assert (half_joy.au6, half_joy.au12) == (0.5, 0.5)
    mix = emotions_to_aus(Emotions(fear=1.0, surprise=0.5))
    assert mix.au5 == 1.0
    assert mix.au2 == max(EMOTION_PROTOTYPES["fear"].au2, 0.5 * EMOTION_PROTOTYPES["surprise"].au2)


def test_direct_channels_drive_eye_closure_and_jaw_drop() -> None:
    aus = emotions_to_aus(Emotions(eye_close=0.7, mouth_open=0.4))
    assert (aus.au43, aus.au26) == (pytest.approx(0.7), pytest.approx(0.4))
    params = face_params_from_emotions(PLAIN, Emotions(head_turn=-0.5))
    assert params.yaw == -0.5
    assert params.aus == ActionUnits()


def _eye_center_x(img: np.ndarray) -> float:
    """Mean column of the lash lines and pupils."""
    dark = np.all(np.abs(img[EYES] - np.array([22, 16, 15])) < 25, axis=-1)
    return float(np.nonzero(dark)[1].mean())


def test_yaw_moves_features_towards_its_sign() -> None:
    center = _eye_center_x(_face(yaw=0.0))
    assert abs(center - (SIZE - 1) / 2) < 1.0
    assert _eye_center_x(_face(yaw=1.0)) > center + 8
    assert _eye_center_x(_face(yaw=-1.0)) < center - 8
    assert center + 3 < _eye_center_x(_face(yaw=0.5)) < _eye_center_x(_face(yaw=1.0))


def test_vector_round_trip_is_exact() -> None:
    for seed in range(20):
        params = face_params_from_seed(seed)
        vector = params.to_vector()
        assert vector.dtype == np.float32
        assert vector.shape == (len(VECTOR_NAMES),)
        assert FaceParams.from_vector(vector) == params
        assert vector[YAW_INDEX] == params.yaw
        np.testing.assert_array_equal(vector[AU_SLICE], params.aus.as_array())
        np.testing.assert_array_equal(vector[EMOTION_SLICE], params.emotions.as_array())


def test_vector_names_are_unique_and_cover_every_identity_field() -> None:
    assert len(set(VECTOR_NAMES)) == len(VECTOR_NAMES)
    for field in dataclasses.fields(Identity):
        assert any(n.startswith(f"identity.{field.name}") for n in VECTOR_NAMES)
    assert "identity.hair_style=bald" in VECTOR_NAMES


def test_out_of_range_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="au12"):
        ActionUnits(au12=1.5)
    with pytest.raises(ValueError, match="head_turn"):
        Emotions(head_turn=-2.0)
    with pytest.raises(ValueError, match="jaw_width"):
        Identity(jaw_width=3.0)


def test_prior_covers_neutral_single_mixed_and_turned_faces() -> None:
    samples = [face_params_from_seed(s).emotions for s in range(300)]
    n_active = [sum(getattr(e, n) > 0 for n in EMOTION_NAMES) for e in samples]
    assert {0, 1, 2} <= set(n_active)
    assert any(e.head_turn != 0 for e in samples)
    assert any(e.eye_close > 0 for e in samples)
    assert any(e.mouth_open > 0 for e in samples)


def test_skin_region_lies_inside_the_face_and_outside_its_brows_eyes_and_mouth():
    from lab.procedural.regions import feature_regions, skin_region

    person = face_params_from_seed(3).identity
    for values in (np.zeros(9, np.float32), np.eye(9, dtype=np.float32)[8], np.eye(9, dtype=np.float32)[7]):
        params = face_params_from_emotions(person, Emotions.from_array(values))
        skin = skin_region(params, 128)
        assert skin.dtype == bool and 0.05 < skin.mean() < 0.4
        assert not (skin & (feature_regions(params, 128) >= 0.05)).any()
        assert not skin[:8].any() and not skin[:, :8].any() and not skin[:, -8:].any()  # not the background
    turned = skin_region(face_params_from_emotions(person, Emotions.from_array(np.eye(9, dtype=np.float32)[8])), 128)
    frontal = skin_region(face_params_from_emotions(person, Emotions()), 128)
    assert not np.array_equal(turned, frontal)  # follows the head turn
