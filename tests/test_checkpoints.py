"""Checkpoints in our format, and every kind of bad file: a clear CheckpointError, nothing executed."""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from backend.model.checkpoints import CheckpointError, fingerprint, load_generator, save_generator
from backend.model.generator import Generator

from .conftest import ROOT, randomize_, tiny_config


def test_our_format_round_trip_is_exact(tiny_G, tmp_path):
    path = save_generator(tiny_G, tmp_path / "g.safetensors")
    G, info = load_generator(path)
    assert info.format == "latent-emotion"
    assert info.config == tiny_G.config
    assert (info.resolution, info.num_ws, info.w_dim) == (32, 8, 32)
    assert info.fingerprint == fingerprint(tiny_G)
    ws = tiny_G.w_from_seed(2, truncation_psi=0.7)
    assert torch.equal(G.synthesize(ws), tiny_G.synthesize(ws))


def test_half_precision_file_loads_close_with_its_own_fingerprint(tiny_G, tmp_path):
    full = save_generator(tiny_G, tmp_path / "full.safetensors")
    half = save_generator(tiny_G, tmp_path / "half.safetensors", half=True)
    assert os.path.getsize(half) < 0.6 * os.path.getsize(full)
    G, info = load_generator(half)
    assert info.fingerprint != fingerprint(tiny_G)
    assert next(G.parameters()).dtype == torch.float32
    ws = tiny_G.w_from_seed(2)
    assert torch.allclose(G.synthesize(ws), tiny_G.synthesize(ws), atol=0.05)


def test_fingerprint_changes_with_any_weight(tiny_G):
    before = fingerprint(tiny_G)
    with torch.no_grad():
        tiny_G.synthesis.b16.conv1.noise_strength.add_(1e-6)
    assert fingerprint(tiny_G) != before


def test_loaded_generator_is_frozen_in_eval_mode(tiny_G, tmp_path):
    G, _ = load_generator(save_generator(tiny_G, tmp_path / "g.safetensors"))
    assert not G.training and not any(p.requires_grad for p in G.parameters())


def test_architecture_variants_round_trip(tmp_path):
    for i, cfg in enumerate([tiny_config(architecture="resnet", conv_clamp=256.0, num_fp16_res=2),
                             tiny_config(architecture="orig", c_dim=3, mapping_layers=3)]):
        G = randomize_(Generator(cfg), seed=i).eval()
        G2, info = load_generator(save_generator(G, tmp_path / f"g{i}.safetensors"))
        assert info.config == cfg and info.fingerprint == fingerprint(G)


# --- hostile files ---------------------------------------------------------------------------------

