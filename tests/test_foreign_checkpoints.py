"""NVIDIA and rosinality checkpoints load and reproduce their own code's outputs to 1e-4.

The files are written by tests/reference/, an independent re-implementation of both projects
(class names, pickle wire format, parameter layout and maths), never by our own backend.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from backend.checkpoints import CheckpointError, fingerprint, load_generator, save_generator

from .conftest import ROOT
from .reference import fixtures as fx

TOL = 1e-4


def _z(n: int, dim: int, seed: int = 123) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def _assert_matches_nvidia(path, ref, *, c=None, cutoff=None):
    G, info = load_generator(path)
    assert info.format == "nvidia-pkl"
    z = _z(3, G.config.z_dim)
    for psi in (1.0, 0.7):
        ws_ref = fx.nvidia_reference_ws(ref, z, c=c, truncation_psi=psi, truncation_cutoff=cutoff)
        ws = G.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
        assert (ws - ws_ref).abs().max() <= 1e-5
        img_ref = fx.nvidia_reference_images(ref, z, c=c, truncation_psi=psi, truncation_cutoff=cutoff)
        img = G.synthesize(ws)
        assert img.shape == img_ref.shape
        assert (img - img_ref).abs().max() <= TOL, f"psi={psi}: max abs {(img - img_ref).abs().max():.2e}"
        # Batch of one takes the fused path, as NVIDIA's code does at batch 1.
        assert (G.synthesize(ws[:1]) - img_ref[:1]).abs().max() <= TOL
    return G, info


@pytest.mark.parametrize("name, kwargs", [
    ("train.py defaults: fp16 blocks, clamp 256", {}),
    ("tight clamp", dict(synthesis_kwargs=dict(channel_base=512, channel_max=32, num_fp16_res=2, conv_clamp=0.5))),
    ("resnet", dict(synthesis_kwargs=dict(channel_base=512, channel_max=32, architecture="resnet"))),
    ("orig", dict(synthesis_kwargs=dict(channel_base=512, channel_max=32, architecture="orig"))),
    ("8 mapping layers, wider w", dict(z_dim=48, w_dim=64, mapping_kwargs=dict(num_layers=8),
                                       synthesis_kwargs=dict(channel_base=1024, channel_max=64))),
    ("torch 1.7 module state, protocol 3", dict(module_state="torch1.7", protocol=3)),
    ("protocol 2", dict(protocol=2)),
])
def test_nvidia_pickle_matches_nvidia_outputs(tmp_path, name, kwargs):
    path = tmp_path / "network-snapshot.pkl"
    ref = fx.make_nvidia_pickle(path, seed=1, **kwargs)
    _assert_matches_nvidia(path, ref)


def test_nvidia_conditional_generator(tmp_path):
    path = tmp_path / "cifar.pkl"
    ref = fx.make_nvidia_pickle(path, seed=2, c_dim=5)
    _assert_matches_nvidia(path, ref, c=torch.eye(5)[[0, 3, 4]])


def test_nvidia_truncation_cutoff(tmp_path):
    path = tmp_path / "net.pkl"
    ref = fx.make_nvidia_pickle(path, seed=3)
    _assert_matches_nvidia(path, ref, cutoff=3)


def test_nvidia_pickle_loads_g_ema_not_g(tmp_path):
    path = tmp_path / "net.pkl"
    ref = fx.make_nvidia_pickle(path, seed=4)
    G, _ = load_generator(path)
    ours = {k: v for k, v in G.state_dict().items()}
    for name, t in ref.state_dict().items():
        assert torch.equal(ours[name], t.float()), name


def test_nvidia_pickle_loads_without_nvidia_code_or_running_it(tmp_path):
    path = tmp_path / "net.pkl"
    fx.make_nvidia_pickle(path, seed=5)
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import builtins
        real_exec, real_compile, real_eval = builtins.exec, builtins.compile, builtins.eval
        def guard(*a, **k):
            raise AssertionError("code was compiled or executed while loading")
        from backend.checkpoints import load_generator
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


def test_fingerprint_survives_conversion_to_our_format(tmp_path):
    path = tmp_path / "net.pkl"
    fx.make_nvidia_pickle(path, seed=6)
    G, info = load_generator(path)
    G2, info2 = load_generator(save_generator(G, tmp_path / "ours.safetensors"))
    assert info2.fingerprint == info.fingerprint == fingerprint(G)


def test_stylegan3_networks_are_refused_clearly(tmp_path, monkeypatch):
    # A StyleGAN3 G has synthesis.input; build the record shape without NVIDIA's SG3 code.
    from backend.safe_pickle import PersistentRecord
    import backend.checkpoints as ck

    sg3 = PersistentRecord("Generator", {"_init_kwargs": {}, "_modules": {
        "synthesis": PersistentRecord("SynthesisNetwork", {"_modules": {"input": PersistentRecord("SynthesisInput", {})}})}})
    with pytest.raises(CheckpointError, match="StyleGAN3"):
        ck._from_nvidia(tmp_path / "sg3.pkl", {"G_ema": sg3})


@pytest.mark.parametrize("legacy_format", [False, True])
@pytest.mark.parametrize("layout", ["train", "converted"])
def test_rosinality_checkpoint_matches_rosinality_outputs(tmp_path, legacy_format, layout):
    path = tmp_path / "stylegan2.pt"
    ref = fx.make_rosinality_checkpoint(path, seed=7, size=32, style_dim=32, n_mlp=3, channel_max=32,
                                        legacy_format=legacy_format, layout=layout)
    G, info = load_generator(path)
    assert info.format == "rosinality" and info.num_ws == 8
    z = _z(3, 32)
    latent_avg = torch.load(path, weights_only=False)["latent_avg"]
    for psi in (1.0, 0.7):
        img_ref = fx.rosinality_reference_images(ref, z, truncation=psi, truncation_latent=latent_avg)
        img = G.synthesize(G.mapping(z, truncation_psi=psi))
        assert (img - img_ref).abs().max() <= TOL


@pytest.mark.slow
def test_rosinality_real_channel_table(tmp_path):
    # channel_multiplier 1 at 64 px: 512 channels up to 32 px, then 256, as rosinality builds it.
    path = tmp_path / "cm1.pt"
    ref = fx.make_rosinality_checkpoint(path, seed=8, size=64, style_dim=64, n_mlp=2, channel_multiplier=1)
    G, info = load_generator(path)
    assert (G.config.channel_base, G.config.channel_max) == (16384, 512)
    z = _z(1, 64)
    latent_avg = torch.load(path, weights_only=False)["latent_avg"]
    img_ref = fx.rosinality_reference_images(ref, z, truncation=0.7, truncation_latent=latent_avg)
    assert (G.synthesize(G.mapping(z, truncation_psi=0.7)) - img_ref).abs().max() <= TOL


@pytest.mark.slow
def test_nvidia_config_f_1024_matches(tmp_path):
    """The FFHQ architecture itself: config-F, 1024x1024, 18 W+ rows, 8 mapping layers."""
    path = tmp_path / "ffhq-like.pkl"
    ref = fx.make_nvidia_pickle(path, seed=9, z_dim=512, w_dim=512, img_resolution=1024,
                                mapping_kwargs=dict(num_layers=8),
                                synthesis_kwargs=dict(channel_base=32768, channel_max=512), with_discriminator=False)
    G, info = load_generator(path)
    assert info.num_ws == 18 and info.resolution == 1024
    z = _z(1, 512)
    for psi in (1.0, 0.7):
        img_ref = fx.nvidia_reference_images(ref, z, truncation_psi=psi)
        img = G.synthesize(G.mapping(z, truncation_psi=psi))
        assert (img - img_ref).abs().max() <= TOL, f"psi={psi}: max abs {(img - img_ref).abs().max():.2e}"
