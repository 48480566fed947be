"""The frame cache: keys, hits and misses, crash safety, pruning, and rendering only what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from backend.model.checkpoints import fingerprint
from backend.rendering.frame_cache import (
    W_LIMIT,
    W_QUANTUM,
    FrameCache,
    RenderTarget,
    frame_key,
    generator_synthesizer,
    iter_frames,
    render_frames,
    snap_w,
)

ROOT = Path(__file__).resolve().parent.parent
FP = "ab" * 32
GOLDEN_W = np.arange(6, dtype=np.float32).reshape(2, 3) / 7


def frame(seed: int, size: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def on_grid(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Codes that sit on the key grid, so small noise cannot reach a rounding edge."""
    return np.round(np.random.default_rng(seed).normal(size=shape) / W_QUANTUM) * W_QUANTUM


class CountingSynth:
    """Wraps a synthesize callable, recording every batch it is asked for."""

    def __init__(self, synthesize):
        self.synthesize = synthesize
        self.batches: list[int] = []

    def __call__(self, ws: np.ndarray) -> np.ndarray:
        self.batches.append(len(ws))
        return self.synthesize(ws)

    @property
    def frames(self) -> int:
        return sum(self.batches)


@pytest.fixture
def tiny_render(tiny_G):
    ws = np.concatenate([tiny_G.w_from_seed(s).numpy() for s in range(5)])
    target = RenderTarget(fingerprint(tiny_G), tiny_G.config.img_resolution)
    return ws, target, CountingSynth(generator_synthesizer(tiny_G))


# --- keys -------------------------------------------------------------------------------------

def test_tiny_float_noise_keeps_the_key():
    w = on_grid((4, 16))
    noisy = w + np.random.default_rng(1).uniform(-1e-6, 1e-6, w.shape)
    assert frame_key(FP, noisy, 32) == frame_key(FP, w, 32)
    assert frame_key(FP, w.astype(np.float32), 32) == frame_key(FP, w, 32)
    assert frame_key(FP, w[None], 32) == frame_key(FP, w, 32)


def test_float64_code_keys_like_its_float32_copy():
    w = np.random.default_rng(0).normal(size=(18, 512))  # full size, off the grid
    assert frame_key(FP, w, 1024) == frame_key(FP, w.astype(np.float32), 1024)


def test_a_change_of_1e_3_in_one_value_changes_the_key():
    w = np.random.default_rng(0).normal(size=(4, 16))
    for index in [(0, 0), (3, 15), (2, 7)]:
        changed = w.copy()
        changed[index] += 1e-3
        assert frame_key(FP, changed, 32) != frame_key(FP, w, 32)


f32 = st.floats(-W_LIMIT, W_LIMIT, width=32)


@given(f32, st.floats(1.0001 * W_QUANTUM, 1.0), st.booleans())
def test_any_float32_change_of_more_than_a_quantum_changes_the_key(x, delta, down):
    w = np.full((1, 2), x, np.float32)
    moved = w.copy()
    moved[0, 1] = np.float32(x - delta if down else x + delta)
    assume(abs(float(moved[0, 1]) - float(x)) > W_QUANTUM and abs(moved[0, 1]) <= W_LIMIT)
    assert frame_key(FP, moved, 32) != frame_key(FP, w, 32)


@given(f32)
def test_snapping_is_idempotent(x):
    w = np.full((1, 1), x, np.float32)
    np.testing.assert_array_equal(snap_w(snap_w(w)), snap_w(w))
    assert frame_key(FP, snap_w(w), 32) == frame_key(FP, w, 32)


def test_key_depends_on_generator_resolution_and_noise_mode():
    w = on_grid((4, 16))
    keys = {frame_key(FP, w, 32), frame_key("cd" * 32, w, 32), frame_key(FP, w, 64),
            frame_key(FP, w, 32, "none"), frame_key(FP, w.reshape(8, 8), 32)}
    assert len(keys) == 5


