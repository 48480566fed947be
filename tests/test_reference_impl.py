"""Self-tests of the test-only reference implementations in tests/reference/.

These check the reference code itself (pickle wire format, round trips, shapes,
determinism) and cross-check the NVIDIA-layout generator against the
rosinality-layout generator, which are written independently of each other.
"""

import io
import math
import os
import pickle
import pickletools
import subprocess
import sys
import textwrap
import zipfile

import pytest
import torch

try:
    from tests.reference import fixtures as fx
except ImportError:  # tests/ itself on sys.path
    from reference import fixtures as fx

SMALL_SYN = dict(channel_base=512, channel_max=32, num_fp16_res=4, conv_clamp=256)


def _z(n, dim, seed=0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def _load(path):
    with fx.nvidia_importable():
        with open(path, "rb") as f:
            return pickle.load(f)


class _RecordingUnpickler(pickle.Unpickler):
    def __init__(self, f):
        super().__init__(f)
        self.globals_seen = set()

    def find_class(self, module, name):
        self.globals_seen.add(f"{module}.{name}")
        return super().find_class(module, name)


# ----------------------------------------------------------------------------
# NVIDIA layout.


def test_nvidia_pickle_round_trip(tmp_path):
    path = tmp_path / "snap.pkl"
    G = fx.make_nvidia_pickle(path, seed=3, z_dim=32, w_dim=32, img_resolution=16)
    assert not G.training
    data = _load(path)
    assert list(data) == ["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"]
    assert data["augment_pipe"] is None
    assert type(data["training_set_kwargs"]) is dict
    z = _z(3, 32)
    ref = fx.nvidia_reference_images(G, z)
    out = fx.nvidia_reference_images(data["G_ema"], z)
    assert ref.shape == (3, 3, 16, 16) and ref.dtype == torch.float32
    assert torch.isfinite(ref).all()
    assert torch.equal(ref, out)
    # 'G' is a different (perturbed) network.
    assert (fx.nvidia_reference_images(data["G"], z) - ref).abs().max() > 1e-3
    # Loaded modules come back in eval mode without gradients, like NVIDIA snapshots.
    assert not data["G_ema"].training
    assert not any(p.requires_grad for p in data["G_ema"].parameters())


def test_nvidia_pickle_wire_format(tmp_path):
    path = tmp_path / "snap.pkl"
    fx.make_nvidia_pickle(path, seed=0, img_resolution=8, synthesis_kwargs=SMALL_SYN)
    raw = path.read_bytes()
    assert raw[:2] == b"\x80" + bytes([pickle.DEFAULT_PROTOCOL])
    with fx.nvidia_importable():
        unpickler = _RecordingUnpickler(io.BytesIO(raw))
        data = unpickler.load()
    assert unpickler.globals_seen == {
        "torch_utils.persistence._reconstruct_persistent_obj",
        "dnnlib.util.EasyDict",
        "collections.OrderedDict",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_tensor_v2",
        "torch.storage._load_from_bytes",
        "numpy.core.multiarray.scalar",
        "numpy.dtype",
    }
    # All networks reduce to _reconstruct_persistent_obj(meta) with NVIDIA's meta keys.
    G = data["G_ema"]
    func, args, state = G.__reduce__()
    assert func.__module__ == "torch_utils.persistence" and func.__name__ == "_reconstruct_persistent_obj"
    assert state is None
    (meta,) = args
    assert list(meta) == ["type", "version", "module_src", "class_name", "state"]
    assert meta["type"] == "class" and meta["version"] == 6 and meta["class_name"] == "Generator"
    assert "class SynthesisNetwork" in meta["module_src"]
    assert meta["state"]["_init_args"] == ()
    assert set(meta["state"]["_init_kwargs"]) == {
        "z_dim", "w_dim", "mapping_kwargs", "synthesis_kwargs", "c_dim", "img_resolution", "img_channels"}
    assert type(G.init_kwargs.mapping_kwargs).__module__ == "dnnlib.util"
    assert G.synthesis.b8.conv0.__reduce__()[1][0]["class_name"] == "SynthesisLayer"
    # Opcode-level check: globals are only introduced through STACK_GLOBAL at protocol 4.
    names = {op.name for op, _, _ in pickletools.genops(raw)}
    assert "STACK_GLOBAL" in names and "GLOBAL" not in names


def test_nvidia_pickle_protocol_option(tmp_path):
    path = tmp_path / "p2.pkl"
    G = fx.make_nvidia_pickle(path, seed=1, img_resolution=8, synthesis_kwargs=SMALL_SYN, protocol=2)
    assert path.read_bytes()[:2] == b"\x80\x02"
    z = _z(2, 32)
    assert torch.equal(fx.nvidia_reference_images(_load(path)["G_ema"], z), fx.nvidia_reference_images(G, z))


def test_nvidia_pickle_loads_in_fresh_process(tmp_path):
    """A fresh interpreter has never imported training.networks, so unpickling has to
    rebuild the classes from the embedded module source."""
    path = tmp_path / "snap.pkl"
    out = tmp_path / "img.pt"
    G = fx.make_nvidia_pickle(path, seed=7, img_resolution=8, synthesis_kwargs=SMALL_SYN)
    z = _z(2, 32, seed=1)
    torch.save(z, tmp_path / "z.pt")
    script = textwrap.dedent(f"""
        import pickle, sys, torch
        with open({str(path)!r}, 'rb') as f:
            G = pickle.load(f)['G_ema']
        assert 'training.networks' not in sys.modules
        assert type(G).__name__ == 'Generator'
        z = torch.load({str(tmp_path / 'z.pt')!r})
        with torch.no_grad():
            img = G(z, torch.zeros([2, 0]), noise_mode='const', force_fp32=True)
        torch.save(img, {str(out)!r})
    """)
    env = dict(os.environ, PYTHONPATH=fx.NVIDIA_ROOT)
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=str(tmp_path), timeout=300)
    assert torch.equal(torch.load(out), fx.nvidia_reference_images(G, z))


