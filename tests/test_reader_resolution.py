"""Learning and inverting at the readers' resolution: synthesis stops at the lowest block that
still gives the reader its pixels (learn-directions), or at a coarse block for all but the last
inversion steps; results agree with the full-resolution path, and a generator no bigger than
the reader's size runs exactly as before."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from backend.animation.channels import CHANNEL_NAMES
from backend.cli import build_parser
from backend.cli.common import draw_size
from backend.learning.self_labelled import (
    LearnSettings,
    SampleKey,
    learn_generator_directions,
    reading_agreement,
)
from backend.model.generator import Generator
from backend.photos.face_code import FINE_SHARE, FaceFeatures, coarse_resolution, invert_aligned
from backend.photos.inversion import REFRESH_STEPS, invert_batch, stop_resolution, w_statistics

from .conftest import backend_cli, tiny_config, with_mean_w_avg
from .test_generator_directions import (
    DEFAULT_MODEL,
    FEATURES_PROBE,
    FINGERPRINT,
    PATCH,
    PlantedGenerator,
    planted_reader,
    unit,
)

pytestmark = pytest.mark.usefixtures("one_thread")


class SizeSpy(torch.nn.Module):
    """A synthesis network that records the side of every image it returns."""

    def __init__(self, inner: torch.nn.Module, resolutions: tuple[int, ...]) -> None:
        super().__init__()
        self.inner, self.resolutions, self.sizes = inner, resolutions, []

    def preview_resolutions(self) -> tuple[int, ...]:
        return self.resolutions

    def forward(self, ws: torch.Tensor, **kwargs) -> torch.Tensor:
        img = self.inner(ws, **kwargs)
        self.sizes.append(img.shape[-1])
        return img


def spied(G: Generator) -> SizeSpy:
    inner = G.synthesis
    real = inner.inner if hasattr(inner, "inner") else inner  # the planted generator wraps a StyleGAN2
    G.synthesis = SizeSpy(inner, real.preview_resolutions())
    return G.synthesis


@pytest.fixture
def planted(one_thread):
    rng = np.random.default_rng(7)
    u = unit(rng.standard_normal(32))
    v = rng.standard_normal(32)
    v = unit(v - (v @ u) * u)
    G = PlantedGenerator(u, v).eval().requires_grad_(False)
    return G, spied(G)


@pytest.fixture
def tiny(one_thread):
    torch.manual_seed(0)
    G = with_mean_w_avg(Generator(tiny_config())).eval()
    return G, spied(G)


SETTINGS = LearnSettings(samples=128, faces=2, batch=16)


def test_stop_resolution_is_the_lowest_block_at_or_above_the_size(tiny):
    G, _ = tiny  # 32 px: blocks 4, 8, 16, 32
    assert [stop_resolution(G, s) for s in (1, 8, 9, 16, 17)] == [4, 8, 16, 16, None]
    assert stop_resolution(G, 32) is None and stop_resolution(G, 256) is None and stop_resolution(G, None) is None
    with pytest.raises(ValueError, match="positive whole number"):
        stop_resolution(G, 0)
    # Inversion's coarse steps only where they draw a quarter of the side or less.
    assert [coarse_resolution(G, s) for s in (4, 8, 9, None)] == [4, 8, None, None]


def test_learning_draws_every_face_at_the_readers_size_and_finds_the_same_directions(planted, tmp_path):
    G, spy = planted
    low = learn_generator_directions(G, FINGERPRINT, planted_reader, "planted", tmp_path / "low",
                                     replace(SETTINGS, draw_size=12))
    assert spy.sizes and set(spy.sizes) == {16}  # sampling and calibration alike: the lowest block >= 12 px
    spy.sizes.clear()
    full = learn_generator_directions(G, FINGERPRINT, planted_reader, "planted", tmp_path / "full", SETTINGS)
    assert set(spy.sizes) == {32}
    assert low.directions.names == full.directions.names == ("joy", "head_turn")
    for a, b in zip(low.directions, full.directions):
        assert float(a.vector @ b.vector) >= 0.98
        assert a.strength == pytest.approx(b.strength, rel=0.05)
    # Samples drawn smaller are other samples: stored apart, never mixed with full-frame ones.
    assert sorted(p.name for p in (tmp_path / "low").iterdir()) != sorted(p.name for p in (tmp_path / "full").iterdir())


def test_the_check_reads_the_first_chunk_both_ways_and_the_runs_reuse_it(planted, tmp_path):
    G, spy = planted
    settings = replace(SETTINGS, draw_size=12)
    check = reading_agreement(G, FINGERPRINT, planted_reader, "planted", tmp_path, settings)
    assert sorted(set(spy.sizes)) == [16, 32] and (check.resolution, check.full_resolution, check.faces) == (16, 32, 64)
    # The planted patch is drawn alike at every size: the same ranks. The other channels read 0 throughout.
    assert check.spearman["joy"] > 0.99 and check.spearman["head_turn"] > 0.99 and check.below() == {}
    assert all(math.isnan(r) for n, r in check.spearman.items() if n not in ("joy", "head_turn"))
    low = learn_generator_directions(G, FINGERPRINT, planted_reader, "planted", tmp_path, settings)
    full = learn_generator_directions(G, FINGERPRINT, planted_reader, "planted", tmp_path, SETTINGS)
    assert low.made == full.made == SETTINGS.samples - 64  # the check's chunk, made once for each
    # Drawn full size anyway: nothing to check.
    assert reading_agreement(G, FINGERPRINT, planted_reader, "planted", tmp_path,
                             replace(SETTINGS, draw_size=32)) is None


class SmallDrawsAnother(torch.nn.Module):
    """The planted synthesis, but a stopped (smaller) image shows another direction in the joy patch."""

    def __init__(self, planted: torch.nn.Module, other: torch.Tensor) -> None:
        super().__init__()
        self.planted, self.other = planted, other

    def preview_resolutions(self) -> tuple[int, ...]:
        return self.planted.inner.preview_resolutions()

    def forward(self, ws: torch.Tensor, **kwargs) -> torch.Tensor:
        img = self.planted(ws, **kwargs)
        if img.shape[-1] < 32:
            img = img.clone()
            img[:, 0, :PATCH, :PATCH] = torch.tanh((ws[:, 0] - self.planted.w_avg) @ self.other
                                                   / self.planted.spread)[:, None, None]
        return img


def test_the_check_finds_a_channel_the_stopped_image_draws_otherwise(planted, tmp_path):
    G, _ = planted
    other = unit(np.random.default_rng(3).standard_normal(32)).astype(np.float32)
    G.synthesis = SmallDrawsAnother(G.synthesis.inner, torch.from_numpy(other))
    check = reading_agreement(G, FINGERPRINT, planted_reader, "planted", tmp_path, replace(SETTINGS, draw_size=12))
    assert abs(check.spearman["joy"]) < 0.5 and check.spearman["head_turn"] > 0.99
    assert set(check.below()) == {"joy"}


@pytest.mark.slow
def test_learn_directions_at_the_readers_size_reports_and_warns_how_its_readings_rank(tmp_path):
    out = tmp_path / "d.json"
    r = backend_cli("learn-directions", "--model", DEFAULT_MODEL, "--out", out, "--samples", "64", "--faces", "1",
                    "--device", "cpu", "--reader", f"probe:{FEATURES_PROBE}", "--reader-resolution")
    assert r.returncode == 0, r.stderr
    report = json.loads(out.with_name("d.report.json").read_text())
    check = report["reader_resolution_check"]
    assert (check["resolution"], check["full_resolution"], check["faces"]) == (64, 128, 64)
    assert list(check["spearman"]) == list(CHANNEL_NAMES)
    # The default model's 128 px block draws much of the expression (docs/speed.md): the probe's
    # readings of its stopped 64 px faces rank unlike the full frame's (measured 0.52-0.91).
    low = [n for n, v in check["spearman"].items() if v < 0.9]
    assert "warning: at 64 px" in r.stderr and low and all(n in r.stderr.split("warning:")[1] for n in low)
    assert "readings of 64 faces drawn at 64 px against the same faces at 128 px" in r.stderr


def test_a_generator_no_bigger_than_the_reader_learns_exactly_as_before(planted, tmp_path):
    G, spy = planted
    before = learn_generator_directions(G, FINGERPRINT, planted_reader, "planted", tmp_path / "a", SETTINGS)
    after = learn_generator_directions(G, FINGERPRINT, planted_reader, "planted", tmp_path / "b",
                                       replace(SETTINGS, draw_size=32))
    assert set(spy.sizes) == {32}
    for a, b in zip(before.directions, after.directions):
        assert a.vector.tobytes() == b.vector.tobytes() and (a.strength, a.layers) == (b.strength, b.layers)
    # ... and finds the samples stored before the resolution was part of the key.
    key = SampleKey(FINGERPRINT, "planted", 1.0, 0)
    old = {k: v for k, v in asdict(key).items() if k != "resolution"}
    assert key.folder == "samples-" + hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert (tmp_path / "b" / key.folder).is_dir() and SampleKey(FINGERPRINT, "planted", 1.0, 0, resolution=16).folder != key.folder


def drawn(steps: int, fine: int, coarse: int, full: int = 32) -> list[int]:
    """The sides of the images an inversion draws: each coarse step's, with a full frame and a
    coarse one (no gradients) every REFRESH_STEPS before it; the fine steps'; the result."""
    sizes = []
    for step in range(steps - fine):
        sizes += ([full, coarse] if step % REFRESH_STEPS == 0 else []) + [coarse]
    return sizes + [full] * fine + [full]