def test_random_noise_and_bad_codes_are_refused():
    w = on_grid((4, 16))
    with pytest.raises(ValueError, match="random"):
        frame_key(FP, w, 32, "random")
    with pytest.raises(ValueError, match="NaN"):
        frame_key(FP, np.full((4, 16), np.nan), 32)
    with pytest.raises(ValueError, match="shape"):
        frame_key(FP, w.ravel(), 32)
    with pytest.raises(ValueError, match="beyond"):
        frame_key(FP, w + 1000, 32)


def test_key_is_stable_across_processes():
    code = ("import numpy as np; from backend.rendering.frame_cache import frame_key; "
            f"print(frame_key({FP!r}, np.arange(6, dtype=np.float32).reshape(2, 3) / 7, 32))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == frame_key(FP, GOLDEN_W, 32)


def test_key_is_pinned():
    # Changing how keys are made orphans every cached frame: bump FORMAT_VERSION when it must change.
    assert frame_key(FP, GOLDEN_W, 32) == "cad0f0dbbd9aa1f0024cee33f20d71cca0467b47e4668f29d78002c8036f95fc"


def test_snapped_code_has_the_same_key_and_is_within_half_a_quantum():
    w = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)
    assert frame_key(FP, snap_w(w), 32) == frame_key(FP, w, 32)
    assert np.abs(snap_w(w) - w).max() <= W_QUANTUM / 2 + 1e-7


# --- the cache on disk --------------------------------------------------------------------------

def test_put_then_get_round_trips_exactly_and_counts(tmp_path):
    cache = FrameCache(tmp_path)
    key = frame_key(FP, on_grid((2, 4)), 8)
    assert cache.get(key) is None and not cache.contains(key)
    cache.put(key, frame(0))
    np.testing.assert_array_equal(cache.get(key), frame(0))
    assert key in cache
    assert (cache.hits, cache.misses, cache.writes) == (1, 1, 1)


def test_path_is_a_png_fanned_out_by_key_prefix(tmp_path):
    import imageio.v3 as iio

    cache = FrameCache(tmp_path)
    key = frame_key(FP, on_grid((2, 4)), 8)
    path = cache.put(key, frame(3))
    assert path == cache.path(key) == tmp_path / key[:2] / f"{key}.png"
    np.testing.assert_array_equal(iio.imread(path), frame(3))
    with pytest.raises(ValueError, match="key"):
        cache.path("../../etc/passwd")


def test_put_rejects_frames_that_are_not_uint8_rgb(tmp_path):
    cache = FrameCache(tmp_path)
    key = frame_key(FP, on_grid((2, 4)), 8)
    with pytest.raises(ValueError, match="uint8"):
        cache.put(key, frame(0).astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        cache.put(key, frame(0)[..., 0])


def test_leftover_temp_file_of_a_killed_writer_is_never_a_hit(tmp_path):
    cache = FrameCache(tmp_path)
    key = frame_key(FP, on_grid((2, 4)), 8)
    cache.path(key).parent.mkdir(parents=True)
    # What a writer killed mid-write leaves behind: the first half of the PNG, in a temp file.
    from backend.rendering.video import encode_png

    (cache.path(key).parent / f".{key}.x1y2.tmp").write_bytes(encode_png(frame(0))[:100])
    assert not cache.contains(key)
    assert cache.get(key) is None and cache.misses == 1


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_frame_is_a_miss_and_is_removed(tmp_path, damage):
    cache = FrameCache(tmp_path)
    key = frame_key(FP, on_grid((2, 4)), 8)
    path = cache.put(key, frame(0, size=64))
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b""}[damage])
    assert not cache.contains(key)
    assert cache.get(key) is None
    assert not path.exists() and cache.misses == 1 and cache.hits == 0