@pytest.mark.parametrize("res", [8, 16, 32])
def test_num_ws_and_shapes_skip(tmp_path, res):
    G = fx.make_nvidia_pickle(tmp_path / "g.pkl", img_resolution=res, synthesis_kwargs=SMALL_SYN)
    assert G.num_ws == 2 * int(math.log2(res)) - 2
    ws = fx.nvidia_reference_ws(G, _z(2, 32))
    assert ws.shape == (2, G.num_ws, 32)
    assert fx.nvidia_reference_images(G, _z(2, 32)).shape == (2, 3, res, res)


@pytest.mark.parametrize("arch", ["orig", "resnet"])
def test_other_architectures_and_conditioning(tmp_path, arch):
    syn = dict(SMALL_SYN, architecture=arch)
    G = fx.make_nvidia_pickle(tmp_path / "g.pkl", img_resolution=16, c_dim=4, img_channels=1, synthesis_kwargs=syn)
    assert G.num_ws == 6
    assert hasattr(G.mapping, "embed")
    assert hasattr(G.synthesis.b16, "torgb") and not hasattr(G.synthesis.b8, "torgb")
    assert hasattr(G.synthesis.b8, "skip") == (arch == "resnet")
    z, c = _z(2, 32), _z(2, 4, seed=9)
    img = fx.nvidia_reference_images(G, z, c, truncation_psi=0.5, truncation_cutoff=2)
    assert img.shape == (2, 1, 16, 16) and torch.isfinite(img).all()
    ws = fx.nvidia_reference_ws(G, z, c, truncation_psi=0.5, truncation_cutoff=2)
    ws_free = fx.nvidia_reference_ws(G, z, c)
    assert torch.equal(ws[:, 2:], ws_free[:, 2:]) and not torch.allclose(ws[:, :2], ws_free[:, :2])
    with pytest.raises(ValueError):
        fx.nvidia_reference_images(G, z)
    assert torch.equal(img, fx.nvidia_reference_images(_load(tmp_path / "g.pkl")["G_ema"], z, c, 0.5, 2))


def test_nvidia_parameters_are_non_trivial_and_deterministic(tmp_path):
    a = fx.make_nvidia_pickle(tmp_path / "a.pkl", seed=5, img_resolution=8, synthesis_kwargs=SMALL_SYN)
    b = fx.make_nvidia_pickle(tmp_path / "b.pkl", seed=5, img_resolution=8, synthesis_kwargs=SMALL_SYN)
    c = fx.make_nvidia_pickle(tmp_path / "c.pkl", seed=6, img_resolution=8, synthesis_kwargs=SMALL_SYN)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    for name, value in sa.items():
        assert torch.equal(value, sb[name]), name
        if name.endswith("resample_filter"):
            continue
        assert not torch.equal(value, sc[name]), name
        assert value.abs().sum() > 0, name
        if name.endswith("affine.bias"):
            assert not torch.all(value == 1), name


