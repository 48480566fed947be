"""backend.metrics.evaluation (the protocol of scripts/eval_default_model.py and eval-directions):
its numbers on a small real generator.

The reader is known exactly (joy reads as brightness, the identity embedding is the grey-level
picture), so each score has an answer to check against.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.directions import Direction, DirectionSet
from backend.animation.latent import compose_latent
from backend.learning.labels import Reading
from backend.metrics import evaluation as ev
from backend.metrics.acd import content_distance, pixel_embedding
from backend.model.generator import Generator, synthesize_frames

from .conftest import tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")

JOY = CHANNEL_NAMES.index("joy")




@pytest.fixture(scope="module")
def G(one_thread) -> Generator:
    torch.manual_seed(0)
    return Generator(tiny_config(img_resolution=64)).eval().requires_grad_(False)  # 10 rows: the mask is 8


def brightness_reader(images: np.ndarray) -> Reading:
    values = np.zeros((len(images), len(CHANNEL_NAMES)))
    values[:, JOY] = images.astype(np.float64).mean(axis=(1, 2, 3)) / 255.0
    return Reading(values, pixel_embedding(images, size=8))


@pytest.fixture(scope="module")
def brightening(G) -> DirectionSet:
    """'joy' brightens the image (the gradient of its mean at w_avg), on the first 3 rows."""
    w = G.w_avg.detach().clone().reshape(1, 1, -1).repeat(1, G.num_ws, 1).requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(G.synthesis(w).mean(), [w])
    vector = grad[0, :3].sum(dim=0).numpy()
    return DirectionSet("cd" * 32, G.num_ws, G.w_dim, (Direction("joy", vector, (0, 3), 0.5, "test", "logistic"),))


def test_spearman_rows_matches_scipy_and_scores_constant_rows_zero():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 12)), rng.standard_normal((5, 12))
    y[1] = np.round(y[1])  # ties
    want = [spearmanr(a, b).statistic for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(ev.spearman_rows(x, y), want, atol=1e-12)
    assert ev.spearman_rows(x[:1], np.ones((1, 12)))[0] == 0.0
    assert ev.spearman_rows(x[:1], 2 * x[:1] + 1)[0] == pytest.approx(1.0)


def test_dominant_is_the_highest_emotion_or_a_reading_of_half_for_the_others():
    r = np.zeros((3, 9))
    r[0, JOY], r[0, 1] = 0.6, 0.5
    r[1, JOY], r[1, 1] = 0.4, 0.5
    r[2, 6] = 0.7  # eye_close on; joy ties at 0 with the others: argmax is joy
    assert ev.dominant(r, "joy").tolist() == [True, False, True]
    assert ev.dominant(r, "eye_close").tolist() == [False, False, True]


def test_channel_scores_follow_the_readers_answers(G, brightening):
    faces = G.mapping(torch.randn(3, G.config.z_dim, generator=torch.Generator().manual_seed(3))).numpy()
    scores, ends = ev.evaluate_channel(G, brightening, brightness_reader, faces, "joy", frames=5)
    assert (scores.videos, scores.frames, scores.layers) == (3, 5, (0, 3))
    # Recompute from the frames themselves.
    values = np.linspace(0, 1, 5)
    frames = np.stack([synthesize_frames(G, compose_latent(f, {"joy": values}, brightening)) for f in faces])
    read = [brightness_reader(v) for v in frames]
    rho = [spearmanr(values, r.values[:, JOY]).statistic for r in read]
    assert scores.spearman == pytest.approx(np.mean(rho)) and scores.spearman_min == pytest.approx(min(rho))
    assert scores.reading_at_1 > scores.reading_at_0  # it brightens
    assert scores.drift_masked == pytest.approx(np.mean([np.linalg.norm(r.embedding[-1] - r.embedding[0])
                                                         for r in read]))
    assert scores.acd_consecutive == pytest.approx(np.mean([content_distance(r.embedding, "consecutive")
                                                            for r in read]))
    start = np.stack([r.embedding[0] for r in read])
    for rows, drift, reading in ((min(8, G.num_ws), scores.drift_paper_mask, scores.reading_at_1_paper_mask),
                                 (G.num_ws, scores.drift_all_rows, scores.reading_at_1_all_rows)):
        moved = DirectionSet("cd" * 32, G.num_ws, G.w_dim, (Direction(
            "joy", brightening["joy"].vector, (0, rows), 0.5, "test", "logistic"),))
        at_one = brightness_reader(np.stack([synthesize_frames(G, compose_latent(f, {"joy": 1.0}, moved)[None])[0]
                                             for f in faces]))
        assert drift == pytest.approx(np.linalg.norm(at_one.embedding - start, axis=1).mean())
        assert reading == pytest.approx(at_one.values[:, JOY].mean())
    # The script draws the frames in batches of MEASURE_BATCH: a pixel may round the other way.
    np.testing.assert_allclose(ends[:, 0].astype(int), frames[:, 0], atol=1)
    np.testing.assert_allclose(ends[:, 1].astype(int), frames[:, -1], atol=1)


def test_between_faces_is_the_mean_pairwise_distance():
    e = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 8.0]])
    assert ev.between_faces(e) == pytest.approx((5.0 + 8.0 + 5.0) / 3)
    assert ev.between_faces(e[:1]) == 0.0


def test_srgb_to_lab_gives_the_cie_values_of_white_black_and_primaries():
    lab = ev.srgb_to_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(lab[1], [0.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.05)  # published sRGB red
    np.testing.assert_allclose(lab[3], [87.73, -86.18, 83.18], atol=0.05)  # and green


def test_colour_shift_is_the_delta_e_of_the_masked_mean_colours():
    grey = np.full((4, 4, 3), 128, np.uint8)
    tinted = grey.copy()
    tinted[:2] = (160, 170, 90)  # only the top half moves
    top = np.zeros((4, 4), bool)
    top[:2] = True
    assert ev.colour_shift(tinted, grey, ~top, ~top) == 0.0
    lab = ev.srgb_to_lab(np.array([[160, 170, 90], [128, 128, 128]]) / 255)
    expected = np.linalg.norm(lab[0] - lab[1])
    assert ev.colour_shift(tinted, grey, top, top) == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least one pixel"):
        ev.colour_shift(grey, grey, np.zeros((4, 4), bool), top)


def test_faces_a_reader_cannot_read_are_left_out(G, brightening):
    faces = G.mapping(torch.randn(3, G.config.z_dim, generator=torch.Generator().manual_seed(3))).numpy()
    whole, _ = ev.evaluate_channel(G, brightening, brightness_reader, faces, "joy", frames=5)

    def misses_the_first_face(images: np.ndarray) -> Reading:
        r = brightness_reader(images)
        n = len(images) // 3  # every call reads the 3 faces' frames in turn, face 0's first
        r.values[:n], r.embedding[:n] = np.nan, np.nan
        return r
    part, _ = ev.evaluate_channel(G, brightening, misses_the_first_face, faces, "joy", frames=5)
    alone, _ = ev.evaluate_channel(G, brightening, brightness_reader, faces[1:], "joy", frames=5)
    assert np.isfinite(whole.spearman) and part.spearman == pytest.approx(alone.spearman)
    assert part.reading_at_1 == pytest.approx(alone.reading_at_1)
    assert part.drift_masked == pytest.approx(alone.drift_masked)
    assert part.drift_all_rows == pytest.approx(alone.drift_all_rows)
    assert ev.between_faces(np.array([[0.0, 0.0], [np.nan, np.nan], [3.0, 4.0]])) == pytest.approx(5.0)


def test_compare_evals_puts_the_shipped_evaluations_side_by_side(tmp_path, capsys):
    """scripts/compare_evals.py on the two eval files in the repo: each column holds its own
    numbers, the summary rows follow the files, and a file that is not an eval is refused."""
    import json
    import sys

    from .conftest import ROOT

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import compare_evals
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    shipped, other = ROOT / "models/default/eval.json", ROOT / "lab/experiments/probe-loss/eval.json"
    assert compare_evals.main([f"a={shipped}", str(other)]) == 0
    out = capsys.readouterr().out
    docs = [json.loads(p.read_text()) for p in (shipped, other)]
    header = next(line for line in out.splitlines() if line.startswith("| channel"))
    assert header == "| channel | a | probe-loss |"
    joy = next(line for line in out.splitlines() if line.startswith("| joy "))
    for doc in docs:
        row = next(c for c in doc["channels"] if c["name"] == "joy")
        assert f"{row['spearman']:.3f} / {row['dominant']:.0%}" in joy
    assert f"{docs[1]['summary']['emotions_spearman_mean']:.3f}" in out
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert compare_evals.main([str(bad)]) == 2