def test_failed_replace_keeps_the_old_frame_and_no_temp_file(tmp_path, monkeypatch):
    cache = FrameCache(tmp_path)
    key = frame_key(FP, on_grid((2, 4)), 8)
    cache.put(key, frame(0))

    def crash(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        cache.put(key, frame(1))
    monkeypatch.undo()
    np.testing.assert_array_equal(cache.get(key), frame(0))
    assert [p.name for p in cache.path(key).parent.iterdir()] == [f"{key}.png"]


def test_prune_removes_least_recently_used_first(tmp_path):
    cache = FrameCache(tmp_path)
    keys = [frame_key(FP, on_grid((2, 4), seed=s), 8) for s in range(3)]
    for age, key in zip([300, 200, 100], keys, strict=True):  # keys[0] written longest ago
        path = cache.put(key, frame(0, size=16))
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime - age))
    cache.get(keys[0])  # reading makes it the most recently used
    size = cache.path(keys[0]).stat().st_size
    assert cache.prune(2 * size) == 1
    assert [k in cache for k in keys] == [True, False, True]
    assert cache.prune(0) == 2 and cache.size_bytes() == 0


def test_prune_never_removes_kept_frames_even_over_the_limit(tmp_path):
    cache = FrameCache(tmp_path)
    keys = [frame_key(FP, on_grid((2, 4), seed=s), 8) for s in range(3)]
    for age, key in zip([300, 200, 100], keys, strict=True):  # keys[0] the least recently used
        path = cache.put(key, frame(0, size=16))
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime - age))
    assert cache.prune(0, keep={keys[0]}) == 2
    assert [k in cache for k in keys] == [True, False, False]


def test_link_sequence_numbers_cached_frames_and_survives_prune(tmp_path, tiny_render):
    ws, target, synth = tiny_render
    cache = FrameCache(tmp_path / "cache")
    frames = render_frames(ws[:3], target, synth, cache)
    keys = [target.key(w) for w in ws[:3]]
    paths = cache.link_sequence(keys, tmp_path / "shot")
    assert [p.name for p in paths] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    cache.prune(0)
    from backend.rendering.video import read_frames

    for a, b in zip(read_frames(tmp_path / "shot"), frames, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="not in the cache"):
        cache.link_sequence(keys, tmp_path / "again")


def test_prune_deletes_only_stale_temp_files(tmp_path):
    cache = FrameCache(tmp_path)
    folder = tmp_path / "ab"
    folder.mkdir()
    stale, fresh = folder / f".{'ab' * 32}.old.tmp", folder / f".{'ab' * 32}.new.tmp"
    for p in (stale, fresh):
        p.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    cache.prune(10**9)
    assert not stale.exists() and fresh.exists()


# --- rendering only what is missing ---------------------------------------------------------------

def test_render_matches_direct_synthesis_in_order_and_in_batches(tmp_path, tiny_render):
    ws, target, synth = tiny_render
    frames = render_frames(ws, target, synth, FrameCache(tmp_path), batch_size=2)
    direct = synth.synthesize(snap_w(ws))
    np.testing.assert_array_equal(np.stack(frames), direct)
    assert synth.batches == [2, 2, 1]


def test_second_render_with_one_code_changed_recomputes_exactly_that_frame(tmp_path, tiny_render):
    ws, target, synth = tiny_render
    cache = FrameCache(tmp_path)
    first = render_frames(ws, target, synth, cache, batch_size=4)
    assert (synth.frames, cache.writes, cache.hits) == (5, 5, 0)

    changed = ws.copy()
    changed[3] += 0.05
    second = render_frames(changed, target, synth, cache, batch_size=4)
    assert (synth.frames, cache.writes, cache.hits) == (6, 6, 4)
    assert synth.batches[-1] == 1
    for i in (0, 1, 2, 4):
        np.testing.assert_array_equal(second[i], first[i])
    assert not np.array_equal(second[3], first[3])


def test_cached_frames_equal_fresh_ones_in_a_new_cache_object(tmp_path, tiny_render):
    ws, target, synth = tiny_render
    ws = snap_w(ws)  # on the grid, so that the noise below cannot reach a rounding edge
    first = render_frames(ws, target, synth, FrameCache(tmp_path))
    again = FrameCache(tmp_path)  # what another process sees
    noise = np.random.default_rng(0).uniform(-1e-6, 1e-6, ws.shape)
    second = render_frames(ws + noise, target, synth, again)
    assert again.hits == 5 and again.writes == 0 and synth.frames == 5
    np.testing.assert_array_equal(np.stack(second), np.stack(first))


