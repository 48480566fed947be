"""Learning channel directions: labelled sets, inverted and self-labelled latents, calibration.

Real parts throughout: procedural renders, a 32-pixel StyleGAN2 (NVIDIA's initialisation,
``w_avg`` the mean of mapping(z)), a real (untrained) probe network for the inversion's
feature loss. Where a calibration needs a reader whose answer is known, it reads brightness.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.directions import Direction, DirectionSet
from backend.animation.latent import compose_latent
from backend.jobs import Cancelled
from backend.learning.calibration import RowsTrial, _first_crossing, calibrate_directions, choose_rows
from backend.learning.fitting import channel_classes, learn_directions
from backend.learning.labels import MEASURE_BATCH, LabeledLatents, Reading, Shares, run_in_batches, self_labeled_latents
from backend.metrics.acd import pixel_embedding
from backend.metrics.evaluation import ChannelScores
from backend.model.generator import Generator, synthesize_frames
from backend.readers.probe import FaceProbe, ProbeConfig
from lab.default_directions import (
    _FACE_STREAM,
    EXACT_THRESHOLDS,
    choose_per_channel,
    inverted_latents,
    labeled_channel_values,
    labeled_renders,
    neutral_faces,
)
from lab.face_prior import FacePrior

from .conftest import tiny_config, with_mean_w_avg

pytestmark = pytest.mark.usefixtures("one_thread")

FINGERPRINT = "ab" * 32
JOY, TURN = CHANNEL_NAMES.index("joy"), CHANNEL_NAMES.index("head_turn")


@pytest.fixture(scope="module")
def G(one_thread) -> Generator:
    torch.manual_seed(0)
    G = with_mean_w_avg(Generator(tiny_config(z_dim=96)))  # FacePrior reads 80 coordinates of z
    return G.eval().requires_grad_(False)


def brightness_reader(images: np.ndarray) -> Reading:
    """Joy reads as the mean brightness (0..1); the embedding is the grey-level picture."""
    values = np.zeros((len(images), len(CHANNEL_NAMES)))
    values[:, JOY] = images.astype(np.float64).mean(axis=(1, 2, 3)) / 255.0
    return Reading(values, pixel_embedding(images, size=8))


def test_labeled_values_are_balanced_with_exact_intensities():
    v = labeled_channel_values(70, seed=3)
    emotions = v[:, :6]
    assert ((emotions > 0).sum(axis=1) <= 1).all()  # one emotion per face at most
    assert ((emotions > 0).sum(axis=0) == 10).all()  # n/7 positives each
    assert (emotions[emotions > 0] >= 0.4).all() and emotions.max() <= 1.0
    for c in (6, 7):
        assert (v[:, c] > 0).sum() == 70 // 4
    assert (v[:, TURN] < 0).sum() == 70 // 3 and (v[:, TURN] > 0).sum() == 70 // 3
    assert (np.abs(v[v[:, TURN] != 0, TURN]) >= 0.4).all()
    np.testing.assert_array_equal(v, labeled_channel_values(70, seed=3))
    assert not np.array_equal(v, labeled_channel_values(70, seed=4))


def test_labeled_renders_draw_exactly_the_labelled_faces():
    values = labeled_channel_values(7)
    values[0] = 0.0  # one neutral, frontal face
    images = labeled_renders(values, 32, seed=1)
    assert images.shape == (7, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, labeled_renders(values, 32, seed=1))
    # The same identities with the labels changed draw other faces: the labels are what is drawn.
    other = labeled_renders(np.zeros_like(values), 32, seed=1)
    off = ~values.any(axis=1)
    assert off.sum() == 1
    np.testing.assert_array_equal(images[off], other[off])
    assert all(not np.array_equal(a, b) for a, b in zip(images[~off], other[~off], strict=True))
    with pytest.raises(ValueError, match=r"\(N, 9\)"):
        labeled_renders(values[:, :8], 32)


def test_labeled_renders_can_show_one_person_per_round():
    """faces_per_identity=7: the neutral face of a round and its emotions are the same person, so a
    round's neutral render equals that person's render with the labels cleared; the next round is
    someone else."""
    values = labeled_channel_values(14)
    values[:, CHANNEL_NAMES.index("head_turn")] = 0.0
    shared = labeled_renders(values, 32, seed=2, faces_per_identity=7)
    cleared = labeled_renders(np.zeros_like(values), 32, seed=2, faces_per_identity=7)
    np.testing.assert_array_equal(cleared[0], cleared[6])
    assert not np.array_equal(cleared[0], cleared[7])
    neutral = ~values.any(axis=1)
    np.testing.assert_array_equal(shared[neutral], cleared[neutral])
    with pytest.raises(ValueError, match="faces_per_identity"):
        labeled_renders(values, 32, faces_per_identity=0)


def test_exact_thresholds_drop_nothing_and_sign_the_head_turn():
    v = np.zeros((5, 9), np.float32)
    v[:, JOY] = [0.0, 0.0, 0.4, 0.6, 1.0]
    v[:, TURN] = [-0.8, -0.4, 0.0, 0.4, 0.5]
    used, pos = channel_classes(v, "joy", EXACT_THRESHOLDS)
    assert used.all() and pos.tolist() == [False, False, True, True, True]
    used, pos = channel_classes(v, "head_turn", EXACT_THRESHOLDS)
    assert used.tolist() == [True, True, False, True, True] and pos[used].tolist() == [False, False, True, True]


def test_shares_take_the_top_as_positive_the_bottom_as_negative_and_drop_the_middle():
    v = np.zeros((100, 9))
    v[:, JOY] = np.linspace(0.0, 0.3, 100)  # weak readings: ranks still separate them
    v[:, TURN] = np.linspace(-0.2, 0.2, 100)
    used, pos = channel_classes(v, "joy", Shares(top=0.1, bottom=0.5))
    assert pos.sum() == 10 and pos[-10:].all()
    assert used.sum() == 60 and used[:50].all() and not used[50:90].any()
    used, pos = channel_classes(v, "head_turn", Shares(top=0.1))
    assert used.sum() == 20 and used[:10].all() and used[-10:].all() and pos[-10:].all() and not pos[:10].any()
    # Faces that read below the floor are never positives, whatever their rank.
    v[:, JOY] = 0.01
    _, pos = channel_classes(v, "joy", Shares(top=0.1, floor=0.05))
    assert not pos.any()


def test_learned_directions_point_along_planted_directions():
    rng = np.random.default_rng(0)
    values = labeled_channel_values(420, seed=0)
    planted = np.linalg.qr(rng.standard_normal((48, 9)))[0].T  # orthonormal (9, 48)
    latents = rng.standard_normal((420, 48)) + 4.0 * values @ planted
    data = LabeledLatents(latents.astype(np.float32), values, "inversion")
    learned = learn_directions(data, generator_fingerprint=FINGERPRINT, num_ws=6, thresholds=EXACT_THRESHOLDS)
    assert learned.directions.names == CHANNEL_NAMES
    cos = np.stack([d.vector for d in learned.directions]) @ planted.T  # (learned, planted)
    # Each is nearest its own planted direction, with its sign (head turn's turns right, +);
    # a random direction in 48-D would have |cos| ~ 0.14.
    np.testing.assert_array_equal(np.argmax(np.abs(cos), axis=1), np.arange(9))
    assert np.diag(cos).min() > 0.6, np.diag(cos)
    assert all(r.accuracy > 0.9 for r in learned.reports), [r.accuracy for r in learned.reports]
    head = learned.reports[TURN]
    assert head.n_train + head.n_test == 2 * (420 // 3)  # frontal faces are left out of right-vs-left


def test_inverted_latents_are_codes_of_the_labelled_renders(G):
    probe = FaceProbe(ProbeConfig(input_size=32, width=4, depth=2))
    calls = []
    data = inverted_latents(G, probe, 7, steps=5, batch=4, progress=lambda stage, done, n: calls.append((stage, done, n)))
    assert data.latents.shape == (7, G.w_dim) and data.source == "inversion" and not data.cancelled
    np.testing.assert_array_equal(data.values, labeled_channel_values(7))
    assert calls == [("inverting", 4, 7), ("inverting", 7, 7)]
    assert data.pixel_mae.shape == (7,) and np.isfinite(data.latents).all()
    # The codes moved from w_avg toward the renders.
    assert not np.allclose(data.latents, G.w_avg.numpy()[None], atol=1e-3)

    batches = []
    partial = inverted_latents(G, probe, 7, steps=2, batch=4, progress=lambda s, d, n: batches.append(d),
                               cancel=lambda: len(batches) >= 1)
    assert partial.cancelled and partial.latents.shape == (4, G.w_dim) and partial.values.shape == (4, 9)


def test_self_labeled_latents_carry_the_readers_labels_of_their_drawings(G):
    data = self_labeled_latents(G, brightness_reader, 20, batch=8)
    assert data.latents.shape == (20, G.w_dim) and data.values.shape == (20, 9)
    ws = np.repeat(data.latents[:, None], G.num_ws, axis=1)
    np.testing.assert_allclose(data.values, brightness_reader(synthesize_frames(G, ws, MEASURE_BATCH)).values,
                               atol=1e-6)
    assert data.values[:, JOY].std() > 0  # the faces differ


def test_neutral_faces_are_faces_the_prior_draws_neutral(G):
    prior = FacePrior(z_dim=G.config.z_dim)
    faces = neutral_faces(G, prior, 5, seed=2, truncation_psi=1.0)
    assert faces.shape == (5, G.num_ws, G.w_dim)
    # Re-derive: the first neutral z of the stream maps to the first face.
    rng = np.random.default_rng([_FACE_STREAM, 2])
    z = rng.standard_normal((256, prior.z_dim)).astype(np.float32)
    first = z[~prior.channels(z).any(axis=1)][:1]
    np.testing.assert_allclose(faces[0], G.mapping(torch.from_numpy(first))[0].numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def brightening(G) -> DirectionSet:
    """A direction that brightens G's images (the gradient of their mean), as 'joy'."""
    w = G.w_avg.detach().clone().reshape(1, 1, -1).repeat(1, G.num_ws, 1).requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(G.synthesis(w).mean(), [w])
    vector = grad[0].sum(dim=0).numpy()
    vector /= np.linalg.norm(vector)
    return DirectionSet(FINGERPRINT, G.num_ws, G.w_dim,
                        (Direction("joy", vector, (0, G.num_ws), 0.5, "test", "logistic"),))


