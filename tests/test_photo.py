"""Faces from photos: invert recovers a generator's own samples, runs on the fixture photo, and
writes a face code that render --w takes (and refuses for another generator)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from backend.animation.directions import Direction, DirectionSet, save_directions
from backend.model.checkpoints import fingerprint, save_generator
from backend.model.generator import Generator, synthesize_frames
from backend.photos.face_code import (
    FER_DISTANCE_LIMIT,
    FaceCodeError,
    central_box,
    fer_distance,
    fit_to_resolution,
    invert_aligned,
    likeness_warning,
    load_face_code,
)

from .conftest import ROOT, backend_cli, tiny_config, with_mean_w_avg

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = ROOT / "tests" / "data" / "face_readers"


def in_range_generator(resolution: int = 32) -> Generator:
    """A tiny StyleGAN2 whose images stay within [-1, 1], as a trained one's do (an untrained one
    draws values up to ±5, which uint8 pictures clip away, so no code could match them)."""
    torch.manual_seed(0)
    G = with_mean_w_avg(Generator(tiny_config(img_resolution=resolution)))
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith(("torgb.weight", "torgb.bias")):
                p.mul_(0.2)
    return G.eval().requires_grad_(False)


def relative_error(code: np.ndarray, true: np.ndarray, w_avg: np.ndarray) -> float:
    return float(np.linalg.norm(code - true) / np.linalg.norm(true - w_avg))


@pytest.mark.slow
def test_own_samples_are_recovered():
    # Measured (200 W steps, 100 W+ steps, pixels only, ψ 0.3, seeds 0-2): W code error 0.05-0.21
    # of its distance from w_avg, W+ pixel error 0.24-0.34 of 255 (uint8 targets).
    G = in_range_generator()
    w_avg = G.w_avg.numpy()
    for seed in (0, 1):
        true = G.w_from_seed(seed, truncation_psi=0.3).numpy()[0]
        photo = synthesize_frames(G, true[None])[0]
        result = invert_aligned(G, photo, steps=200)
        assert relative_error(result.w, true[0], w_avg) < 0.3
        assert result.pixel_mae < 0.5 and result.pixel_mae <= result.pixel_mae_w
        # A face the generator drew is one it can represent: no warning.
        assert result.fer_distance < FER_DISTANCE_LIMIT / 4 and likeness_warning(result) is None
        assert result.steps == (200, 100)
        assert result.w_plus.shape == (G.num_ws, G.w_dim)


_cli = backend_cli  # python -m backend, in this process


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, one_thread):
    """A 64-pixel generator file and a directions file for it (joy on the first rows)."""
    root = tmp_path_factory.mktemp("model")
    G = in_range_generator(64)
    save_generator(G, root / "g.safetensors")
    vector = np.random.default_rng(0).standard_normal(G.w_dim)
    dirs = DirectionSet(fingerprint(G), G.num_ws, G.w_dim, (Direction("joy", vector, (0, 4), 1.0, "test", "logistic"),))
    save_directions(dirs, root / "g.directions.json")
    return G, root


@pytest.mark.slow
def test_a_photo_becomes_a_face_code_that_render_takes(tiny_model, tmp_path):
    G, root = tiny_model
    with np.load(FIXTURES / "astronaut_inputs.npz") as f:
        photo = f["astronaut_rgb512"]
    cv2.imwrite(str(tmp_path / "astronaut.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    code = tmp_path / "face.npz"
    r = _cli("invert", tmp_path / "astronaut.png", "--model", root / "g.safetensors", "--out", code,
             "--steps", "10", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "pixel error" in r.stdout and "identity distance" in r.stdout and "face 0 of 1" in r.stderr
    # An untrained generator cannot draw the astronaut, whatever the numbers the inversion minimised say.
    assert "fer distance" in r.stdout and "warning: this generator cannot draw this face" in r.stderr
    with np.load(code) as f:
        assert str(f["fingerprint"]) == fingerprint(G)
        assert f["w_plus"].shape == (G.num_ws, G.w_dim) and f["aligned"].shape == (64, 64, 3)
        assert tuple(f["steps"]) == (10, 5) and np.isfinite(f["identity_distance"])
        # The aligned crop is the face: its centre is skin, not the photo's dark suit or background.
        assert 60 < f["aligned"][24:40, 24:40].mean() < 230
    w = load_face_code(code, expect_fingerprint=fingerprint(G), num_ws=G.num_ws, w_dim=G.w_dim)
    assert w.shape == (G.num_ws, G.w_dim)
    (tmp_path / "values.csv").write_text("frame,joy\n1,0\n2,1\n")
    r = _cli("render", "--model", root / "g.safetensors", "--directions", root / "g.directions.json",
             "--values", tmp_path / "values.csv", "--w", code, "--out", tmp_path / "frames",
             "--cache", tmp_path / "cache", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "frames").glob("*.png"))) == 2
    r = _cli("invert", tmp_path / "astronaut.png", "--model", root / "g.safetensors", "--out", code,
             "--face", "3", "--device", "cpu")
    assert r.returncode == 2 and "there is no face 3" in r.stderr


def test_fer_distance_is_zero_for_the_same_face_and_large_for_another_picture():
    with np.load(FIXTURES / "astronaut_inputs.npz") as f:
        face = cv2.resize(f["astronaut_face_rgb150"], (64, 64), interpolation=cv2.INTER_AREA)
    box = central_box(64)
    assert fer_distance(face, face, box) == 0.0
    assert fer_distance(face, face[:, ::-1].copy(), box) < FER_DISTANCE_LIMIT  # the same face, mirrored
    smeared = cv2.GaussianBlur(face, (0, 0), 6)  # a ghost of the face, as a cartoon generator draws it
    assert fer_distance(face, smeared, box) > FER_DISTANCE_LIMIT


def test_face_codes_are_checked(tmp_path):
    path = tmp_path / "code.npz"
    np.savez(path, w_plus=np.ones((4, 8), np.float32), fingerprint=np.array("ab" * 32))
    assert load_face_code(path, expect_fingerprint="ab" * 32, num_ws=4, w_dim=8).shape == (4, 8)
    with pytest.raises(FaceCodeError, match="made for another generator"):
        load_face_code(path, expect_fingerprint="cd" * 32, num_ws=4, w_dim=8)
    with pytest.raises(FaceCodeError, match="shape"):
        load_face_code(path, num_ws=5, w_dim=8)
    np.save(tmp_path / "w.npy", np.arange(8, dtype=np.float32))
    w = load_face_code(tmp_path / "w.npy", num_ws=4, w_dim=8)  # a W code fills every row
    assert w.shape == (4, 8) and (w == np.arange(8)).all()
    np.savez(tmp_path / "other.npz", codes=np.ones(3))
    with pytest.raises(FaceCodeError, match="without 'w_plus'"):
        load_face_code(tmp_path / "other.npz")
    with pytest.raises(FaceCodeError, match="no such file"):
        load_face_code(tmp_path / "missing.npz")


def test_given_aligned_faces_are_squared_and_sized():
    image = np.zeros((60, 100, 3), np.uint8)
    image[:, 20:80] = 200  # the centre square
    out = fit_to_resolution(image, 32)
    assert out.shape == (32, 32, 3) and (out == 200).all()
    x1, y1, x2, y2 = central_box(100)
    assert 0 < x1 < x2 <= 100 and 0 < y1 < y2 <= 100


def test_unreadable_photo_is_a_clear_error(tiny_model, tmp_path):
    _, root = tiny_model
    (tmp_path / "x.jpg").write_bytes(b"not a picture")
    r = _cli("invert", tmp_path / "x.jpg", "--model", root / "g.safetensors", "--out", tmp_path / "o.npz",
             "--device", "cpu")
    assert r.returncode == 2 and "not an image file" in r.stderr


@pytest.mark.slow
def test_learn_directions_from_labelled_photos_runs_end_to_end(tiny_model, tmp_path):
    """--photos with real photos (the fixture, shifted and scaled: five faces a label) and a tiny
    generator: detection, alignment, inversion and fitting run, and a directions file is written."""
    G, root = tiny_model
    with np.load(FIXTURES / "astronaut_inputs.npz") as f:
        photo = f["astronaut_rgb512"]
    for label, flip in (("joy", False), ("neutral", True)):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for k in range(5):
            image = cv2.resize(photo[8 * k:, 4 * k:], (400 + 20 * k, 400 + 20 * k), interpolation=cv2.INTER_AREA)
            image = image[:, ::-1] if flip else image
            cv2.imwrite(str(tmp_path / "photos" / label / f"{k}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out = tmp_path / "g.directions.json"
    r = _cli("learn-directions", "--model", root / "g.safetensors", "--out", out, "--photos", tmp_path / "photos",
             "--steps", "5", "--min-examples", "2", "--faces", "1", "--device", "cpu")
    # The face readers find no face in this generator's 64-pixel noise, so they cannot calibrate...
    assert r.returncode == 2 and "read none of the 1 calibration faces" in r.stderr
    # ...a probe reads anything: the stored inversions are reused.
    r = _cli("learn-directions", "--model", root / "g.safetensors", "--out", out, "--photos", tmp_path / "photos",
             "--steps", "5", "--min-examples", "2", "--faces", "1", "--device", "cpu",
             "--reader", f"probe:{ROOT / 'models' / 'default' / 'probe_features.safetensors'}")
    assert r.returncode == 0, r.stderr
    assert "inverting photos 10/10" in r.stderr and "10 of 10 photos used (0 made now)" in r.stdout
    from backend.animation.directions import load_directions

    d = load_directions(out, expect_fingerprint=fingerprint(G))
    assert d.names == ("joy",) and d["joy"].method == "logistic"