def test_force_fp32_and_fp16_paths_agree_roughly(tmp_path):
    G = fx.make_nvidia_pickle(tmp_path / "g.pkl", img_resolution=16,
                              synthesis_kwargs=dict(channel_base=512, channel_max=32, num_fp16_res=2))
    assert G.synthesis.b16.use_fp16 and G.synthesis.b8.use_fp16 and not G.synthesis.b4.use_fp16
    z = _z(2, 32)
    ref = fx.nvidia_reference_images(G, z)
    with torch.no_grad():
        half = G(z, torch.zeros([2, 0]), noise_mode="const")
    assert half.dtype == torch.float32
    assert (half - ref).abs().max() < 0.05 * ref.abs().max()


def _nvidia_to_rosinality_state(G, R):
    """Map an NVIDIA-layout G (skip architecture) onto rosinality parameter names."""
    sd = {}
    for i in range(G.mapping.num_layers):
        fc = getattr(G.mapping, f"fc{i}")
        sd[f"style.{i + 1}.weight"], sd[f"style.{i + 1}.bias"] = fc.weight, fc.bias
    S = G.synthesis
    sd["input.input"] = S.b4.const[None]

    def conv(prefix, layer, noise_idx):
        sd[prefix + ".conv.weight"] = layer.weight[None]
        sd[prefix + ".conv.modulation.weight"] = layer.affine.weight
        sd[prefix + ".conv.modulation.bias"] = layer.affine.bias
        sd[prefix + ".noise.weight"] = layer.noise_strength.reshape(1)
        sd[prefix + ".activate.bias"] = layer.bias
        sd[f"noises.noise_{noise_idx}"] = layer.noise_const[None, None]

    def rgb(prefix, layer):
        sd[prefix + ".conv.weight"] = layer.weight[None]
        sd[prefix + ".conv.modulation.weight"] = layer.affine.weight
        sd[prefix + ".conv.modulation.bias"] = layer.affine.bias
        sd[prefix + ".bias"] = layer.bias.reshape(1, 3, 1, 1)

    conv("conv1", S.b4.conv1, 0)
    rgb("to_rgb1", S.b4.torgb)
    for k, res in enumerate(S.block_resolutions[1:]):
        block = getattr(S, f"b{res}")
        conv(f"convs.{2 * k}", block.conv0, 2 * k + 1)
        conv(f"convs.{2 * k + 1}", block.conv1, 2 * k + 2)
        rgb(f"to_rgbs.{k}", block.torgb)
    full = R.state_dict()
    assert {k for k in full if k not in sd} == {k for k in full if k.endswith("kernel")}
    full.update({k: v.detach().clone() for k, v in sd.items()})
    return full


def test_nvidia_and_rosinality_implementations_agree(tmp_path):
    """Two independently written generators compute the same function."""
    G = fx.make_nvidia_pickle(tmp_path / "g.pkl", seed=11, img_resolution=16, mapping_kwargs=dict(num_layers=3),
                              synthesis_kwargs=dict(channel_base=1024, channel_max=32))
    R = fx.rosinality.Generator(16, 32, 3, channel_max=32).eval()
    R.load_state_dict(_nvidia_to_rosinality_state(G, R))
    z = _z(4, 32, seed=2)
    assert torch.allclose(fx.nvidia_reference_ws(G, z), fx.rosinality_reference_ws(R, z), atol=1e-6, rtol=0)
    a, b = fx.nvidia_reference_images(G, z), fx.rosinality_reference_images(R, z)
    assert (a - b).abs().max() < 1e-4
    w_avg = G.mapping.w_avg[None]
    a = fx.nvidia_reference_images(G, z, truncation_psi=0.6)
    b = fx.rosinality_reference_images(R, z, truncation=0.6, truncation_latent=w_avg)
    assert (a - b).abs().max() < 1e-4
    # Unfused NVIDIA path without noise vs rosinality with all-zero noise inputs.
    with torch.no_grad():
        a = G(z, torch.zeros([4, 0]), noise_mode="none", force_fp32=True, fused_modconv=False)
        zeros = [torch.zeros_like(getattr(R.noises, f"noise_{i}")) for i in range(R.num_layers)]
        b, _ = R([z], noise=zeros)
    assert (a - b).abs().max() < 1e-4