def test_calibrated_strength_makes_value_one_read_as_the_target(G, brightening):
    faces = G.mapping(torch.randn(6, G.config.z_dim, generator=torch.Generator().manual_seed(1))).numpy()
    base = brightness_reader(synthesize_frames(G, faces)).values[:, JOY].mean()
    targets = np.zeros(9)
    targets[JOY] = base + 0.05
    rows = [(0, 2), (0, G.num_ws)]
    calibrated, reports = calibrate_directions(G, brightening, brightness_reader, faces, targets, row_candidates=rows,
                                               strength_grid=(0.5, 1, 2, 4, 8, 16, 32), w_spread=0.5)
    (cal,) = reports
    assert cal.baseline == pytest.approx(base)
    assert [t.layers for t in cal.trials] == rows
    reached = [t for t in cal.trials if t.reached]
    assert reached, cal.trials
    assert cal.chosen == min(reached, key=lambda t: t.layers[1] - t.layers[0])  # both read the target
    d = calibrated["joy"]
    assert d.layers == cal.chosen.layers and d.strength == pytest.approx(cal.chosen.strength)
    np.testing.assert_array_equal(d.vector, brightening["joy"].vector)
    # Measured again, independently: value 1.0 now reads (close to) the target.
    edited = synthesize_frames(G, compose_latent(faces, {"joy": 1.0}, calibrated))
    assert brightness_reader(edited).values[:, JOY].mean() == pytest.approx(targets[JOY], abs=0.01)


