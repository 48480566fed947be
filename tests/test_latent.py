"""The rig maths: composing channel values into W+ codes, and interpolating between keyframes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from backend.animation.directions import Direction, DirectionSet
from backend.animation.latent import (
    compose_latent,
    default_layer_range,
    interpolate_keyframes,
    lerp,
    slerp,
    stacking_factors,
)

FP = "ab" * 32


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal(n).astype(np.float32)
    return v / np.linalg.norm(v)


def direction_set(num_ws: int = 8, w_dim: int = 32, seed: int = 0) -> DirectionSet:
    rng = np.random.default_rng(seed)
    return DirectionSet(FP, num_ws, w_dim, (
        Direction("joy", unit(rng, w_dim), (0, 4), 2.0, "class-means", "logistic", 0.9),
        Direction("anger", unit(rng, w_dim), (2, 6), 0.5, "class-means", "logistic", None),
    ))


def face(tiny_G) -> np.ndarray:
    return tiny_G.w_from_seed(1, truncation_psi=0.7)[0].numpy()


@pytest.mark.parametrize("num_ws, expected", [(18, (0, 8)), (16, (0, 7)), (14, (0, 6)), (8, (0, 4)), (1, (0, 1))])
def test_default_layer_range_is_the_papers_first_8_of_18_rows_scaled(num_ws, expected):
    assert default_layer_range(num_ws) == expected


@pytest.mark.parametrize("num_ws", [0, -3, 2.5, True])
def test_default_layer_range_rejects_non_positive_row_counts(num_ws):
    with pytest.raises(ValueError, match="num_ws"):
        default_layer_range(num_ws)


def test_mask_keeps_rows_outside_every_range_bit_identical(tiny_G):
    dirs = direction_set(tiny_G.num_ws, tiny_G.w_dim)
    w = face(tiny_G)
    out = compose_latent(w, {"joy": 1.0, "anger": -0.7}, dirs)
    assert out.dtype == np.float32 and out.shape == w.shape
    assert out[6:].tobytes() == w[6:].tobytes()
    assert not np.array_equal(out[:6], w[:6])


def test_value_zero_and_missing_channels_give_the_face_exactly(tiny_G):
    dirs = direction_set(tiny_G.num_ws, tiny_G.w_dim)
    w = face(tiny_G)
    assert compose_latent(w, {}, dirs).tobytes() == w.tobytes()
    assert compose_latent(w, {"joy": 0.0, "anger": 0.0}, dirs).tobytes() == w.tobytes()


def test_compose_adds_value_times_strength_times_direction_in_each_range():
    dirs = direction_set()
    w = np.random.default_rng(1).standard_normal((8, 32)).astype(np.float32)
    out = compose_latent(w, {"joy": 1.0, "anger": 0.5}, dirs, stacking="add")
    joy, anger = dirs["joy"].vector * 2.0, dirs["anger"].vector * 0.25
    expected = w.astype(np.float64)
    expected[0:4] += joy
    expected[2:6] += anger
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


def test_negative_value_moves_the_other_way():
    dirs = direction_set()
    w = np.random.default_rng(2).standard_normal((8, 32)).astype(np.float32)
    d = dirs["joy"].vector
    up = compose_latent(w, {"joy": 0.8}, dirs) - w
    down = compose_latent(w, {"joy": -0.8}, dirs) - w
    np.testing.assert_allclose(up, -down, atol=1e-6)
    np.testing.assert_allclose(up[:4] @ d, [1.6] * 4, atol=1e-5)


def test_single_w_code_is_used_for_every_row():
    dirs = direction_set()
    w = np.random.default_rng(3).standard_normal(32).astype(np.float32)
    out = compose_latent(w, {"joy": 1.0}, dirs)
    assert out.shape == (8, 32)
    assert out[4:].tobytes() == np.tile(w, (4, 1)).tobytes()


def test_batch_items_equal_their_single_compositions():
    dirs = direction_set()
    rng = np.random.default_rng(4)
    ws = rng.standard_normal((3, 8, 32)).astype(np.float32)
    joy = np.array([0.0, 0.5, -1.0])
    out = compose_latent(ws, {"joy": joy, "anger": 0.3}, dirs)
    for b in range(3):
        assert out[b].tobytes() == compose_latent(ws[b], {"joy": joy[b], "anger": 0.3}, dirs).tobytes()
    frames = compose_latent(ws[0], {"joy": joy}, dirs)  # one face, one code per value
    assert frames.shape == (3, 8, 32)
    for b in range(3):
        assert frames[b].tobytes() == compose_latent(ws[0], {"joy": joy[b]}, dirs).tobytes()


def test_compose_accepts_torch_tensors_from_the_generator(tiny_G):
    dirs = direction_set(tiny_G.num_ws, tiny_G.w_dim)
    ws = tiny_G.w_from_seed(1)
    assert np.array_equal(compose_latent(ws, {"joy": 1.0}, dirs)[0],
                          compose_latent(ws[0].numpy(), {"joy": 1.0}, dirs))


def test_unknown_channel_error_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown channel\(s\) 'happy'.*joy, anger"):
        compose_latent(np.zeros((8, 32), np.float32), {"happy": 1.0}, direction_set())


@pytest.mark.parametrize("w, values, match", [
    (np.zeros((7, 32)), {}, "w_face must have shape"),
    (np.zeros((8, 31)), {}, "w_face must have shape"),
    (np.full((8, 32), np.nan), {}, "non-finite"),
    (np.zeros((8, 32)), {"joy": np.inf}, "not finite"),
    (np.zeros((2, 8, 32)), {"joy": [1.0, 2.0, 3.0]}, "batch sizes disagree"),
    (np.zeros((8, 32)), {"joy": [[1.0]]}, "1-D"),
])
def test_compose_rejects_bad_inputs(w, values, match):
    with pytest.raises(ValueError, match=match):
        compose_latent(w, values, direction_set())


def test_composed_direction_changes_the_image_and_zero_keeps_the_face(tiny_G):
    dirs = direction_set(tiny_G.num_ws, tiny_G.w_dim)
    w = face(tiny_G)
    codes = np.stack([w, compose_latent(w, {"joy": 0.0}, dirs), compose_latent(w, {"joy": 1.0}, dirs)])
    images = tiny_G.synthesize(torch.from_numpy(codes))
    assert torch.equal(images[1], images[0])
    assert (images[2] - images[0]).abs().max() > 1e-3


# --- stacking: channels that move the same rows ----------------------------------------------------

def stacking_set(num_ws: int = 8, w_dim: int = 32) -> DirectionSet:
    """Three channels whose rows overlap in every way: joy 0-4, anger 2-6, fear 0-8 (strengths differ)."""
    rng = np.random.default_rng(7)
    joy = unit(rng, w_dim)
    fear = 0.4 * joy + unit(rng, w_dim)  # partly along joy, as learned directions often are
    return DirectionSet(FP, num_ws, w_dim, (
        Direction("joy", joy, (0, 4), 15.0, "class-means", "logistic", None),
        Direction("anger", unit(rng, w_dim) * 0.5, (2, 6), 12.0, "class-means", "logistic", None),
        Direction("fear", fear / np.linalg.norm(fear), (0, 8), 9.0, "class-means", "logistic", None),
    ))


def row_offsets(out: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.linalg.norm(out.astype(np.float64) - w.astype(np.float64), axis=-1)


@pytest.mark.parametrize("name", ["joy", "anger", "fear"])
@pytest.mark.parametrize("value", [0.0, 0.3, 1.0, -1.3, 2.0])
def test_a_single_channel_composes_bit_for_bit_as_the_plain_sum(name, value):
    dirs = stacking_set()
    w = np.random.default_rng(8).standard_normal((8, 32)).astype(np.float32)
    assert compose_latent(w, {name: value}, dirs).tobytes() == compose_latent(w, {name: value}, dirs, "add").tobytes()
    others_at_zero = {n: 0.0 for n in dirs.names} | {name: value}
    assert compose_latent(w, others_at_zero, dirs).tobytes() == compose_latent(w, {name: value}, dirs, "add").tobytes()
    values = np.array([0.0, value, -value, 1.5])  # a batch of frames, one channel moving
    assert compose_latent(w, {name: values}, dirs).tobytes() == compose_latent(w, {name: values}, dirs, "add").tobytes()


@given(st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_stacked_channels_never_move_a_row_further_than_their_largest_single_offset(vals):
    dirs = stacking_set()
    w = np.random.default_rng(9).standard_normal((8, 32)).astype(np.float32)
    values = dict(zip(dirs.names, vals, strict=True))
    out = compose_latent(w, values, dirs)
    alone = np.max([row_offsets(compose_latent(w, {n: v}, dirs), w) for n, v in values.items()], axis=0)
    assert (row_offsets(out, w) <= alone * (1 + 1e-5) + 1e-5).all()


def test_two_channels_at_one_are_capped_to_the_largest_single_offset_along_their_sum():
    dirs = stacking_set()
    w = np.random.default_rng(10).standard_normal((8, 32)).astype(np.float32)
    plain = compose_latent(w, {"joy": 1.0, "fear": 1.0}, dirs, "add").astype(np.float64) - w
    capped = compose_latent(w, {"joy": 1.0, "fear": 1.0}, dirs).astype(np.float64) - w
    # Rows 0-4: joy (15) and fear (9): the plain sum is ~20 long, the cap 15.
    assert (row_offsets(plain[:4], 0 * plain[:4]) > 16.0).all()
    np.testing.assert_allclose(np.linalg.norm(capped[:4], axis=1), 15.0, rtol=1e-5)
    lengths = np.linalg.norm(capped[:4], axis=1) * np.linalg.norm(plain[:4], axis=1)
    cosine = np.sum(capped[:4] * plain[:4], axis=1) / lengths
    np.testing.assert_allclose(cosine, 1.0, atol=1e-6)  # the same mix of channels, only shorter
    # Rows 4-8: fear alone moves them, exactly as without the cap.
    assert capped[4:].astype(np.float32).tobytes() == plain[4:].astype(np.float32).tobytes()


def test_stacking_is_independent_of_the_order_of_the_values():
    dirs = stacking_set()
    w = np.random.default_rng(11).standard_normal((8, 32)).astype(np.float32)
    values = {"joy": 1.0, "anger": -0.8, "fear": 1.0}
    first = compose_latent(w, values, dirs)
    for order in (["fear", "joy", "anger"], ["anger", "fear", "joy"]):
        assert compose_latent(w, {n: values[n] for n in order}, dirs).tobytes() == first.tobytes()
    shuffled = DirectionSet(FP, 8, 32, tuple(reversed(dirs.directions)))  # the file's order: rounding only
    np.testing.assert_allclose(compose_latent(w, values, shuffled), first, rtol=0, atol=1e-5)


def test_a_stack_within_the_bound_is_the_plain_sum_bit_for_bit():
    dirs = stacking_set()
    w = np.random.default_rng(12).standard_normal((8, 32)).astype(np.float32)
    joy, fear = dirs["joy"].vector.astype(np.float64), dirs["fear"].vector.astype(np.float64)
    c = float(joy @ fear)
    assert abs(c) > 0.05
    # A little fear along joy lengthens joy's offset: capped, so not the plain sum ...
    values = {"joy": 1.0, "fear": 0.05 * np.sign(c)}
    assert compose_latent(w, values, dirs).tobytes() != compose_latent(w, values, dirs, "add").tobytes()
    # ... fear that takes joy's component along fear away shortens it: no cap, not one bit changed.
    values = {"joy": 1.0, "fear": -c * 15.0 / 9.0}
    assert np.linalg.norm(15.0 * joy + 9.0 * values["fear"] * fear) < 15.0
    assert compose_latent(w, values, dirs).tobytes() == compose_latent(w, values, dirs, "add").tobytes()


def test_stacking_is_continuous_as_a_second_channel_fades_in():
    dirs = stacking_set()
    w = np.random.default_rng(13).standard_normal((8, 32)).astype(np.float32)
    alone = compose_latent(w, {"joy": 1.0}, dirs)
    for eps in (1e-2, 1e-4, 1e-6):
        np.testing.assert_allclose(compose_latent(w, {"joy": 1.0, "anger": eps}, dirs), alone, atol=20 * eps + 1e-5)


def test_batch_of_stacked_frames_equals_each_frame_alone():
    dirs = stacking_set()
    w = np.random.default_rng(14).standard_normal((8, 32)).astype(np.float32)
    joy, fear = np.array([0.0, 1.0, 1.0, -2.0]), np.array([1.0, 0.0, 1.0, 0.7])
    out = compose_latent(w, {"joy": joy, "fear": fear}, dirs)
    for b in range(4):
        assert out[b].tobytes() == compose_latent(w, {"joy": joy[b], "fear": fear[b]}, dirs).tobytes()


def test_stacking_factors_are_one_for_the_plain_sum_and_for_lone_channels():
    vectors = list(np.eye(16, dtype=np.float32)[:2])  # orthogonal unit vectors
    layers = [(0, 4), (2, 6)]
    scales = [np.float64(3.0), np.array([0.0, 2.0, -5.0])]
    assert all(np.all(f == 1.0) for _, f in stacking_factors(scales, vectors, layers, "add"))
    factors = dict(stacking_factors(scales, vectors, layers))
    assert set(factors) == {(0, 2), (2, 4), (4, 6)}
    assert factors[(0, 2)] == 1.0 and factors[(4, 6)] == 1.0
    assert factors[(2, 4)][0] == 1.0  # the second channel is still at 0 in the first frame
    np.testing.assert_allclose(factors[(2, 4)][1:], [3 / np.sqrt(13), 5 / np.sqrt(34)], rtol=1e-12)


def test_compose_rejects_an_unknown_stacking():
    with pytest.raises(ValueError, match="stacking must be one of"):
        compose_latent(np.zeros((8, 32), np.float32), {"joy": 1.0}, direction_set(), "clip")


def test_lerp_follows_the_papers_formula_with_exact_ends():
    rng = np.random.default_rng(5)
    k2, k1 = rng.standard_normal((2, 8, 32)).astype(np.float32)
    assert lerp(k2, k1, 0.0).tobytes() == k2.tobytes()
    assert lerp(k2, k1, 1.0).tobytes() == k1.tobytes()
    t = 0.3
    np.testing.assert_allclose(lerp(k2, k1, t), t * k1 + (1 - t) * k2, atol=1e-6)  # I = t·K1 + (1 − t)·K2
    np.testing.assert_allclose(lerp(k2, k1, 0.5), (k1 + k2) / 2, atol=1e-6)


def test_slerp_ends_are_exact_and_midpoint_norm_is_the_mean_norm():
    a = np.array([[3.0, 0.0, 0.0], [1.0, 1.0, 0.0]], np.float32)
    b = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]], np.float32)
    assert slerp(a, b, 0.0).tobytes() == a.tobytes()
    assert slerp(a, b, 1.0).tobytes() == b.tobytes()
    mid = slerp(a, b, 0.5)
    np.testing.assert_allclose(np.linalg.norm(mid, axis=1), (np.linalg.norm(a, axis=1) + np.linalg.norm(b, axis=1)) / 2,
                               rtol=1e-6)
    np.testing.assert_allclose(mid[0] / np.linalg.norm(mid[0]), [np.sqrt(0.5), np.sqrt(0.5), 0], atol=1e-6)
    # Each row turns on its own great circle: the quarter point is a quarter of the angle.
    q = slerp(a, b, 0.25)[0]
    assert np.degrees(np.arctan2(q[1], q[0])) == pytest.approx(22.5, abs=1e-4)


def test_slerp_falls_back_to_lerp_for_parallel_opposite_and_zero_rows():
    a = np.array([[1.0, 2.0], [1.0, 0.0], [0.0, 0.0]], np.float32)
    b = np.array([[2.0, 4.0], [-3.0, 0.0], [1.0, 1.0]], np.float32)
    np.testing.assert_allclose(slerp(a, b, 0.4), lerp(a, b, 0.4), atol=1e-6)


def test_interpolation_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        lerp(np.zeros(3), np.zeros(4), 0.5)
    with pytest.raises(ValueError, match="finite"):
        slerp(np.ones(3), np.ones(3), float("nan"))


KEY_FRAMES = np.array([0, 10, 30])
KEY_VALUES = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize("method", ["linear", "slerp", "constant"])
def test_keyframes_are_hit_exactly_and_ends_are_held(method):
    values = interpolate_keyframes(KEY_FRAMES, KEY_VALUES, [-5, 0, 10, 30, 40], method)
    np.testing.assert_array_equal(values, KEY_VALUES[[0, 0, 1, 2, 2]])


def test_linear_keyframes_give_the_midpoint_half_way():
    np.testing.assert_allclose(interpolate_keyframes(KEY_FRAMES, KEY_VALUES, 5), [0.5, 0.0])
    np.testing.assert_allclose(interpolate_keyframes(KEY_FRAMES, KEY_VALUES, 20), [0.5, 0.5])


def test_constant_keyframes_hold_the_earlier_value():
    np.testing.assert_array_equal(interpolate_keyframes(KEY_FRAMES, KEY_VALUES, [9, 29.5], "constant"),
                                  KEY_VALUES[[0, 1]])


def test_slerp_keyframes_keep_intensity_between_two_emotions():
    mid = interpolate_keyframes(KEY_FRAMES, KEY_VALUES, 20, "slerp")
    np.testing.assert_allclose(mid, [np.sqrt(0.5), np.sqrt(0.5)])  # linear would dip to norm 0.71
    # From the neutral face (all zeros) slerp is the paper's linear ramp.
    np.testing.assert_allclose(interpolate_keyframes(KEY_FRAMES, KEY_VALUES, 5, "slerp"), [0.5, 0.0])


@pytest.mark.parametrize("method", ["linear", "slerp", "constant"])
def test_each_frame_alone_equals_the_frame_within_a_range(method):
    rng = np.random.default_rng(6)
    keys = np.array([0.0, 7.0, 19.0, 50.0])
    vals = rng.uniform(-1, 1, (4, 9))
    frames = np.arange(-3, 60)
    together = interpolate_keyframes(keys, vals, frames, method)
    assert together.shape == (frames.size, 9)
    for k, f in enumerate(frames):
        assert interpolate_keyframes(keys, vals, f, method).tobytes() == together[k].tobytes()


def test_a_single_keyframe_holds_everywhere():
    np.testing.assert_array_equal(interpolate_keyframes([4], [[0.2, -1.0]], [0, 4, 9]), [[0.2, -1.0]] * 3)


@pytest.mark.parametrize("keys, vals, method, match", [
    ([0, 0], [[0.0], [1.0]], "linear", "strictly increasing"),
    ([0, 1], [[0.0]], "linear", "keyframe_values must have shape"),
    ([], np.zeros((0, 1)), "linear", "non-empty"),
    ([0, 1], [[0.0], [np.nan]], "linear", "non-finite"),
    ([0, 1], [[0.0], [1.0]], "cubic", "method must be one of"),
])
def test_interpolate_keyframes_rejects_bad_keyframes(keys, vals, method, match):
    with pytest.raises(ValueError, match=match):
        interpolate_keyframes(keys, vals, [0], method)