# ----------------------------------------------------------------------------
# rosinality layout.


def _expected_rosinality_keys(size, n_mlp):
    R = fx.rosinality.Generator(size, 8, n_mlp, channel_max=8)
    return list(R.state_dict())


@pytest.mark.parametrize("legacy", [False, True])
def test_rosinality_checkpoint_round_trip(tmp_path, legacy):
    path = tmp_path / "ckpt.pt"
    G = fx.make_rosinality_checkpoint(path, seed=2, size=16, style_dim=32, n_mlp=2, legacy_format=legacy,
                                      channel_max=32)
    assert zipfile.is_zipfile(path) == (not legacy)
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    assert set(ckpt) == {"g", "d", "g_ema", "g_optim", "d_optim", "args", "ada_aug_p", "latent_avg"}
    assert ckpt["args"].size == 16 and ckpt["args"].n_mlp == 2 and ckpt["args"].latent == 32
    assert list(ckpt["g_ema"]) == _expected_rosinality_keys(16, 2)
    assert ckpt["g_ema"]["convs.0.conv.weight"].shape == (1, 32, 32, 3, 3)
    assert ckpt["g_ema"]["noises.noise_4"].shape == (1, 1, 16, 16)
    assert ckpt["latent_avg"].shape == (32,)

    R = fx.rosinality.Generator(16, 32, 2, channel_max=32).eval()
    R.load_state_dict(ckpt["g_ema"])
    z = _z(3, 32)
    ref = fx.rosinality_reference_images(G, z)
    assert ref.shape == (3, 3, 16, 16) and torch.isfinite(ref).all()
    assert torch.equal(fx.rosinality_reference_images(R, z), ref)
    trunc = fx.rosinality_reference_images(R, z, truncation=0.7, truncation_latent=ckpt["latent_avg"])
    assert (trunc - ref).abs().max() > 1e-3
    R.load_state_dict(ckpt["g"])
    assert (fx.rosinality_reference_images(R, z) - ref).abs().max() > 1e-3


def test_rosinality_default_channel_table_and_converted_layout(tmp_path):
    path = tmp_path / "conv.pt"
    G = fx.make_rosinality_checkpoint(path, size=8, style_dim=32, n_mlp=2, layout="converted")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    assert set(ckpt) == {"g_ema", "latent_avg"}
    assert ckpt["g_ema"]["input.input"].shape == (1, 512, 4, 4)
    assert ckpt["g_ema"]["convs.1.conv.weight"].shape == (1, 512, 512, 3, 3)
    assert ckpt["g_ema"]["convs.0.conv.blur.kernel"].shape == (4, 4)
    assert G.n_latent == 4
    img = fx.rosinality_reference_images(G, _z(1, 32))
    assert img.shape == (1, 3, 8, 8)
    for name, value in ckpt["g_ema"].items():
        if not name.endswith("kernel"):
            assert value.abs().sum() > 0, name


def test_nvidia_pickle_torch17_module_state(tmp_path):
    path = tmp_path / "old.pkl"
    G = fx.make_nvidia_pickle(path, seed=4, img_resolution=8, synthesis_kwargs=SMALL_SYN, module_state="torch1.7")
    metas = []

    class Capture(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
                return lambda meta: metas.append(meta) or meta
            return super().find_class(module, name)

    with fx.nvidia_importable():
        with open(path, "rb") as f:
            Capture(f).load()
    assert metas and all(meta["version"] == 6 for meta in metas)
    for meta in metas:
        keys = [k for k in meta["state"] if k.startswith("_") and not k.startswith("_init")]
        assert keys == [k for k in fx.TORCH17_MODULE_KEYS if k != "training"], meta["class_name"]
    # Plain unpickling still works: Module.__setstate__ fills in the newer keys.
    z = _z(2, 32)
    assert torch.equal(fx.nvidia_reference_images(_load(path)["G_ema"], z), fx.nvidia_reference_images(G, z))
