"""CUDA paths: run where a CUDA device is present, skipped with the reason elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model.checkpoints import load_generator
from backend.model.generator import synthesize_frames
from backend.rendering.frame_cache import FrameCache, key_fingerprint
from backend.rendering.render import render_frames_cached

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

FP16_FIXTURE = ROOT / "tests" / "data" / "upstream" / "sg2ada-1024-slim.pkl"


def test_frames_on_cuda_are_bit_identical_run_to_run_and_close_to_the_cpu():
    G_cpu, _ = load_generator(ROOT / "models" / "default" / "generator.safetensors")
    G, _ = load_generator(ROOT / "models" / "default" / "generator.safetensors", device="cuda")
    ws = np.concatenate([G_cpu.w_from_seed(s, truncation_psi=0.7).numpy() for s in range(3)])
    a, b = synthesize_frames(G, ws), synthesize_frames(G, ws)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - synthesize_frames(G_cpu, ws).astype(int)).max() <= 2


def test_fp16_layers_run_in_half_precision_on_cuda():
    G, _ = load_generator(FP16_FIXTURE, device="cuda")
    ws = G.w_from_seed(0, truncation_psi=0.7)
    full = G.synthesize(ws)
    G32, _ = load_generator(FP16_FIXTURE, device="cuda")
    with torch.inference_mode():
        fp32 = G32.synthesis(ws, force_fp32=True)
    assert torch.isfinite(full).all() and 0 < float((full - fp32).abs().max()) < 0.1


def test_cuda_frames_are_cached_apart_from_cpu_frames(tmp_path):
    G, info = load_generator(ROOT / "models" / "default" / "generator.safetensors", device="cuda")
    cache = FrameCache(tmp_path)
    list(render_frames_cached(G, info.fingerprint, G.w_from_seed(0).cpu().numpy(), cache))
    assert key_fingerprint(info.fingerprint, "cuda") != info.fingerprint and cache.writes == 1
