"""Learning emotion directions, making them independent, and the directions file."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from backend.animation.directions import (
    FORMAT,
    Direction,
    DirectionsError,
    DirectionSet,
    load_directions,
    save_directions,
)
from backend.animation.latent import compose_latent
from backend.learning.classifiers import calibrate_strength, project_orthogonal, train_directions
from backend.model.checkpoints import fingerprint

FP = "0123456789abcdef" * 4
OTHER_FP = "fedcba9876543210" * 4
EMOTIONS = ("joy", "sadness", "anger", "fear")


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Tiny fits: BLAS threads only contend for the shared cores (30x slower here).
    with threadpool_limits(1):
        yield


def planted_classes(n: int = 1000, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Neutral latents around 0, each emotion's shifted along its planted direction.

    joy/sadness and anger/fear are opposite pairs, so by symmetry each one-vs-rest boundary is
    normal to its own planted direction.
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    planted = {"joy": q[0], "sadness": -q[0], "anger": q[1], "fear": -q[1]}
    classes = np.array(("neutral",) + EMOTIONS)[rng.integers(0, 5, n)]
    x = rng.standard_normal((n, dim))
    for name, d in planted.items():
        x[classes == name] += 3 * d
    return x.astype(np.float32), classes, planted


def planted_labels(n: int = 1000, dim: int = 8, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent 0/1 labels, each the side of a planted hyperplane (multi-label)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    d = np.linalg.qr(rng.standard_normal((dim, dim)))[0][:3]
    y = (x @ d.T + 0.1 * rng.standard_normal((n, 3)) > 0.2).astype(int)
    return x.astype(np.float32), y, d


def as_w_plus(x: np.ndarray, num_ws: int = 8, rows: int = 4, seed: int = 2) -> np.ndarray:
    """W+ codes whose first ``rows`` rows are x plus row noise and whose other rows are unrelated."""
    rng = np.random.default_rng(seed)
    ws = rng.standard_normal((x.shape[0], num_ws, x.shape[1])) * 3
    ws[:, :rows] = x[:, None] + 0.05 * rng.standard_normal((x.shape[0], rows, x.shape[1]))
    return ws.astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("method", ["logistic", "svm"])
@pytest.mark.parametrize("w_plus", [False, True], ids=["W", "W+"])
def test_planted_class_directions_are_recovered(method, w_plus):
    x, classes, planted = planted_classes()
    latents = as_w_plus(x) if w_plus else x
    result = train_directions(latents, classes, EMOTIONS, generator_fingerprint=FP, num_ws=8, method=method)
    dset = result.directions
    assert dset.names == EMOTIONS and (dset.num_ws, dset.w_dim) == (8, 8)
    for d in dset:
        assert cosine(d.vector, planted[d.name]) >= 0.95, d.name
        assert np.linalg.norm(d.vector) == pytest.approx(1, abs=1e-6)
        assert d.layers == (0, 4) and d.method == method and d.calibration == "class-means"


@pytest.mark.parametrize("method", ["logistic", "svm"])
@pytest.mark.parametrize("w_plus", [False, True], ids=["W", "W+"])
def test_planted_multi_label_directions_are_recovered(method, w_plus):
    x, y, planted = planted_labels()
    latents = as_w_plus(x) if w_plus else x
    result = train_directions(latents, y, ("eye_close", "mouth_open", "head_turn"), generator_fingerprint=FP,
                              num_ws=8, method=method)
    for d, want in zip(result.directions, planted, strict=True):
        assert cosine(d.vector, want) >= 0.95, d.name


def test_integer_class_labels_are_named_by_index():
    x, classes, planted = planted_classes()
    index = {name: i for i, name in enumerate(("neutral",) + EMOTIONS)}
    ints = np.array([index[c] for c in classes])
    dset = train_directions(x, ints, ("neutral",) + EMOTIONS, generator_fingerprint=FP, num_ws=8).directions
    assert cosine(dset["anger"].vector, planted["anger"]) >= 0.95


def test_held_out_accuracy_is_reported_per_label():
    x, classes, _ = planted_classes()
    result = train_directions(x, classes, EMOTIONS, generator_fingerprint=FP, num_ws=8, test_size=0.25, seed=3)
    for report, d in zip(result.reports, result.directions, strict=True):
        assert report.name == d.name
        assert 0.85 <= report.accuracy <= 1.0 and report.accuracy == d.accuracy
        assert report.n_test == 250 and report.n_train == 750
        assert report.n_positive == int((classes == d.name).sum())
    no_split = train_directions(x, classes, ("joy",), generator_fingerprint=FP, num_ws=8, test_size=0)
    assert no_split.reports[0].accuracy is None and no_split.directions["joy"].accuracy is None
    assert no_split.reports[0].n_train == 1000


def test_w_plus_latents_give_their_row_count_and_custom_layers():
    x, y, _ = planted_labels(n=300)
    dset = train_directions(as_w_plus(x, num_ws=6, rows=2), y, ("a", "b", "c"), generator_fingerprint=FP,
                            layers=(0, 2)).directions
    assert dset.num_ws == 6 and all(d.layers == (0, 2) for d in dset)


X10 = np.random.default_rng(0).standard_normal((10, 4))


@pytest.mark.parametrize("latents, labels, kwargs, match", [
    (X10, np.zeros(9, int), {"names": ("a",)}, "10 rows but labels have 9"),
    (np.zeros((10, 4)), np.arange(10) % 2, {"names": ("a", "b")}, "all latents are identical"),
    (np.full((10, 4), np.nan), np.arange(10) % 2, {"names": ("a", "b")}, "NaN"),
    (X10, np.full(10, np.nan), {"names": ("a",)}, "labels hold NaN"),
    (X10, np.zeros(10, int), {"names": ("a", "b")}, "label 'a' has only one class: no negative"),
    (X10, np.array(["joy"] * 10), {}, "label 'joy' has only one class: no negative"),
    (X10, np.array(["joy"] * 5 + ["neutral"] * 5), {"names": ("fear",)}, "no latents are labelled 'fear'"),
    (X10, np.full((10, 2), 2), {"names": ("a", "b")}, "only 0 and 1"),
    (X10, np.zeros((10, 2), int), {"names": ("a",)}, "one name per label column"),
    (X10, np.arange(10) % 3, {"names": ("a", "b")}, "class indices 0..1"),
    (X10, np.arange(10) % 2, {}, "names are required"),
    (X10, np.arange(10) % 2, {"names": ("a", "b"), "num_ws": None}, "num_ws is required"),
    (np.zeros((10, 3, 4)), np.arange(10) % 2, {"names": ("a", "b"), "num_ws": 8}, "3 W\\+ rows but num_ws is 8"),
    (np.zeros(10), np.arange(10) % 2, {"names": ("a", "b")}, "latents must be W codes"),
    (X10, np.arange(10) % 2, {"names": ("a", "b"), "layers": (0, 9)}, "layers must be"),
    (X10, np.arange(10) % 2, {"names": ("a", "b"), "method": "tree"}, "method must be one of"),
    (X10, np.arange(10) % 2, {"names": ("a", "b"), "test_size": 1.0}, "test_size"),
    (X10, np.arange(10) % 2, {"names": ("a", "b"), "C": 0.0}, "C must be positive"),
    (X10, (np.arange(10) == 0).astype(int), {"names": ("a", "b")}, "label 'a': cannot split 9 positive and 1 negative"),
])
def test_train_directions_rejects_bad_inputs_clearly(latents, labels, kwargs, match):
    kwargs = {"num_ws": 8, **kwargs}
    with pytest.raises(ValueError, match=match):
        train_directions(latents, labels, generator_fingerprint=FP, **kwargs)


def test_strong_regularisation_leans_toward_the_class_mean_difference():
    """Few latents in many dimensions separate along noise; a small C pulls the weight vector
    toward the difference of the class means (its limit as C -> 0), which averages the noise out."""
    rng = np.random.default_rng(4)
    n, dim = 60, 200
    y = np.arange(n) % 2
    planted = np.zeros(dim)
    planted[0] = 1.0
    x = rng.standard_normal((n, dim)) + 1.5 * y[:, None] * planted
    means = x[y == 1].mean(axis=0) - x[y == 0].mean(axis=0)

    def direction(C: float, method: str = "logistic") -> np.ndarray:
        return train_directions(x, y, ("off", "on"), generator_fingerprint=FP, num_ws=8, method=method,
                                test_size=0.0, C=C).directions["on"].vector

    assert direction(1e-4) @ planted > direction(1.0) @ planted
    assert direction(1e-6) @ (means / np.linalg.norm(means)) > 0.999
    assert not np.allclose(direction(1e-4, "svm"), direction(1.0, "svm"), atol=1e-3)  # C reaches the SVM too


def test_class_means_calibration_is_the_gap_between_projected_class_means():
    rng = np.random.default_rng(4)
    d = np.array([0.6, 0.8, 0.0])
    x = rng.standard_normal((200, 3))
    positive = rng.integers(0, 2, 200).astype(bool)
    x[positive] += 2.5 * d
    proj = x @ d
    cal = calibrate_strength(x, positive, 5 * d)  # the direction's length does not matter
    assert cal.strength == pytest.approx(proj[positive].mean() - proj[~positive].mean())
    assert cal.rule == "class-means"
    doubled = calibrate_strength(x, positive, d, scale=2)
    assert doubled.strength == pytest.approx(2 * cal.strength) and doubled.rule == "class-means x2"
    std = calibrate_strength(x, positive, d, rule="projection-std")
    assert std.strength == pytest.approx(proj.std()) and std.rule == "projection-std"
    with pytest.raises(ValueError, match="non-positive strength"):
        calibrate_strength(x, positive, -d)


def test_trained_strength_moves_a_negative_face_to_the_positive_mean():
    x, classes, planted = planted_classes()
    d = train_directions(x, classes, ("joy",), generator_fingerprint=FP, num_ws=8).directions["joy"]
    proj = x.astype(np.float64) @ d.vector
    gap = proj[classes == "joy"].mean() - proj[classes != "joy"].mean()
    assert d.strength == pytest.approx(gap, rel=1e-5)
    # Joy at +3·d; the rest averages −0.75·d (sadness at −3·d is a quarter of it).
    assert d.strength == pytest.approx(3.75, rel=0.1)


def test_projection_makes_directions_orthogonal_and_keeps_the_sign():
    rng = np.random.default_rng(5)
    d = rng.standard_normal(16)
    others = rng.standard_normal((3, 16))
    others[2] = others[0] + 0.5 * others[1]  # dependent others are fine: Gram-Schmidt skips them
    p = project_orthogonal(d, others)
    assert p.dtype == np.float32 and np.linalg.norm(p) == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(others @ p, 0, atol=1e-5)
    assert p @ d > 0
    np.testing.assert_allclose(project_orthogonal(d, []), d / np.linalg.norm(d), rtol=1e-6)


def test_projection_errors_when_nothing_is_left_or_shapes_differ():
    with pytest.raises(ValueError, match="span of the others"):
        project_orthogonal([1.0, 1.0, 0.0], [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="vectors of length 3"):
        project_orthogonal([1.0, 1.0, 0.0], [[1.0, 0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="zero"):
        project_orthogonal([0.0, 0.0], [[1.0, 0.0]])


def make_set(num_ws: int = 8, w_dim: int = 16, seed: int = 6) -> DirectionSet:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((3, w_dim)).astype(np.float32) * np.float32([[1e-3], [1.0], [1e4]])
    return DirectionSet(FP, num_ws, w_dim, (
        Direction("joy", vectors[0], (0, 4), 2.5, "class-means", "logistic", 0.9375),
        Direction("eye_close", vectors[1], (1, 3), 1e-3, "projection-std x2", "svm", None),
        Direction("brow raise", vectors[2], (0, num_ws), 7.0, "manual", "logistic", 1.0),
    ))


def test_direction_set_looks_up_by_name_and_is_immutable():
    dset = make_set()
    assert dset.names == ("joy", "eye_close", "brow raise") and len(dset) == 3 and "joy" in dset
    assert dset["eye_close"].layers == (1, 3)
    with pytest.raises(KeyError, match="no direction 'anger'; the set has: joy, eye_close, brow raise"):
        dset["anger"]
    with pytest.raises(ValueError):
        dset["joy"].vector[0] = 1.0


@pytest.mark.parametrize("change, match", [
    (lambda ds: (ds[0], ds[0]), "duplicate direction name 'joy'"),
    (lambda ds: (Direction("x", np.ones(15), (0, 1), 1.0, "", ""),), "15 values, w_dim is 16"),
    (lambda ds: (Direction("x", np.ones(16), (4, 9), 1.0, "", ""),), r"layers \[4, 9\] go past the 8"),
])
def test_direction_set_rejects_inconsistent_directions(change, match):
    with pytest.raises(ValueError, match=match):
        DirectionSet(FP, 8, 16, change(make_set().directions))


def test_directions_file_round_trip_is_exact(tmp_path):
    dset = make_set()
    path = save_directions(dset, tmp_path / "dirs.json")
    loaded = load_directions(path, expect_fingerprint=FP, num_ws=8, w_dim=16)
    assert loaded == dset
    for a, b in zip(loaded, dset, strict=True):
        assert a.vector.tobytes() == b.vector.tobytes()
    assert os.listdir(tmp_path) == ["dirs.json"]  # no temp file left behind


def test_directions_file_is_readable_json(tmp_path):
    path = save_directions(make_set(), tmp_path / "dirs.json")
    text = open(path, encoding="utf-8").read()
    doc = json.loads(text)
    assert doc["format"] == FORMAT and doc["format_version"] == 1
    assert doc["generator_fingerprint"] == FP and (doc["num_ws"], doc["w_dim"]) == (8, 16)
    entry = doc["directions"][0]
    assert entry["name"] == "joy" and entry["layers"] == [0, 4] and len(entry["vector"]) == 16
    assert entry["calibration"] == "class-means" and entry["method"] == "logistic" and entry["accuracy"] == 0.9375
    assert len(text.splitlines()) < 50  # each vector on one line


def write_doc(tmp_path, edit) -> str:
    path = save_directions(make_set(), tmp_path / "dirs.json")
    doc = json.load(open(path))
    edit(doc)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def _set(doc, key, value):
    doc[key] = value


def _set_entry(doc, key, value, k=0):
    doc["directions"][k][key] = value


@pytest.mark.parametrize("edit, match", [
    (lambda d: _set(d, "format", "latent-emotion.generator"), "not a directions file"),
    (lambda d: _set(d, "format_version", 2), "format_version 2 is not supported"),
    (lambda d: _set_entry(d, "vector", [0.1] * 15), "direction 'joy': vector has 15 values, w_dim is 16"),
    (lambda d: _set_entry(d, "vector", [float("nan")] * 16), "NaN is not a JSON number"),
    (lambda d: _set_entry(d, "vector", ["0.1"] * 16), "vector must hold only numbers"),
    (lambda d: _set_entry(d, "strength", float("inf")), "Infinity is not a JSON number"),
    (lambda d: _set_entry(d, "name", "eye_close"), "duplicate direction name 'eye_close'"),
    (lambda d: _set_entry(d, "layers", [0, 9]), r"layers \[0, 9\] go past the 8 W\+ rows"),
    (lambda d: _set_entry(d, "layers", [3, 3]), "layers must be"),
    (lambda d: _set_entry(d, "accuracy", "high"), "accuracy must be a number or null"),
    (lambda d: d["directions"][1].pop("method"), "direction 'eye_close' has no 'method'"),
    (lambda d: _set(d, "num_ws", "8"), "'num_ws' must be int"),
    (lambda d: _set(d, "generator_fingerprint", "abc"), "sha256"),
    (lambda d: _set(d, "directions", {"joy": []}), "'directions' must be list"),
])
def test_each_bad_directions_file_gives_a_clear_error(tmp_path, edit, match):
    path = write_doc(tmp_path, edit)
    with pytest.raises(DirectionsError, match=match) as e:
        load_directions(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("text, match", [
    ('{"format": "latent-emotion.directions",', "not valid JSON \\(line 1"),
    ("[1, 2]", "not a directions file"),
    ("", "not valid JSON"),
])
def test_unparseable_directions_files_give_a_clear_error(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DirectionsError, match=match):
        load_directions(path)


def test_missing_directions_file_is_a_directions_error(tmp_path):
    with pytest.raises(DirectionsError, match="no such file"):
        load_directions(tmp_path / "nope.json")


def test_directions_for_another_generator_are_refused_naming_both_fingerprints(tmp_path):
    path = save_directions(make_set(), tmp_path / "dirs.json")
    with pytest.raises(DirectionsError, match=f"fingerprint {FP[:12]}….*is {OTHER_FP[:12]}…"):
        load_directions(path, expect_fingerprint=OTHER_FP)
    with pytest.raises(DirectionsError, match="made for num_ws=8, the generator has num_ws=18"):
        load_directions(path, num_ws=18)
    with pytest.raises(DirectionsError, match="made for w_dim=16, the generator has w_dim=512"):
        load_directions(path, w_dim=512)


def test_directions_learned_on_a_generator_drive_its_images(tiny_G, tmp_path):
    # Latents of the real tiny generator, labelled by a planted direction: train, save, load, render.
    z = torch.from_numpy(np.random.default_rng(7).standard_normal((300, tiny_G.config.z_dim))).float()
    with torch.no_grad():
        ws = tiny_G.mapping(z, None)
    w = ws[:, 0].numpy()
    planted = np.random.default_rng(8).standard_normal(tiny_G.w_dim)
    proj = (w - w.mean(0)) @ planted
    labels = np.where(proj > np.quantile(proj, 0.7), "joy", "neutral")
    trained = train_directions(ws.numpy(), labels, ("joy",), generator_fingerprint=fingerprint(tiny_G))
    # This W cloud is far from isotropic, so the weakly spread axes are poorly pinned: a looser bound.
    assert cosine(trained.directions["joy"].vector, planted) > 0.7
    assert trained.reports[0].accuracy >= 0.85
    path = save_directions(trained.directions, tmp_path / "dirs.json")
    dset = load_directions(path, expect_fingerprint=fingerprint(tiny_G), num_ws=tiny_G.num_ws, w_dim=tiny_G.w_dim)
    face = tiny_G.w_from_seed(3, truncation_psi=0.7)[0].numpy()
    codes = np.stack([face, compose_latent(face, {"joy": 0.0}, dset), compose_latent(face, {"joy": 1.0}, dset)])
    images = tiny_G.synthesize(torch.from_numpy(codes))
    assert torch.equal(images[1], images[0])
    assert not torch.equal(images[2], images[0])  # small: the strength is in this tiny W cloud's units