class _Payload:
    """Unpickling this would call ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _hostile_payloads(marker):
    import builtins

    return {
        "os.system": _Payload(os.system, f"touch {marker}"),
        "builtins.eval": _Payload(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
        "builtins.exec": _Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "subprocess.Popen": _Payload(subprocess.Popen, ["touch", str(marker)]),
        "builtins.open": _Payload(builtins.open, str(marker), "w"),
    }


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "builtins.exec", "subprocess.Popen", "builtins.open"])
def test_hostile_network_pickle_is_refused_and_runs_nothing(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = tmp_path / "ffhq.pkl"
    payload = _hostile_payloads(marker)[kind]
    # Hidden where a real network would be.
    path.write_bytes(pickle.dumps({"G": None, "D": None, "G_ema": payload}))
    with pytest.raises(CheckpointError) as e:
        load_generator(path)
    assert not marker.exists()
    assert str(path) in str(e.value) and "refus" in str(e.value)


def test_hostile_payload_inside_persistent_meta_is_refused(tmp_path, monkeypatch):
    reconstruct = _fake_global(monkeypatch, "torch_utils.persistence", "_reconstruct_persistent_obj")
    marker = tmp_path / "pwned"
    meta = {"type": "class", "version": 6, "module_src": "import os\nos.system('touch x')\n", "class_name": "Generator",
            "state": {"_init_kwargs": _Payload(os.system, f"touch {marker}")}}

    class Fake:
        def __reduce__(self):
            return reconstruct, (meta,)

    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Fake()}))
    with pytest.raises(CheckpointError, match="refusing global posix.system|refusing global os.system"):
        load_generator(path)
    assert not marker.exists()


def test_hostile_rosinality_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": {}, "latent_avg": torch.zeros(4), "evil": _Payload(os.system, f"touch {marker}")}, path)
    with pytest.raises(CheckpointError, match=r"refused PyTorch file: it names (posix|os)\.system"):
        load_generator(path)
    assert not marker.exists()


def test_tensorflow_pickle_gets_a_conversion_hint(tmp_path, monkeypatch):
    path = tmp_path / "stylegan2-ffhq-config-f.pkl"

    class Network:
        pass

    _fake_global(monkeypatch, "dnnlib.tflib.network", "Network", Network)
    path.write_bytes(pickle.dumps((Network(), Network(), Network())))
    with pytest.raises(CheckpointError, match="TensorFlow StyleGAN pickle; convert it"):
        load_generator(path)


# --- corrupt and foreign files ---------------------------------------------------------------------

def test_truncated_file_of_our_format(tiny_G, tmp_path):
    path = save_generator(tiny_G, tmp_path / "g.safetensors")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt safetensors file"):
        load_generator(path)


def test_truncated_network_pickle(tmp_path):
    path = tmp_path / "net.pkl"
    data = pickle.dumps({"G_ema": {"a": torch.randn(100)}})
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt pickle"):
        load_generator(path)


def test_huge_length_field_in_a_pickle_is_truncation_not_a_huge_read(tmp_path):
    path = tmp_path / "net.pkl"
    # PROTO 4, then BINBYTES8 claiming 2**60 bytes with 4 following.
    path.write_bytes(b"\x80\x04\x8e" + (2**60).to_bytes(8, "little") + b"abcd")
    with pytest.raises(CheckpointError, match="truncated or corrupt pickle"):
        load_generator(path)


def test_truncated_pytorch_zip(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"g_ema": {"x": torch.randn(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt PyTorch file"):
        load_generator(path)


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty"),
    (b"hello, I am a text file\n", "unknown format"),
    (np.random.default_rng(7).bytes(4096), "unknown format"),  # the same bytes in every test worker
])
def test_unknown_content(tmp_path, content, reason):
    path = tmp_path / "model.pkl"
    path.write_bytes(content if not content.startswith(b"\x80") else b"x" + content)
    with pytest.raises(CheckpointError, match=reason):
        load_generator(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_generator(tmp_path / "nope.pkl")


def test_foreign_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "lora.safetensors"
    save_file({"w": torch.zeros(2)}, path, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a Latent Emotion generator"):
        load_generator(path)


def test_pickle_without_a_generator(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"D": 1, "training_set_kwargs": {}}))
    with pytest.raises(CheckpointError, match="no 'G_ema' network"):
        load_generator(path)


def test_pytorch_file_that_is_not_stylegan(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}, "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(CheckpointError, match="not a StyleGAN2 checkpoint"):
        load_generator(path)


def test_weights_that_do_not_fit_the_config(tiny_G, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = save_generator(tiny_G, tmp_path / "g.safetensors")
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    tensors = {k: v.clone() for k, v in load_file(path).items()}
    tensors["synthesis.b8.conv0.weight"] = torch.zeros(3, 3, 3, 3)
    save_file(tensors, tmp_path / "reshaped.safetensors", metadata=meta)
    with pytest.raises(CheckpointError, match=r"synthesis\.b8\.conv0\.weight has shape \(3, 3, 3, 3\)"):
        load_generator(tmp_path / "reshaped.safetensors")
    del tensors["synthesis.b8.conv0.weight"]
    save_file(tensors, tmp_path / "missing.safetensors", metadata=meta)
    with pytest.raises(CheckpointError, match=r"missing synthesis\.b8\.conv0\.weight"):
        load_generator(tmp_path / "missing.safetensors")


def test_non_finite_weights_are_refused(tiny_G, tmp_path):
    with torch.no_grad():
        tiny_G.mapping.fc1.bias[0] = float("nan")
    path = save_generator(tiny_G, tmp_path / "g.safetensors")
    with pytest.raises(CheckpointError, match=r"mapping\.fc1\.bias holds non-finite"):
        load_generator(path)


def test_bad_config_in_metadata(tiny_G, tmp_path):
    path = save_generator(tiny_G, tmp_path / "g.safetensors", metadata={"config": '{"img_resolution": 33}'})
    with pytest.raises(CheckpointError, match="bad generator config"):
        load_generator(path)


# --- helpers ---------------------------------------------------------------------------------------

def _fake_global(monkeypatch, module: str, name: str, obj=None):
    """Make ``module.name`` exist for pickling, so the pickle refers to it as a real file would."""
    parts = module.split(".")
    for i in range(1, len(parts)):
        parent = ".".join(parts[:i])
        if parent not in sys.modules:
            monkeypatch.setitem(sys.modules, parent, types.ModuleType(parent))
    mod = types.ModuleType(module)
    obj = obj if obj is not None else (lambda *a: None)
    obj.__module__, obj.__qualname__ = module, name
    setattr(mod, name, obj)
    monkeypatch.setitem(sys.modules, module, mod)
    return obj


# --- fuzzing: any corruption of a valid file is a CheckpointError or a working generator -------------

@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    """Our format (written by us) and the smallest upstream-made file of each foreign format."""
    upstream = ROOT / "tests" / "data" / "upstream"
    torch.manual_seed(0)
    G = randomize_(Generator(tiny_config(img_resolution=8, channel_max=8, mapping_layers=1))).eval()
    files = {"nvidia": upstream / "sg2ada-32.pkl", "rosinality": upstream / "rosinality-32-slim.pt",
             "legacy": upstream / "rosinality-64-slim-cm2-legacy.pt"}
    data = {k: v.read_bytes() for k, v in files.items()}
    data["ours"] = open(save_generator(G, tmp_path_factory.mktemp("ours") / "g.safetensors"), "rb").read()
    return data


@pytest.mark.parametrize("kind", ["ours", "nvidia", "rosinality", "legacy"])
def test_corrupted_files_fail_cleanly(valid_files, kind, tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    data = valid_files[kind]

    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), min_size=1, max_size=8),
           st.integers(1, len(data)))
    def check(edits, keep):
        buf = bytearray(data[:keep])
        for pos, byte in edits:
            if pos < len(buf):
                buf[pos] = byte
        path = tmp_path / f"mutant.{kind}"
        path.write_bytes(bytes(buf))
        try:
            G, _ = load_generator(path)
        except CheckpointError:
            return
        assert torch.isfinite(G.synthesize(G.w_from_seed(0))).all()

    check()
