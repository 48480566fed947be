"""GAN inversion on a small real generator: known latents are recovered.

The generator is a 32-pixel StyleGAN2 with its constructor's (NVIDIA's) initialisation and
``w_avg`` set to the mean of mapping(z), as a trained model has it. (``randomize_`` is not used:
it shrinks the mapping network's output to nearly one point, so every seed maps alike.)
Targets are G(w) for seeds truncated to ψ = 0.3: an untrained generator's landscape is rugged,
and from ``w_avg`` farther targets sometimes end in local minima.

Measured with these settings (300 steps, lr 0.1, W space, seeds 0-3): relative W error
|w − w_true| / |w_true − w_avg| of 0.03-0.10 and pixel MAE of 0.2-0.8 (0..255 units, images
clipped to [-1, 1]; their own standard deviation is about 96); 100 W+ steps from those codes
bring the MAE to 0.07-0.19. W+ from ``w_avg`` (150 steps) takes the MAE from 51 to 7.8 and from
25 to 2.9: it reconstructs, but converges more slowly than W (many more free coordinates).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model.generator import Generator, images_to_uint8
from backend.photos.inversion import (
    InversionBatch,
    InversionResult,
    feature_distance,
    invert,
    invert_batch,
    latent_noise_scale,
    learning_rate,
)
from backend.readers.probe import FaceProbe, ProbeConfig

from .conftest import tiny_config, with_mean_w_avg

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.xdist_group("test_inversion")]  # one worker runs the module's inversions

SEEDS = (0, 1, 2, 3)
PSI = 0.3


@pytest.fixture(scope="module")
def G(one_thread) -> Generator:
    torch.manual_seed(0)
    G = with_mean_w_avg(Generator(tiny_config()))  # requires_grad stays on: inversion must not need it off
    return G.eval()


@pytest.fixture(scope="module")
def targets(G: Generator) -> tuple[torch.Tensor, torch.Tensor]:
    ws = torch.cat([G.w_from_seed(s, truncation_psi=PSI) for s in SEEDS])
    with torch.no_grad():
        return ws, G.synthesis(ws)


@pytest.fixture(scope="module")
def w_result(G: Generator, targets: tuple[torch.Tensor, torch.Tensor]) -> InversionBatch:
    return invert_batch(G, targets[1], space="w", steps=300)


def relative_w_error(G: Generator, w_plus: np.ndarray, ws: torch.Tensor) -> np.ndarray:
    true = ws.numpy()
    avg = G.w_avg.numpy()
    return np.linalg.norm(w_plus - true, axis=(1, 2)) / np.linalg.norm(true - avg, axis=(1, 2))


def test_w_space_recovers_the_known_latent(G, targets, w_result):
    ws, _ = targets
    rel = relative_w_error(G, w_result.w_plus, ws)
    assert rel.max() < 0.2, rel  # measured 0.03-0.10
    assert w_result.pixel_mae.max() < 2.0, w_result.pixel_mae  # measured 0.2-0.8 of 255
    start = w_result.loss_history[:10].mean(axis=0)
    assert (w_result.loss_history[-10:].mean(axis=0) < 0.01 * start).all()


def test_w_space_codes_have_equal_rows(w_result):
    w = w_result.w_plus
    assert np.array_equal(w, np.broadcast_to(w[:, :1], w.shape))


def test_w_plus_refinement_of_a_w_code_reconstructs_better(G, targets, w_result):
    refined = invert_batch(G, targets[1], space="w+", steps=100, lr=0.02, init=w_result.w_plus)
    assert (refined.pixel_mae < w_result.pixel_mae).all()
    assert refined.pixel_mae.max() < 0.5, refined.pixel_mae  # measured 0.07-0.19
    rows_differ = np.abs(refined.w_plus - refined.w_plus[:, :1]).max()
    assert rows_differ > 0


def test_w_plus_from_the_average_reduces_the_error(G, targets):
    _, images = targets
    start = invert_batch(G, images[:2], space="w+", steps=0)
    result = invert_batch(G, images[:2], space="w+", steps=150)
    assert (result.pixel_mae < 0.3 * start.pixel_mae).all(), (start.pixel_mae, result.pixel_mae)  # 0.15, 0.12


def test_zero_steps_returns_the_average_face(G, targets):
    result = invert_batch(G, targets[1][:1], steps=0)
    assert result.steps == 0 and result.loss_history.shape == (0, 1)
    np.testing.assert_array_equal(result.w_plus[0], np.broadcast_to(G.w_avg.numpy(), (G.num_ws, G.w_dim)))


def test_single_image_result_types_and_shapes(G, targets):
    ws, images = targets
    target = images_to_uint8(images[:1])[0]
    result = invert(G, target, steps=40)
    assert isinstance(result, InversionResult)
    assert result.w_plus.shape == (G.num_ws, G.w_dim) and result.w_plus.dtype == np.float32
    assert result.loss_history.shape == (40,) and result.loss_history.dtype == np.float32
    assert result.image.shape == target.shape and result.image.dtype == np.uint8
    assert isinstance(result.pixel_mae, float) and result.pixel_mae >= 0
    assert result.space == "w" and result.steps == 40 and not result.cancelled
    # pixel_mae describes the returned image.
    mae_of_image = np.abs(result.image.astype(np.float64) - target).mean()
    assert abs(mae_of_image - result.pixel_mae) < 1.0


def test_batch_items_follow_the_path_they_would_alone(G, targets):
    _, images = targets
    batch = invert_batch(G, images[:2], steps=25, w_noise=0.0)
    for i in range(2):
        alone = invert(G, images[i], steps=25, w_noise=0.0)
        np.testing.assert_allclose(batch[i].w_plus, alone.w_plus, atol=1e-3)


def test_progress_is_called_after_every_step(G, targets):
    calls = []
    invert(G, targets[1][0], steps=7, progress=lambda *a: calls.append(a))
    assert calls == [("W", i, 7) for i in range(1, 8)]
    calls.clear()
    invert(G, targets[1][0], space="w+", steps=2, progress=lambda *a: calls.append(a))
    assert calls == [("W+", 1, 2), ("W+", 2, 2)]


def test_cancel_returns_early_with_the_codes_so_far(G, targets):
    done = []
    result = invert(G, targets[1][0], steps=300, progress=lambda s, d, t: done.append(d),
                    cancel=lambda: len(done) >= 5)
    assert result.cancelled and result.steps == 5
    assert result.loss_history.shape == (5,)
    assert result.w_plus.shape == (G.num_ws, G.w_dim) and np.isfinite(result.w_plus).all()
    assert not np.array_equal(result.w_plus[0], G.w_avg.numpy())  # it moved before stopping


def test_generator_is_left_untouched(G, targets):
    before = {k: v.clone() for k, v in G.state_dict().items()}
    invert(G, targets[1][0], steps=5, space="w+")
    assert all(p.grad is None for p in G.parameters())
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


def test_feature_loss_is_used_when_features_are_given(G, targets):
    probe = FaceProbe(ProbeConfig(input_size=32, width=4, depth=3, embed_dim=8)).eval().requires_grad_(False)
    _, images = targets
    calls = []

    def features(x: torch.Tensor) -> list[torch.Tensor]:
        calls.append(x.shape)
        return probe.features(x)

    plain = invert(G, images[0], steps=20, w_noise=0.0)
    with_features = invert(G, images[0], steps=20, w_noise=0.0, features=features)
    assert len(calls) == 1 + 20  # the target once, then every step
    assert with_features.loss_history[0] > plain.loss_history[0]  # the feature term adds to the loss
    assert with_features.loss_history[-1] < with_features.loss_history[0]
    assert all(p.grad is None for p in probe.parameters())


def test_feature_distance_is_zero_for_equal_maps_and_per_image():
    a = [torch.randn(3, 4, 8, 8), torch.randn(3, 6, 4, 4)]
    assert torch.allclose(feature_distance(a, a), torch.zeros(3))
    b = [a[0].clone(), a[1].clone()]
    b[0][1] += 1.0
    d = feature_distance(a, b)
    assert d[0] == 0 and d[2] == 0 and d[1] > 0


def test_schedule_ramps_up_and_down_like_nvidias_projector():
    assert learning_rate(0.0, 0.1) == 0.0
    assert learning_rate(0.05, 0.1) == pytest.approx(0.1)
    assert learning_rate(0.5, 0.1) == pytest.approx(0.1)
    assert learning_rate(0.875, 0.1) == pytest.approx(0.05)
    assert learning_rate(1.0, 0.1) == pytest.approx(0.0)
    assert latent_noise_scale(0.0, 0.05) == 0.05
    assert latent_noise_scale(0.75, 0.05) == 0.0 and latent_noise_scale(0.9, 0.05) == 0.0


def test_wrong_image_size_is_refused_with_a_resize_hint(G):
    with pytest.raises(ValueError, match=r"48x48 but the generator draws 32x32; resize"):
        invert(G, np.zeros((48, 48, 3), np.uint8), steps=1)
    with pytest.raises(ValueError, match="16x32"):
        invert_batch(G, torch.zeros(1, 3, 16, 32), steps=1)


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((32, 32, 3), np.float32), {}, "must be uint8"),
        (np.zeros((32, 32, 4), np.uint8), {}, r"\(N, H, W, 3\)"),
        (np.zeros((32, 32), np.uint8), {}, r"\(H, W, 3\)"),
        (np.zeros((32, 32, 3), np.uint8), {"space": "z"}, "space must be"),
        (np.zeros((32, 32, 3), np.uint8), {"steps": -1}, "steps"),
        (np.zeros((32, 32, 3), np.uint8), {"lr": 0.0}, "lr"),
        (np.zeros((32, 32, 3), np.uint8), {"init": "zero"}, "init must be"),
        (np.zeros((32, 32, 3), np.uint8), {"init": np.zeros(5, np.float32)}, "init codes must have shape"),
        (np.zeros((32, 32, 3), np.uint8), {"noise_mode": "fixed"}, "noise_mode"),
    ],
)
def test_bad_inputs_raise_clear_errors(G, image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        invert(G, image, **kwargs)


def test_w_space_refuses_a_w_plus_init_with_different_rows(G):
    init = np.random.default_rng(0).standard_normal((G.num_ws, G.w_dim)).astype(np.float32)
    with pytest.raises(ValueError, match="rows differ"):
        invert(G, np.zeros((32, 32, 3), np.uint8), init=init, steps=1)
    equal_rows = np.broadcast_to(init[0], init.shape)
    result = invert(G, np.zeros((32, 32, 3), np.uint8), init=equal_rows, steps=0)
    np.testing.assert_array_equal(result.w_plus, equal_rows)


def test_non_finite_images_are_refused(G):
    with pytest.raises(ValueError, match="non-finite"):
        invert(G, torch.full((3, 32, 32), float("nan")), steps=1)