def test_inversion_renders_coarse_steps_small_and_agrees_with_full_resolution(tiny):
    G, spy = tiny
    w_true = G.w_from_seed(1, truncation_psi=0.3)
    with torch.no_grad():
        target = G.synthesis(w_true)
    spy.sizes.clear()
    coarse = invert_batch(G, target, steps=70, coarse=16, fine_steps=35)
    assert spy.sizes == drawn(70, 35, 16)
    full = invert_batch(G, target, steps=70)
    assert coarse.images.shape == full.images.shape == (1, 32, 32, 3)
    _, _, spread = w_statistics(G)
    # Measured: W error 0.089 (coarse to fine) and 0.130 (full) of W's spread, pixel error 2.88 and 3.43.
    for r in (coarse, full):
        assert np.linalg.norm(r.w_plus[0, 0] - w_true[0, 0].numpy()) / spread < 0.2
    assert coarse.pixel_mae[0] <= 1.1 * full.pixel_mae[0] + 0.2  # 0..255 units


def test_inversion_at_the_generators_own_size_is_unchanged(tiny):
    G, spy = tiny
    with torch.no_grad():
        target = G.synthesis(G.w_from_seed(2, truncation_psi=0.3))
    a = invert_batch(G, target, steps=15)
    b = invert_batch(G, target, steps=15, coarse=32, fine_steps=5)
    assert set(spy.sizes) == {32}
    assert a.w_plus.tobytes() == b.w_plus.tobytes() and np.array_equal(a.loss_history, b.loss_history)
    with pytest.raises(ValueError, match="coarse must be one of"):
        invert_batch(G, target, steps=1, coarse=12)


