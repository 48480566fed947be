"""The StyleGAN2 generator: shapes, determinism, truncation, noise, fp16 layers, bad input."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from backend.model.generator import (Generator, GeneratorConfig, images_from_uint8, images_to_uint8,
                                     synthesize_frames, truncate)
from backend.model.ops import modulated_conv2d, setup_filter, upfirdn2d, upsample2d

from .conftest import ROOT, tiny_config


@pytest.mark.parametrize("res", [4, 8, 32, 256, 1024])
def test_num_ws_is_two_log2_res_minus_two(res):
    cfg = GeneratorConfig(img_resolution=res)
    assert cfg.num_ws == 2 * int(np.log2(res)) - 2


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_mapping_and_synthesis_shapes(architecture):
    G = Generator(tiny_config(architecture=architecture)).eval()
    ws = G.mapping(torch.randn(3, 32))
    assert ws.shape == (3, G.num_ws, 32)
    img = G.synthesize(ws)
    assert img.shape == (3, 3, 32, 32) and img.dtype == torch.float32
    assert torch.isfinite(img).all()


def test_same_w_gives_bit_identical_images_across_calls(tiny_G):
    ws = tiny_G.w_from_seed(7, truncation_psi=0.7)
    a, b = tiny_G.synthesize(ws), tiny_G.synthesize(ws)
    assert torch.equal(a, b)


def test_same_seed_gives_bit_identical_images_across_processes(tiny_G, tmp_path):
    from backend.model.checkpoints import save_generator

    path = save_generator(tiny_G, tmp_path / "g.safetensors")
    code = textwrap.dedent(f"""
        import hashlib, sys
        sys.path.insert(0, {str(ROOT)!r})
        from backend.model.checkpoints import load_generator
        G, _ = load_generator({str(path)!r})
        img = G.synthesize(G.w_from_seed(11, truncation_psi=0.7))
        print(hashlib.sha256(img.numpy().tobytes()).hexdigest())
    """)
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
               for _ in range(2)}
    here = hashlib.sha256(tiny_G.synthesize(tiny_G.w_from_seed(11, truncation_psi=0.7)).numpy().tobytes()).hexdigest()
    assert digests == {here}


def test_seed_to_z_matches_numpy_randomstate(tiny_G):
    z = tiny_G.z_from_seed(5)
    expected = np.random.RandomState(5).randn(1, 32).astype(np.float32)
    assert np.array_equal(z.numpy(), expected)


def test_truncation_pulls_rows_toward_w_avg(tiny_G):
    z = torch.randn(2, 32)
    full = tiny_G.mapping(z, truncation_psi=1.0)
    zero = tiny_G.mapping(z, truncation_psi=0.0)
    half = tiny_G.mapping(z, truncation_psi=0.5)
    w_avg = tiny_G.w_avg
    assert torch.allclose(zero, w_avg.expand_as(zero))
    assert torch.allclose(half, w_avg + 0.5 * (full - w_avg), atol=1e-6)
    cut = tiny_G.mapping(z, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.allclose(cut[:, :3], half[:, :3]) and torch.equal(cut[:, 3:], full[:, 3:])


def test_truncate_leaves_input_untouched():
    ws = torch.randn(1, 4, 8)
    before = ws.clone()
    truncate(ws, torch.zeros(8), 0.5, cutoff=2)
    assert torch.equal(ws, before)


def test_constant_noise_is_fixed_and_random_noise_varies(tiny_G):
    ws = tiny_G.w_from_seed(1)
    const = [tiny_G.synthesis(ws, noise_mode="const") for _ in range(2)]
    assert torch.equal(*const)
    rand = [tiny_G.synthesis(ws, noise_mode="random") for _ in range(2)]
    assert not torch.equal(*rand)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(tiny_G.synthesis(ws, noise_mode="random", generator=g1),
                       tiny_G.synthesis(ws, noise_mode="random", generator=g2))
    assert not torch.equal(tiny_G.synthesis(ws, noise_mode="none"), const[0])


def test_fused_and_unfused_modulated_conv_agree():
    torch.manual_seed(0)
    x, w, s = torch.randn(3, 8, 6, 6), torch.randn(5, 8, 3, 3), torch.randn(3, 8)
    f = setup_filter([1, 3, 3, 1])
    for up in (1, 2):
        a = modulated_conv2d(x, w, s, up=up, padding=1, resample_filter=f, flip_weight=(up == 1), fused=True)
        b = modulated_conv2d(x, w, s, up=up, padding=1, resample_filter=f, flip_weight=(up == 1), fused=False)
        assert a.shape == b.shape == (3, 5, 6 * up, 6 * up)
        assert torch.allclose(a, b, atol=1e-5)


def test_upsample2d_keeps_a_constant_image_constant_inside():
    img = torch.ones(1, 1, 8, 8)
    up = upsample2d(img, setup_filter([1, 3, 3, 1]))
    assert up.shape == (1, 1, 16, 16)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12), atol=1e-6)


def test_upfirdn2d_identity_filter_pads_and_crops():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    one = torch.ones(1, 1)
    assert torch.equal(upfirdn2d(x, one, padding=(1, 1, 0, 0))[..., 1:-1], x)
    assert torch.equal(upfirdn2d(x, one, padding=(-1, -1, -1, -1)), x[..., 1:-1, 1:-1])


def test_fp16_layers_run_in_fp32_on_cpu():
    torch.manual_seed(0)
    G16 = Generator(tiny_config(num_fp16_res=2, conv_clamp=256.0)).eval()
    G32 = Generator(tiny_config(num_fp16_res=0, conv_clamp=256.0)).eval()
    G32.load_state_dict(G16.state_dict())
    ws = G16.w_from_seed(0)
    assert G16.synthesis.b32.use_fp16 and not G32.synthesis.b32.use_fp16
    assert torch.equal(G16.synthesize(ws), G32.synthesize(ws))


def test_conv_clamp_bounds_layer_outputs():
    torch.manual_seed(0)
    G = Generator(tiny_config(conv_clamp=0.05)).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(5)
    img = G.synthesize(G.w_from_seed(0))
    # Each toRGB output is clamped to ±0.05 and the skip sum over 4 blocks upsamples with a
    # unit-gain filter, so the image stays within a few times the clamp.
    assert img.abs().max() <= 0.05 * 4 * 1.5


def test_conditional_generator_needs_and_uses_c():
    G = Generator(tiny_config(c_dim=4)).eval()
    z = torch.randn(1, 32)
    with pytest.raises(ValueError, match="c is required"):
        G.mapping(z)
    a = G.mapping(z, torch.eye(4)[:1])
    b = G.mapping(z, torch.eye(4)[1:2])
    assert not torch.allclose(a, b)


def test_wrong_w_shape_is_a_clear_error(tiny_G):
    with pytest.raises(ValueError, match=r"ws must have shape \(B, 8, 32\), got \(1, 7, 32\)"):
        tiny_G.synthesize(torch.zeros(1, 7, 32))


@pytest.mark.parametrize("bad", [dict(img_resolution=48), dict(architecture="fancy"), dict(activation="gelu"),
                                 dict(mapping_layers=0)])
def test_invalid_config_is_rejected(bad):
    with pytest.raises(ValueError):
        GeneratorConfig(**bad)


def test_config_dict_round_trip():
    cfg = tiny_config(conv_clamp=256.0, architecture="resnet")
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown generator config keys: bogus"):
        GeneratorConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_images_to_uint8_rounds_like_nvidia():
    img = torch.tensor([-1.0, 0.0, 1.0, 2.0]).reshape(1, 1, 1, 4).expand(1, 3, 1, 4)
    out = images_to_uint8(img)
    assert out.shape == (1, 1, 4, 3) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [0, 128, 255, 255]


def test_stopping_at_the_last_block_is_the_full_image(tiny_G):
    ws = tiny_G.w_from_seed(3)
    assert torch.equal(tiny_G.synthesize(ws, stop_at=32), tiny_G.synthesize(ws))


def test_low_resolution_preview_is_the_skip_image_built_so_far(tiny_G):
    ws = tiny_G.w_from_seed(4)
    preview = tiny_G.synthesize(ws, stop_at=8)
    assert preview.shape == (1, 3, 8, 8)
    # The later blocks only add detail on top of the upsampled preview: removing their toRGB
    # outputs must give the preview back, upsampled.
    from backend.model.ops import upsample2d

    G = tiny_G
    with torch.no_grad():
        x = img = None
        w_idx = 0
        for block in G.synthesis.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, new = block(x, img, block_ws, force_fp32=True)
            img = new if block.resolution <= 8 else upsample2d(img, block.resample_filter)
    assert torch.allclose(img, upsample2d(upsample2d(preview, G.synthesis.b16.resample_filter),
                                          G.synthesis.b32.resample_filter), atol=1e-5)


def test_preview_resolution_is_the_cheapest_block_at_least_that_big(tiny_G):
    assert [tiny_G.preview_resolution(s) for s in (3, 8, 9, 32, 64)] == [4, 8, 16, 32, 32]
    orig = Generator(tiny_config(architecture="orig"))
    assert orig.preview_resolution(8) == 32
    with pytest.raises(ValueError, match=r"stop_at must be one of \(32,\)"):
        orig.synthesize(orig.w_from_seed(0), stop_at=8)


def test_images_from_uint8_is_the_exact_inverse_of_images_to_uint8():
    u = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1).repeat(3, axis=3)
    x = images_from_uint8(u)
    assert x.shape == (1, 3, 16, 16) and x.dtype == torch.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert np.array_equal(images_to_uint8(x), u)


def test_probe_config_refuses_unknown_keys_like_the_generator_config():
    from backend.readers.probe import ProbeConfig

    with pytest.raises(ValueError, match="unknown probe config keys: bogus"):
        ProbeConfig.from_dict({"seed": 1, "bogus": 2})


@pytest.mark.parametrize("overrides", [dict(), dict(architecture="resnet"), dict(architecture="orig"),
                                       dict(c_dim=3, embed_features=16), dict(use_noise=False),
                                       dict(mapping_layer_features=24, mapping_layers=3, kernel_size=1),
                                       dict(resample_filter=(1.0, 2.0, 1.0), img_channels=1)])
def test_state_shapes_are_the_built_generators_shapes(overrides):
    from backend.model.generator import state_shapes

    cfg = tiny_config(**overrides)
    assert state_shapes(cfg) == {k: tuple(v.shape) for k, v in Generator(cfg).state_dict().items()}


@pytest.mark.parametrize("bad", [dict(mapping_layers=4000), dict(img_resolution=2**20), dict(z_dim=10**6),
                                 dict(channel_max=65536), dict(mapping_layers="8"), dict(mapping_lr_multiplier=float("nan")),
                                 dict(resample_filter=(1.0,) * 100), dict(resample_filter=(1.0, -1.0)),
                                 dict(use_noise=1), dict(img_resolution=True)])
def test_config_sizes_and_numbers_are_bounded(bad):
    with pytest.raises(ValueError):
        GeneratorConfig(**bad)


def test_a_batch_is_capped_by_its_largest_layer(tiny_G, monkeypatch):
    """A 1024 px batch of 16 made 2 GB layer outputs (14.6 GB peak, 1.7x slower a face than one at
    a time): synthesize_frames draws fewer at once where a layer would outgrow BATCH_LAYER_BYTES."""
    from backend.model import generator

    cfg = tiny_G.config
    largest = max(cfg.channels(r) * (r + cfg.kernel_size) ** 2 * 4 for r in cfg.block_resolutions)
    assert generator.frames_per_call(cfg) == generator.BATCH_LAYER_BYTES // largest
    assert generator.frames_per_call(GeneratorConfig(img_resolution=1024)) == 1
    assert generator.frames_per_call(GeneratorConfig(img_resolution=1024), stop_at=64) > 1
    ws = tiny_G.mapping(torch.randn(6, cfg.z_dim)).detach().numpy()
    one_at_a_time = synthesize_frames(tiny_G, ws, 1)
    calls = []
    real = tiny_G.synthesize
    monkeypatch.setattr(tiny_G, "synthesize", lambda w, **kw: calls.append(len(w)) or real(w, **kw))
    monkeypatch.setattr(generator, "BATCH_LAYER_BYTES", 2 * largest + 1)
    assert np.array_equal(synthesize_frames(tiny_G, ws, 16), synthesize_frames(tiny_G, ws, 2))
    assert calls == [2, 2, 2, 2, 2, 2]
    monkeypatch.setattr(generator, "BATCH_LAYER_BYTES", 1)
    assert np.array_equal(synthesize_frames(tiny_G, ws, 16), one_at_a_time)