def test_unreachable_target_keeps_the_best_reading_and_says_so(G, brightening):
    faces = G.mapping(torch.randn(3, G.config.z_dim, generator=torch.Generator().manual_seed(2))).numpy()
    targets = np.full(9, 2.0)  # brightness never reaches 2
    _, (cal,) = calibrate_directions(G, brightening, brightness_reader, faces, targets, row_candidates=[(0, 2)],
                                     strength_grid=(1, 2), w_spread=0.5)
    assert not cal.chosen.reached and cal.chosen.strength == pytest.approx(1.0)  # 2 x 0.5 reads brightest


def test_the_fewest_rows_reading_near_the_best_are_chosen():
    trials = [RowsTrial((0, 4), 1.0, 0.50, False, 0.2), RowsTrial((0, 12), 1.0, 0.80, True, 0.3),
              RowsTrial((0, 8), 1.0, 0.80, True, 0.4), RowsTrial((0, 6), 1.0, 0.75, False, 0.25)]
    assert choose_rows(trials, baseline=0.1).layers == (0, 6)  # gain 0.65 >= 0.7 - 0.1 x 0.7
    assert choose_rows(trials, baseline=0.5).layers == (0, 8)  # gain 0.25 < 0.3 - 0.1 x 0.3
    assert choose_rows(trials[:2], baseline=0.1).layers == (0, 12)
    same = [RowsTrial((0, 8), 1.0, 0.8, True, 0.4), RowsTrial((2, 10), 1.0, 0.8, True, 0.3)]
    assert choose_rows(same, baseline=0.1).layers == (2, 10)  # as many rows: the lesser drift