def test_photo_inversion_keeps_the_last_share_of_w_plus_steps_at_full_resolution(tiny):
    G, spy = tiny
    with torch.no_grad():
        photo = ((G.synthesis(G.w_from_seed(3, truncation_psi=0.3))[0].permute(1, 2, 0) * 127.5 + 128)
                 .clamp(0, 255).to(torch.uint8).numpy())
    spy.sizes.clear()
    result = invert_aligned(G, photo, steps=30, coarse=8)
    fine = math.ceil(15 * FINE_SHARE)
    assert spy.sizes == drawn(30, 0, 8) + drawn(15, fine, 8)
    assert result.coarse == 8 and result.reconstruction.shape == (32, 32, 3)


def test_reader_resolution_is_asked_for():
    parser = build_parser()
    command = ["learn-directions", "--out", "d.json"]
    assert draw_size(parser.parse_args(command), 256) is None
    assert draw_size(parser.parse_args(command + ["--reader-resolution"]), 256) == 256
    assert not parser.parse_args(["invert", "p.png", "--out", "c.npz"]).coarse_to_fine


def test_face_features_crop_the_same_box_of_a_coarse_image():
    # The box is in pixels of the full frame; a coarse step's smaller image has it scaled.
    coarse_noise = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x = torch.nn.functional.interpolate(coarse_noise, size=(32, 32), mode="bilinear", align_corners=False)  # smooth
    small = torch.nn.functional.interpolate(x, size=(16, 16), mode="area")
    faces = SimpleNamespace(box=(8, 4, 24, 20), size=32)
    full_crop, coarse_crop = FaceFeatures.crop(faces, x, 8), FaceFeatures.crop(faces, small, 8)
    assert coarse_crop.shape == full_crop.shape == (1, 3, 8, 8)
    assert (coarse_crop - full_crop).abs().max() < 0.04  # measured 0.022 (crop values span ~2)
    moved = FaceFeatures.crop(SimpleNamespace(box=(0, 0, 16, 16), size=32), small, 8)
    assert (moved - full_crop).abs().mean() > 0.1  # the unscaled box would be another part of the face