def test_a_code_repeated_in_one_render_is_synthesized_once(tmp_path, tiny_render):
    ws, target, synth = tiny_render
    held = np.stack([ws[0]] * 6 + [ws[1]])  # a held pose, then a move
    frames = render_frames(held, target, synth, FrameCache(tmp_path), batch_size=8)
    assert synth.frames == 2 and len(frames) == 7
    np.testing.assert_array_equal(frames[0], frames[5])


def test_iter_frames_streams_and_reports_progress(tmp_path, tiny_render):
    ws, target, synth = tiny_render
    seen: list[int] = []
    it = iter_frames(ws, target, synth, FrameCache(tmp_path), batch_size=1,
                     progress=lambda stage, done, total: seen.append(done))
    next(it)
    assert synth.frames <= 4  # only the first window was rendered
    list(it)
    assert seen[-1] == 5 and seen == sorted(seen)


def test_synthesizer_returning_the_wrong_shape_is_an_error(tmp_path, tiny_render):
    ws, target, _ = tiny_render
    with pytest.raises(ValueError, match="synthesize must return"):
        render_frames(ws, target, lambda b: np.zeros((len(b), 8, 8, 3), np.uint8), FrameCache(tmp_path))


def test_generator_frames_do_not_depend_on_their_batch():
    from backend.model.generator import Generator
    from backend.rendering.frame_cache import generator_synthesizer

    from .conftest import tiny_config

    # Wide enough that batched convolutions round differently and flip a few uint8 values
    # (3 of 49152 on the machine this was written on), unless frames go one by one.
    torch.manual_seed(0)
    G = Generator(tiny_config(img_resolution=64, channel_base=4096, channel_max=128)).eval()
    ws = np.concatenate([G.w_from_seed(s).numpy() for s in range(4)])
    synthesize = generator_synthesizer(G)
    together = synthesize(ws)
    alone = np.concatenate([synthesize(ws[i : i + 1]) for i in range(4)])
    assert np.array_equal(together, alone)


def test_capped_stacking_keeps_the_keys_of_neutral_and_single_channel_frames_and_rekeys_stacked_ones():
    from backend.animation.directions import Direction, DirectionSet
    from backend.animation.timeline import Timeline, iter_latents

    rng = np.random.default_rng(0)
    dirs = DirectionSet(FP, 8, 32, tuple(
        Direction(name, rng.standard_normal(32).astype(np.float32) / np.sqrt(32), layers, 15.0, "class-means",
                  "logistic", None)
        for name, layers in (("joy", (0, 6)), ("anger", (0, 8)), ("head_turn", (0, 4)))))
    # Neutral, joy alone, head turn alone (at -1), then joy with head turn, joy with anger.
    timeline = Timeline(("joy", "anger", "head_turn"), np.arange(5),
                        np.array([[0, 0, 0], [1, 0, 0], [0, 0, -1], [1, 0, 1], [1, 1, 0]], dtype=np.float64),
                        method="constant")
    w = rng.standard_normal((8, 32)).astype(np.float32)
    target = RenderTarget(FP, 8)
    keys = {stacking: [target.key(code) for code in np.concatenate(list(iter_latents(w, timeline, dirs,
                                                                                   stacking=stacking)))]
            for stacking in ("add", "cap")}
    assert keys["cap"][:3] == keys["add"][:3]  # frames with at most one channel: the same files
    assert all(c != a for c, a in zip(keys["cap"][3:], keys["add"][3:], strict=True))  # stacked: new frames
    assert len(set(keys["cap"][3:] + keys["add"][3:])) == 4


def test_linking_a_frame_a_file_already_holds_leaves_no_temporary_file(tmp_path):
    """Several farm workers link the same frame into one folder: rename() between two links to one
    file does nothing, so the temporary name must be removed apart."""
    from backend.rendering.frame_cache import FrameCache

    cache = FrameCache(tmp_path / "cache")
    cache.put("ab" * 32, np.full((4, 4, 3), 7, np.uint8))
    for _ in range(2):
        cache.link_sequence(["ab" * 32], tmp_path / "seq")
    assert sorted(p.name for p in (tmp_path / "seq").iterdir()) == ["frame_00000.png"]
