"""The default model's face prior: deterministic, valid faces, the intended expression shares, hidden axes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model.generator import Generator
from lab.face_prior import N_COORDINATES, PRIOR_VERSION, FacePrior
from lab.procedural import CHANNEL_NAMES, EMOTION_NAMES, VECTOR_NAMES, GlassesStyle, render_face
from lab.procedural.identity import SCALAR_RANGES
from tests.conftest import tiny_config

Z_DIM = 128


@pytest.fixture(scope="module")
def prior() -> FacePrior:
    return FacePrior(z_dim=Z_DIM, seed=7)


@pytest.fixture(scope="module")
def many_z() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((20_000, Z_DIM))


def test_decode_is_deterministic_and_depends_on_the_seed(prior: FacePrior) -> None:
    z = np.random.default_rng(1).standard_normal((8, Z_DIM))
    again = FacePrior(z_dim=Z_DIM, seed=7)
    assert prior.decode(z) == again.decode(z)
    assert np.array_equal(prior.rotation, again.rotation)
    assert prior.rotation_fingerprint == again.rotation_fingerprint
    assert FacePrior(z_dim=Z_DIM, seed=8).decode(z) != prior.decode(z)


def test_rotation_is_orthogonal(prior: FacePrior) -> None:
    q = prior.rotation
    assert np.allclose(q.T @ q, np.eye(Z_DIM), atol=1e-10)


def test_expression_shares_are_neutral_single_and_mixed(prior: FacePrior, many_z: np.ndarray) -> None:
    channels = prior.channels(many_z)
    active = (channels[:, :len(EMOTION_NAMES)] > 0).sum(axis=1)
    # Each emotion is on with p = 0.2, independently: (0.8)^6 = 0.26 neutral, 0.39 single, 0.35 mixed.
    assert 0.23 < np.mean(active == 0) < 0.29
    assert 0.36 < np.mean(active == 1) < 0.43
    assert 0.31 < np.mean(active >= 2) < 0.38
    emotions = channels[:, :len(EMOTION_NAMES)]
    on = emotions[emotions > 0]
    assert 0.1 < np.mean(on == 1.0) < 0.2  # some full-strength faces
    assert 0.3 < np.median(on) < 0.7  # and the rest spread over (0, 1)
    for name, share in (("eye_close", 0.12), ("mouth_open", 0.12)):
        assert abs(np.mean(channels[:, CHANNEL_NAMES.index(name)] > 0) - share) < 0.015
    turn = channels[:, CHANNEL_NAMES.index("head_turn")]
    assert abs(np.mean(turn == 0) - 0.6) < 0.015
    assert turn.min() < -0.95 and turn.max() > 0.95


def test_no_latent_axis_is_an_emotion(prior: FacePrior, many_z: np.ndarray) -> None:
    channels = prior.channels(many_z)
    corr = np.corrcoef(np.concatenate([many_z, channels], axis=1).T)[:Z_DIM, Z_DIM:]
    assert np.abs(corr).max() < 0.9
    # In fact every channel is spread over many axes (a Haar rotation gives about 1/sqrt(z_dim) each).
    assert np.abs(corr).max() < 0.5


def test_decoded_faces_are_valid_even_for_extreme_latents(prior: FacePrior) -> None:
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.standard_normal((200, Z_DIM)), 40 * rng.standard_normal((50, Z_DIM)),
                        np.zeros((1, Z_DIM)), np.eye(Z_DIM)[:20] * 1e6])
    params = prior.decode(z)  # FaceParams and Identity validate every range on construction
    assert len(params) == len(z)
    vectors = np.stack([p.to_vector() for p in params])
    for name, (lo, hi) in SCALAR_RANGES.items():
        column = vectors[:, VECTOR_NAMES.index(f"identity.{name}")]
        assert lo <= column.min() and column.max() <= hi
    image = render_face(params[0], 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8


def test_the_scale_of_z_does_not_change_the_face(prior: FacePrior) -> None:
    # The mapping network normalises z, so the prior must too: G cannot see |z|.
    z = np.random.default_rng(3).standard_normal((4, Z_DIM))
    a = np.stack([p.to_vector() for p in prior.decode(z)])
    b = np.stack([p.to_vector() for p in prior.decode(3.0 * z)])
    assert np.allclose(a, b, atol=1e-6)


def test_categories_follow_sample_identity_probabilities(prior: FacePrior, many_z: np.ndarray) -> None:
    glasses = np.array([int(i.glasses) for i in prior.identities(many_z[:4000])])
    assert abs(np.mean(glasses == GlassesStyle.NONE) - 0.78) < 0.03


def test_seed_gives_the_generators_z(prior: FacePrior) -> None:
    G = Generator(tiny_config(z_dim=Z_DIM))
    assert torch.equal(G.z_from_seed(5), torch.from_numpy(prior.z_from_seed(5)).float())


def test_dict_round_trip_and_refusals(prior: FacePrior) -> None:
    d = prior.to_dict()
    assert d["version"] == PRIOR_VERSION
    assert FacePrior.from_dict(d) == prior
    with pytest.raises(ValueError, match="version"):
        FacePrior.from_dict({**d, "version": PRIOR_VERSION + 1})
    with pytest.raises(ValueError, match="fingerprint"):
        FacePrior.from_dict({**d, "rotation_fingerprint": "0" * 64})
    with pytest.raises(ValueError, match="z_dim must be at least"):
        FacePrior(z_dim=N_COORDINATES - 1)
    with pytest.raises(ValueError, match="shape"):
        prior.decode(np.zeros((2, Z_DIM + 1)))


def test_with_identities_swaps_the_person_and_keeps_the_expression(prior: FacePrior) -> None:
    rng = np.random.default_rng(5)
    z, donors = rng.standard_normal((64, Z_DIM)), 3.0 * rng.standard_normal((64, Z_DIM))
    mixed = prior.with_identities(z, donors)
    np.testing.assert_allclose(np.sqrt(np.mean(mixed ** 2, axis=1)), 1.0, atol=1e-9)
    np.testing.assert_allclose(prior.channels(mixed), prior.channels(z), atol=1e-6)
    assert not np.allclose(prior.channels(mixed), prior.channels(donors), atol=0.1)
    for a, b in zip(prior.identities(mixed), prior.identities(donors), strict=True):
        assert (a.hair_style, a.glasses, a.beard) == (b.hair_style, b.glasses, b.beard)
        np.testing.assert_allclose(a.skin_color, b.skin_color, atol=1e-6)
        np.testing.assert_allclose(a.background_top, b.background_top, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        prior.with_identities(z, donors[:3])


def test_channel_coordinates_invert_channels(prior: FacePrior) -> None:
    from lab.face_prior import CHANNEL_COORDINATES
    values = np.array([[0.0, 0.3, 1.0, 0.999, 0.5, 0.0, 0.01, 1.0, -0.7],
                       [1.0] * 8 + [0.5],
                       [0.0] * 8 + [-1.0],
                       [0.0] * 9])
    z = np.random.default_rng(3).standard_normal((4, Z_DIM))
    set_z = prior.with_coordinates(z, list(CHANNEL_COORDINATES), prior.channel_coordinates(values))
    np.testing.assert_allclose(prior.channels(set_z), values, atol=1e-5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        prior.channel_coordinates(np.full((1, 9), 1.5))
    with pytest.raises(ValueError, match="shape"):
        prior.channel_coordinates(np.zeros((1, 8)))


def test_mixed_stacks_two_or_three_strong_channels_and_keeps_the_person(prior: FacePrior, many_z: np.ndarray) -> None:
    z = many_z[:2000]
    stacked = prior.mixed(z, np.random.default_rng(5))
    channels = np.abs(prior.channels(stacked))
    on = (channels > 0).sum(axis=1)
    assert set(np.unique(on)) == {2, 3}
    assert (channels[channels > 0] >= 0.5 - 1e-6).all()
    # every channel, the head turn to both sides, takes part about equally often
    share = (channels > 0).mean(axis=0)
    assert share.min() > 0.22 and share.max() < 0.34
    turn = prior.channels(stacked)[:, CHANNEL_NAMES.index("head_turn")]
    assert (turn < 0).sum() > 100 and (turn > 0).sum() > 100
    # the person is the one z drew: only the expression moved
    before, after = prior.identities(z[:50]), prior.identities(stacked[:50])
    assert [(a.hair_style, a.glasses, a.beard) for a in after] == [(b.hair_style, b.glasses, b.beard) for b in before]
    np.testing.assert_allclose([a.skin_color for a in after], [b.skin_color for b in before], atol=1e-6)
    # the prior alone rarely draws two channels at 0.8 or more together; mixed always gives two at 0.5+
    plain = np.abs(prior.channels(many_z))
    assert np.mean((plain >= 0.8).sum(axis=1) >= 2) < 0.1
    # the same rng draws the same stack
    np.testing.assert_array_equal(stacked[:10], prior.mixed(z[:10], np.random.default_rng(5)))
    with pytest.raises(ValueError, match="channels"):
        prior.mixed(z[:2], np.random.default_rng(0), channels=(0, 3))
