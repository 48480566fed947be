"""NVIDIA and rosinality checkpoints load and reproduce their own code's outputs to 1e-4.

The checkpoints and reference outputs in tests/data/upstream/ were written by the upstream
projects' own code (see the README there); nothing here re-implements that code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from backend.model.checkpoints import CheckpointError, fingerprint, load_generator, save_generator

from .conftest import ROOT

UPSTREAM = ROOT / "tests" / "data" / "upstream"
MANIFEST = {e["file"]: e for e in json.loads((UPSTREAM / "MANIFEST.json").read_text())}
NVIDIA = ["sg2ada-32.pkl", "sg2ada-128-cond.pkl", "sg3-stylegan2-64.pkl"]
ROSINALITY = ["rosinality-32-slim.pt", "rosinality-64-slim-cm2-legacy.pt"]
TOL = 1e-4  # images in [-1, 1]
WS_TOL = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")


def _reference(name: str) -> dict[str, torch.Tensor]:
    with np.load(UPSTREAM / name.replace(".pkl", ".ref.npz").replace(".pt", ".ref.npz")) as ref:
        return {k: torch.from_numpy(ref[k]) for k in ref.files}


def _labels(ref: dict[str, torch.Tensor]) -> torch.Tensor | None:
    c = ref.get("c")
    return c if c is not None and c.shape[1] > 0 else None


def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


@pytest.mark.parametrize("name", NVIDIA)
def test_nvidia_network_matches_nvidia_outputs(name):
    G, info = load_generator(UPSTREAM / name)
    assert info.format == "nvidia-pkl"
    entry = MANIFEST[name]
    assert (info.resolution, info.num_ws, info.w_dim) == (entry["resolution"], entry["num_ws"], entry["w_dim"])
    assert (G.config.c_dim, G.config.mapping_layers, G.config.num_fp16_res) == (
        entry["c_dim"], entry["mapping_layers"], entry["num_fp16_res"])
    ref = _reference(name)
    z, c = ref["z"], _labels(ref)
    with torch.no_grad():
        for psi, tag in ((1.0, "psi1"), (0.7, "psi07")):
            ws = G.mapping(z, c, truncation_psi=psi)
            assert _max_abs(ws, ref[f"ws_{tag}"]) <= WS_TOL
            img = G.synthesize(ref[f"ws_{tag}"])
            assert _max_abs(img, ref[f"img_{tag}"]) <= TOL, tag
            # A batch of one takes the fused path, as NVIDIA's code does at batch 1.
            assert _max_abs(G.synthesize(ref[f"ws_{tag}"][:1]), ref[f"img_{tag}"][:1]) <= TOL


def test_conditional_network_uses_its_labels():
    G, _ = load_generator(UPSTREAM / "sg2ada-128-cond.pkl")
    ref = _reference("sg2ada-128-cond.pkl")
    with torch.no_grad():
        other = G.mapping(ref["z"], ref["c"].roll(1, dims=0))
    assert _max_abs(other, ref["ws_psi1"]) > 1e-2
    with pytest.raises(Exception, match="c"):
        G.mapping(ref["z"], None)


def test_truncation_cutoff_truncates_only_the_first_rows():
    # NVIDIA's truncation_cutoff=k truncates rows [:k] and leaves the rest at psi 1: both halves
    # come from the upstream reference codes.
    G, _ = load_generator(UPSTREAM / "sg2ada-32.pkl")
    ref = _reference("sg2ada-32.pkl")
    with torch.no_grad():
        ws = G.mapping(ref["z"], truncation_psi=0.7, truncation_cutoff=3)
    expected = torch.cat([ref["ws_psi07"][:, :3], ref["ws_psi1"][:, 3:]], dim=1)
    assert _max_abs(ws, expected) <= WS_TOL


def test_snapshot_keeps_only_the_generator():
    # A training snapshot also holds D, augment_pipe and training_set_kwargs; none of them may
    # end up in (or break) the generator.
    G, _ = load_generator(UPSTREAM / "sg2ada-32.pkl")
    assert not any(k.startswith(("D.", "augment")) for k in G.state_dict())


@pytest.mark.slow
def test_nvidia_1024_fp16_network_matches():
    """18 W+ rows, fp16 blocks with conv clamping, 1024 px: the FFHQ path with few channels."""
    G, info = load_generator(UPSTREAM / "sg2ada-1024-slim.pkl")
    assert (info.resolution, info.num_ws, G.config.num_fp16_res, G.config.conv_clamp) == (1024, 18, 4, 256)
    with np.load(UPSTREAM / "sg2ada-1024-slim.ref.npz") as ref:
        z, ws_ref = torch.from_numpy(ref["z"]), torch.from_numpy(ref["ws_psi07"])
        pooled, patches, origins = ref["img_psi07_pool4"], ref["img_psi07_patches"], ref["patch_origins"]
    with torch.no_grad():
        assert _max_abs(G.mapping(z, truncation_psi=0.7), ws_ref) <= WS_TOL
        img = G.synthesize(ws_ref)
    assert _max_abs(torch.nn.functional.avg_pool2d(img.double(), 4).float(), torch.from_numpy(pooled)) <= TOL
    size = patches.shape[-1]
    for patch, (y, x) in zip(patches, origins, strict=True):
        assert _max_abs(img[0, :, y:y + size, x:x + size], torch.from_numpy(patch)) <= TOL


@pytest.mark.parametrize("name", ROSINALITY)
def test_rosinality_checkpoint_matches_rosinality_outputs(name):
    G, info = load_generator(UPSTREAM / name)
    entry = MANIFEST[name]
    assert info.format == "rosinality"
    assert (info.resolution, info.w_dim, G.config.mapping_layers) == (
        entry["resolution"], entry["style_dim"], entry["n_mlp"])
    ref = _reference(name)
    with torch.no_grad():
        for psi, tag in ((1.0, "psi1"), (0.7, "psi07")):
            ws = G.mapping(ref["z"], truncation_psi=psi)
            w_ref = ref[f"w_{tag}"]
            assert _max_abs(ws, w_ref) <= WS_TOL
            assert _max_abs(G.synthesize(w_ref), ref[f"img_{tag}"]) <= TOL, tag


@pytest.mark.parametrize("name", [NVIDIA[0], ROSINALITY[1]])
def test_conversion_to_our_format_keeps_outputs_and_fingerprint(tmp_path, name):
    G, info = load_generator(UPSTREAM / name)
    G2, info2 = load_generator(save_generator(G, tmp_path / "ours.safetensors"))
    assert info2.fingerprint == info.fingerprint == fingerprint(G)
    ref = _reference(name)
    ws = ref.get("ws_psi07", ref.get("w_psi07"))
    with torch.no_grad():
        assert _max_abs(G2.synthesize(ws), ref["img_psi07"]) <= TOL


def test_nvidia_pickle_loads_without_nvidia_code_or_running_it():
    path = UPSTREAM / "sg2ada-32.pkl"
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import builtins
        real_exec, real_compile, real_eval = builtins.exec, builtins.compile, builtins.eval
        def guard(*a, **k):
            raise AssertionError("code was compiled or executed while loading")
        from backend.model.checkpoints import load_generator
        load_generator({str(path)!r})  # first load: torch's own lazy imports happen here
        builtins.exec = builtins.compile = builtins.eval = guard
        G, info = load_generator({str(path)!r})
        builtins.exec, builtins.compile, builtins.eval = real_exec, real_compile, real_eval
        names = [m for m in sys.modules if m.split('.')[0] in ('torch_utils', 'dnnlib', 'training')]
        print(info.format, info.num_ws, names)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "nvidia-pkl 8 []"


@pytest.mark.parametrize("name", [NVIDIA[0], ROSINALITY[0], ROSINALITY[1]])
def test_truncated_upstream_files_fail_cleanly(tmp_path, name):
    data = (UPSTREAM / name).read_bytes()
    for keep in (10, len(data) // 3, len(data) - 100):
        path = tmp_path / name
        path.write_bytes(data[:keep])
        with pytest.raises(CheckpointError) as e:
            load_generator(path)
        assert str(path) in str(e.value)


def test_stylegan3_networks_are_refused_clearly(tmp_path):
    # A StyleGAN3 G has synthesis.input; build the record shape without NVIDIA's SG3 code.
    import backend.model.checkpoints as ck
    from backend.model.safe_pickle import PersistentRecord

    sg3 = PersistentRecord("Generator", {"_init_kwargs": {}, "_modules": {
        "synthesis": PersistentRecord("SynthesisNetwork", {"_modules": {"input": PersistentRecord("SynthesisInput", {})}})}})
    with pytest.raises(CheckpointError, match="StyleGAN3"):
        ck._from_nvidia(tmp_path / "sg3.pkl", {"G_ema": sg3})
