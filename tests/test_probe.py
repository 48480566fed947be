"""Probes: training on renders, predictions, files, and the independence of the two roles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model.checkpoints import CheckpointError, save_generator
from backend.model.generator import Generator, images_from_uint8
from backend.readers.probe import (
    N_AUS,
    N_CHANNELS,
    FaceProbe,
    ProbeConfig,
    ProbePrediction,
    load_probe,
    probe_predict,
    save_probe,
)
from lab.probes.data import HELDOUT_SEED, heldout_batch, render_probe_batch, training_batch
from lab.probes.evaluation import evaluate_probe
from lab.probes.training import PROBE_ROLES, probe_learning_rate, supervised_contrastive_loss, train_probe
from lab.procedural import AU_NAMES

from .conftest import tiny_config

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.lab]

SMALL = ProbeConfig(input_size=64, width=8, depth=4, embed_dim=16, seed=3)


@pytest.fixture(scope="module")
def trained(one_thread) -> tuple[FaceProbe, list]:
    logs: list = []
    probe = train_probe(SMALL, steps=30, batch=16, log=logs.append, log_every=1)
    return probe, logs


def test_a_short_training_run_reduces_the_loss(trained):
    _, logs = trained
    assert [r.step for r in logs] == list(range(1, 31))
    total = np.array([r.loss.total for r in logs])
    identity = np.array([r.loss.identity for r in logs])
    # Measured over seeds 3-5: total 1.6-1.8 → 0.9-1.0, identity 1.8-2.4 → 0.8-1.1.
    assert total[-5:].mean() < 0.8 * total[:5].mean()
    assert identity[-5:].mean() < 0.8 * identity[:5].mean()
    assert logs[-1].images == 30 * 16


def test_training_returns_a_frozen_eval_probe(trained):
    probe, _ = trained
    assert not probe.training
    assert all(not p.requires_grad for p in probe.parameters())


def test_predictions_have_the_right_shapes_and_ranges(trained):
    probe, _ = trained
    images = np.random.default_rng(0).integers(0, 256, (5, 80, 80, 3), dtype=np.uint8)  # resized to 64
    pred = probe_predict(probe, images, batch_size=2)
    assert isinstance(pred, ProbePrediction)
    assert pred.aus.shape == (5, N_AUS) and pred.emotions.shape == (5, N_CHANNELS)
    assert pred.embedding.shape == (5, SMALL.embed_dim)
    assert all(a.dtype == np.float32 for a in (pred.aus, pred.emotions, pred.embedding))
    assert ((pred.aus >= 0) & (pred.aus <= 1)).all()
    assert ((pred.emotions[:, :-1] >= 0) & (pred.emotions[:, :-1] <= 1)).all()
    assert (np.abs(pred.emotions[:, -1]) <= 1).all()
    np.testing.assert_allclose(np.linalg.norm(pred.embedding, axis=1), 1.0, rtol=1e-5)
    one = probe_predict(probe, images[0])  # a single (H, W, 3) image
    np.testing.assert_allclose(one.aus, pred.aus[:1], atol=1e-5)


def test_predictions_refuse_bad_images(trained):
    probe, _ = trained
    with pytest.raises(ValueError, match="uint8"):
        probe_predict(probe, np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="square"):
        probe_predict(probe, np.zeros((1, 64, 32, 3), np.uint8))


def test_a_face_is_read_alike_alone_and_in_a_batch():
    probe = FaceProbe(SMALL).eval()
    x = images_from_uint8(training_batch(SMALL, 0, 4).images)
    with torch.no_grad():
        together = probe(x)
        alone = probe(x[1:2])
    torch.testing.assert_close(alone.embedding, together.embedding[1:2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone.au_logits, together.au_logits[1:2], atol=1e-5, rtol=1e-5)


def test_features_are_one_map_per_stage_and_accept_any_size():
    probe = FaceProbe(SMALL)
    maps = probe.features(torch.zeros(2, 3, 128, 128))  # resized to the probe's 64 pixels
    assert [tuple(m.shape) for m in maps] == [(2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 4, 4)]
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        probe.features(torch.zeros(2, 1, 64, 64))


def test_save_load_round_trip_is_exact(trained, tmp_path):
    probe, _ = trained
    path = tmp_path / "probe.safetensors"
    save_probe(probe, path, metadata={"role": "test"})
    loaded = load_probe(path)
    assert loaded.config == probe.config
    assert not loaded.training and all(not p.requires_grad for p in loaded.parameters())
    for (k, a), (_, b) in zip(sorted(probe.state_dict().items()), sorted(loaded.state_dict().items()), strict=True):
        assert torch.equal(a, b), k
    images = training_batch(SMALL, 99, 4).images
    a, b = probe_predict(probe, images), probe_predict(loaded, images)
    assert np.array_equal(a.aus, b.aus) and np.array_equal(a.embedding, b.embedding)
    assert not list(tmp_path.glob("*.tmp-*"))


def test_half_precision_files_load_as_float32(trained, tmp_path):
    probe, _ = trained
    path = save_probe(probe, tmp_path / "half.safetensors", half=True)
    loaded = load_probe(path)
    assert all(t.dtype == torch.float32 for t in loaded.state_dict().values())
    images = training_batch(SMALL, 99, 2).images
    np.testing.assert_allclose(probe_predict(loaded, images).aus, probe_predict(probe, images).aus, atol=1e-2)


def test_loading_refuses_files_that_are_not_probes(tmp_path):
    generator_file = tmp_path / "generator.safetensors"
    save_generator(Generator(tiny_config()), generator_file)
    with pytest.raises(CheckpointError, match="not a Latent Emotion probe"):
        load_probe(generator_file)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04this is a pickle, not safetensors")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load_probe(junk)
    with pytest.raises(CheckpointError, match="no such file"):
        load_probe(tmp_path / "missing.safetensors")


def test_loading_refuses_weights_that_do_not_match_the_config(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = tmp_path / "probe.safetensors"
    save_probe(FaceProbe(SMALL), path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    tensors.pop(sorted(tensors)[0])
    save_file(tensors, str(path), metadata=meta)
    with pytest.raises(CheckpointError, match="do not match"):
        load_probe(path)


def test_eval_and_feature_roles_train_on_different_faces():
    eval_cfg, features_cfg = PROBE_ROLES["eval"], PROBE_ROLES["features"]
    assert eval_cfg.seed != features_cfg.seed
    a = training_batch(ProbeConfig(input_size=32, seed=eval_cfg.seed), 0, 4)
    b = training_batch(ProbeConfig(input_size=32, seed=features_cfg.seed), 0, 4)
    assert not np.array_equal(a.images, b.images)
    assert not np.array_equal(a.aus, b.aus)
    # And the held-out faces are neither.
    held = heldout_batch(4, 32, HELDOUT_SEED)
    assert not np.array_equal(held.images, a.images) and not np.array_equal(held.images, b.images)


def test_eval_and_feature_roles_start_from_different_weights():
    a = FaceProbe(ProbeConfig(input_size=32, width=4, depth=2, seed=PROBE_ROLES["eval"].seed))
    b = FaceProbe(ProbeConfig(input_size=32, width=4, depth=2, seed=PROBE_ROLES["features"].seed))
    assert not torch.equal(a.stages[0][0][0].weight, b.stages[0][0][0].weight)


def test_training_batches_are_a_pure_function_of_seed_and_step():
    cfg = ProbeConfig(input_size=32, seed=11)
    first, again, second = training_batch(cfg, 5, 4), training_batch(cfg, 5, 4), training_batch(cfg, 6, 4)
    assert np.array_equal(first.images, again.images) and np.array_equal(first.emotions, again.emotions)
    assert not np.array_equal(first.images, second.images)


def test_weights_depend_on_the_seed_only_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = FaceProbe(SMALL), FaceProbe(SMALL)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_a_batch_pairs_two_expressions_of_each_identity():
    batch = render_probe_batch(np.random.default_rng(0), 6, 32)
    assert batch.images.shape == (6, 32, 32, 3) and batch.images.dtype == np.uint8
    assert batch.identity.tolist() == [0, 0, 1, 1, 2, 2]
    assert batch.aus.shape == (6, N_AUS) and batch.emotions.shape == (6, N_CHANNELS)
    with pytest.raises(ValueError, match="multiple of 2"):
        render_probe_batch(np.random.default_rng(0), 3, 32)


def test_supervised_contrastive_loss_prefers_identities_grouped():
    labels = torch.tensor([0, 0, 1, 1])
    grouped = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert supervised_contrastive_loss(grouped, labels) < 0.01
    assert supervised_contrastive_loss(mixed, labels) > 5.0


def test_learning_rate_warms_up_then_decays():
    assert probe_learning_rate(0.0, 1.0) < 0.1
    assert probe_learning_rate(0.02, 1.0) == pytest.approx(1.0)
    assert probe_learning_rate(1.0, 1.0) == pytest.approx(0.05)


def test_evaluate_probe_scores_held_out_faces(trained):
    probe, _ = trained
    scores = evaluate_probe(probe, n=16)
    assert scores.n == 16
    assert 0 <= scores.au_mae <= 1 and 0 <= scores.emotion_mae <= 1 and 0 <= scores.head_turn_mae <= 2
    assert 0 <= scores.identity_top1 <= 1
    assert 0 < scores.au_mae_baseline < 1 and 0 < scores.emotion_mae_baseline < 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size": 48}, "power of two"),
        ({"input_size": 32, "depth": 6}, "depth"),
        ({"width": 0}, "width"),
        ({"seed": -1}, "seed"),
    ],
)
def test_probe_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProbeConfig(**kwargs)


def test_training_needs_a_budget():
    with pytest.raises(ValueError, match="steps, time_limit_s"):
        train_probe(SMALL)


def test_the_au_head_reads_the_renderers_action_units():
    assert N_AUS == len(AU_NAMES)