def test_calibration_can_be_cancelled(G, brightening):
    faces = G.mapping(torch.randn(2, G.config.z_dim)).numpy()
    with pytest.raises(Cancelled):
        calibrate_directions(G, brightening, brightness_reader, faces, np.zeros(9), row_candidates=[(0, 2)],
                             cancel=lambda: True)


def test_run_in_batches_reports_progress_and_stops_on_cancel_or_a_refused_batch():
    calls, seen = [], []
    work = lambda start, stop: calls.append((start, stop)) or True  # noqa: E731
    assert not run_in_batches(7, 3, work, stage="s", progress=lambda *a: seen.append(a))
    assert calls == [(0, 3), (3, 6), (6, 7)] and seen == [("s", 3, 7), ("s", 6, 7), ("s", 7, 7)]
    calls.clear()
    assert run_in_batches(7, 3, work, cancel=lambda: len(calls) == 2)
    assert calls == [(0, 3), (3, 6)]
    seen.clear()
    assert run_in_batches(7, 3, lambda start, stop: start == 0, progress=lambda s, done, n: seen.append(done))
    assert seen == [3]


def test_a_strength_where_no_face_was_read_is_never_the_calibrated_one():
    strengths = np.array([0.0, 1.0, 2.0, 3.0])
    # Target never reached: the best reading, not the unread strength (np.argmax would pick the NaN).
    assert _first_crossing(strengths, np.array([0.1, np.nan, 0.4, 0.3]), 0.9) == (2.0, 0.4, False)
    # Reached right after an unread strength: no interpolation toward NaN.
    assert _first_crossing(strengths, np.array([0.1, np.nan, 0.95, 0.3]), 0.9) == (2.0, 0.95, True)
    # Reached between two read strengths: interpolated as before.
    s, at, reached = _first_crossing(strengths, np.array([0.1, 0.5, 1.3, 0.3]), 0.9)
    assert (s, at, reached) == (pytest.approx(1.5), 0.9, True)
    strength, reading, reached = _first_crossing(strengths, np.full(4, np.nan), 0.9)
    assert strength == 0.0 and np.isnan(reading) and not reached


def _scores(name: str, spearman: float, dominant: float) -> ChannelScores:
    nan = float("nan")
    return ChannelScores(name, 16, 32, spearman, nan, dominant, nan, nan, nan, nan, nan, nan, nan, nan, nan, (0, 8))


def test_the_shipped_set_keeps_the_preferred_recipe_unless_it_misses_and_the_other_meets():
    own = [_scores("joy", 0.95, 1.0), _scores("disgust", 0.96, 0.5), _scores("fear", 0.7, 1.0)]
    paper = [_scores("joy", 0.99, 1.0), _scores("disgust", 0.99, 1.0), _scores("fear", 0.8, 1.0),
             _scores("surprise", 0.5, 0.2)]
    choice = {c.name: c for c in choose_per_channel({"self-labeled": own, "inversion": paper}, prefer="self-labeled")}
    assert [n for n in CHANNEL_NAMES if n in choice] == list(choice)  # channel order
    assert choice["joy"].source == "self-labeled"  # meets: kept, though the other reads higher
    assert choice["disgust"].source == "inversion" and "50%" in choice["disgust"].why
    assert choice["fear"].source == "self-labeled" and "no other recipe" in choice["fear"].why  # neither meets
    assert choice["surprise"].source == "inversion" and "has no direction" in choice["surprise"].why
