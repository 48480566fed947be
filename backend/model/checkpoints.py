"""Loading and saving generators: one loader, formats recognised by content, nothing executed.

Formats:
- ``latent-emotion``: ours, a safetensors file whose metadata holds the ``GeneratorConfig``.
- ``nvidia-pkl``: stylegan2-ada-pytorch network pickles (``ffhq.pkl``...); ``G_ema`` is used.
  Read with ``safe_pickle`` (allow-listed globals only, embedded source never run).
- ``rosinality``: stylegan2-pytorch checkpoints (``g_ema`` state dict and ``latent_avg``), both
  zip and legacy torch files, read with ``torch.load(weights_only=True)``.
Anything else raises ``CheckpointError`` naming the file and the reason.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import torch

from ..files import FileError, parse_json, replacing
from .generator import CONFIG_LIMITS, Generator, GeneratorConfig, state_shapes
from .safe_pickle import PersistentRecord, UnsafePickleError, safe_load

OUR_FORMAT = "latent-emotion.generator"
OUR_FORMAT_VERSION = "1"
_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


class CheckpointError(FileError):
    """A file that is not a generator (or probe) we can load; the message names the file and why."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a loaded checkpoint is."""

    path: str
    format: str
    config: GeneratorConfig
    fingerprint: str

    @property
    def resolution(self) -> int:
        return self.config.img_resolution

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    @property
    def w_dim(self) -> int:
        return self.config.w_dim


def fingerprint(G: torch.nn.Module) -> str:
    """sha256 over the weights (names, shapes, fp32 values): the same weights give the same
    fingerprint whatever file format they came in."""
    h = hashlib.sha256()
    for name, t in sorted(G.state_dict().items()):
        t = t.detach().to("cpu", torch.float32).contiguous()
        h.update(f"{name}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save_generator(G: Generator, path: str | os.PathLike[str], *, half: bool = False,
                   metadata: Mapping[str, str] | None = None) -> str:
    """Write ``G`` in our format (safetensors + config); returns the written path.

    ``half`` stores parameters as fp16 to halve the file; they are fp32 again once loaded.
    """
    tensors = {}
    for name, t in G.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        tensors[name] = t.half() if half and t.is_floating_point() else t.float()
    return write_tagged_safetensors(path, tensors, OUR_FORMAT, OUR_FORMAT_VERSION, G.config.to_dict(), metadata)


def write_tagged_safetensors(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], fmt: str,
                             version: str, config: Mapping[str, Any],
                             metadata: Mapping[str, str] | None = None) -> str:
    """Write tensors with ``format``/``format_version``/``config`` metadata (plus ``metadata``),
    atomically; ``read_tagged_safetensors`` reads them back."""
    from safetensors.torch import save_file

    meta = {"format": fmt, "format_version": version, "config": json.dumps(dict(config), sort_keys=True)}
    meta.update(metadata or {})
    path = os.fspath(path)
    with replacing(path) as tmp:
        save_file(dict(tensors), tmp, metadata=meta)
    return path


def load_generator(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[Generator, CheckpointInfo]:
    """Load any supported checkpoint; returns the generator (eval mode, fp32) and what it is."""
    path = Path(path)
    reader = _reader_for(path)
    try:
        weights = reader(path)
        G = _build(path, weights.config, weights.tensors)
    except CheckpointError:
        raise
    except Exception as e:  # allow-listed contents of unexpected types or shapes
        raise CheckpointError(path, f"malformed checkpoint ({type(e).__name__}: {_first_line(e)})") from None
    return G.to(device), CheckpointInfo(str(path), weights.format, weights.config, fingerprint(G))


def check_checkpoint_file(path: str | os.PathLike[str]) -> None:
    """A cheap first look (16 bytes): a CheckpointError if ``path`` cannot be a checkpoint at all
    (missing, a folder, empty, of no supported format)."""
    _reader_for(Path(path))


def _reader_for(path: Path) -> Callable[[Path], _Weights]:
    if not path.is_file():
        raise CheckpointError(path, "a folder, not a checkpoint file" if path.is_dir() else "no such file")
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise CheckpointError(path, "the file is empty")
    reader = next((read for sniff, read in _READERS if sniff(head)), None)
    if reader is None:
        raise CheckpointError(path, "unknown format: not a safetensors file, a pickle or a PyTorch file")
    return reader


def checkpoint_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """What a checkpoint is (loads it on the CPU)."""
    return load_generator(path)[1]


# --- formats ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Weights:
    """A checkpoint's contents in our naming, before a generator is built from them."""

    format: str
    config: GeneratorConfig
    tensors: dict[str, torch.Tensor]


def generator_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata strings of one of our safetensors generators (what its training recorded:
    ``face_prior``, ``training``...); empty for any other file, which is no error here."""
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception:  # not safetensors (a foreign checkpoint), or unreadable: nothing recorded
        return {}


def _sniff_safetensors(head: bytes) -> bool:
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return 0 < n < _MAX_SAFETENSORS_HEADER and head[8:9] == b"{"


def read_tagged_safetensors(path: str | os.PathLike[str], fmt: str, version: str,
                            what: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Metadata and tensors of a safetensors file whose metadata says ``format=fmt`` at
    ``format_version=version``; anything else raises ``CheckpointError`` (``what`` names the kind
    of file in the message). Our generators and probes share this one check."""
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != fmt:
                raise CheckpointError(path, f"a safetensors file, but not a Latent Emotion {what} "
                                            f"(metadata format={meta.get('format')!r})")
            if meta.get("format_version") != version:
                raise CheckpointError(path, f"{what} format version {meta.get('format_version')!r} is not "
                                            f"supported (this version reads {version})")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except CheckpointError:
        raise
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(path, f"corrupt safetensors file ({_first_line(e)})") from None
    return meta, tensors


def _read_ours(path: Path) -> _Weights:
    meta, tensors = read_tagged_safetensors(path, OUR_FORMAT, OUR_FORMAT_VERSION, "generator")
    try:
        config = GeneratorConfig.from_dict(parse_json(meta["config"], path, error=CheckpointError))
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(path, f"bad generator config in metadata ({_first_line(e)})") from None
    return _Weights("latent-emotion", config, tensors)


def _sniff_pickle(head: bytes) -> bool:
    return head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")


def _read_pickle(path: Path) -> _Weights:
    """A plain pickle: NVIDIA's network pickle, or a legacy (pre-zip) torch file."""
    try:
        # Streamed from the file (the whole file in memory cost a copy of every network in it),
        # through reads capped at what is left, so a corrupt length field fails as truncation
        # instead of a huge read.
        with open(path, "rb") as f:
            first = safe_load(_BoundedReader(f, path.stat().st_size))
    except UnsafePickleError as e:
        raise CheckpointError(path, f"refused pickle: {_first_line(e)}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError,
            RuntimeError, OverflowError, UnicodeDecodeError) as e:
        raise CheckpointError(path, f"truncated or corrupt pickle ({type(e).__name__}: {_first_line(e)})") from None
    if first == _TORCH_LEGACY_MAGIC:
        return _read_rosinality(path)
    return _from_nvidia(path, first)


class _BoundedReader(io.RawIOBase):
    """A file's bytes, never more per read than the file has left."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._left = f, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self._left]
        n = self._f.readinto(view) or 0
        self._left -= n
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(self._left if size is None or size < 0 else min(size, self._left))
        self._left -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        limit = self._left if size is None or size < 0 else min(size, self._left)
        data = self._f.readline(limit)
        self._left -= len(data)
        return data


def _sniff_zip(head: bytes) -> bool:
    return head[:4] == b"PK\x03\x04"


def _torch_load(path: Path) -> Any:
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises RuntimeError/UnpicklingError/... for bad files
        msg = _first_line(e)
        if "Weights only load failed" in msg or "GLOBAL" in str(e):
            m = re.search(r"GLOBAL ([\w.]+)", str(e))
            what = f"it names {m.group(1)}, which is not allowed" if m else "it holds objects other than tensors"
            raise CheckpointError(path, f"refused PyTorch file: {what}") from None
        raise CheckpointError(path, f"truncated or corrupt PyTorch file ({msg})") from None


def _read_rosinality(path: Path) -> _Weights:
    data = _torch_load(path)
    if not isinstance(data, Mapping) or "g_ema" not in data:
        keys = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, Mapping) else type(data).__name__
        raise CheckpointError(path, f"a PyTorch file, but not a StyleGAN2 checkpoint (no 'g_ema'; found {keys})")
    args = data.get("args")
    lr_mlp = float(getattr(args, "lr_mlp", 0.01)) if args is not None else 0.01
    return _from_rosinality(path, data["g_ema"], data.get("latent_avg"), lr_mlp)


# The one registry: (recognise by the first bytes, read).
_READERS: tuple[tuple[Callable[[bytes], bool], Callable[[Path], _Weights]], ...] = (
    (_sniff_safetensors, _read_ours),
    (_sniff_pickle, _read_pickle),
    (_sniff_zip, _read_rosinality),
)


# --- NVIDIA stylegan2-ada-pytorch ----------------------------------------------------------------

_NVIDIA_MAPPING_KEYS = {"num_layers": "mapping_layers", "embed_features": "embed_features",
                        "layer_features": "mapping_layer_features", "activation": "mapping_activation",
                        "lr_multiplier": "mapping_lr_multiplier", "w_avg_beta": "w_avg_beta"}
_NVIDIA_SYNTHESIS_KEYS = {"channel_base": "channel_base", "channel_max": "channel_max",
                          "num_fp16_res": "num_fp16_res", "conv_clamp": "conv_clamp",
                          "architecture": "architecture", "resample_filter": "resample_filter",
                          "kernel_size": "kernel_size", "use_noise": "use_noise", "activation": "activation"}
# Options that change speed or memory layout, never the result.
_NVIDIA_IGNORED = {"channels_last", "fp16_channels_last", "fused_modconv_default", "use_fp16", "num_ws"}
_NVIDIA_GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
                          "synthesis_kwargs")


def _from_nvidia(path: Path, data: Any) -> _Weights:
    if not isinstance(data, Mapping):
        raise CheckpointError(path, f"a pickle, but not a StyleGAN network pickle (top level is {type(data).__name__})")
    G = data.get("G_ema")
    if G is None:
        keys = ", ".join(sorted(map(str, data))[:8])
        raise CheckpointError(path, f"a pickle, but it has no 'G_ema' network (keys: {keys})")
    if not isinstance(G, PersistentRecord) or G.class_name != "Generator":
        name = G.class_name if isinstance(G, PersistentRecord) else type(G).__name__
        raise CheckpointError(path, f"'G_ema' is a {name}, not a StyleGAN2 Generator")
    if G.submodule("synthesis.input") is not None:
        raise CheckpointError(path, "this is a StyleGAN3 (alias-free) generator, which is not supported; "
                                    "use a StyleGAN2 network")
    kwargs = dict(zip(_NVIDIA_GENERATOR_ARGS, G.init_args))
    kwargs.update(G.init_kwargs)
    settings: dict[str, Any] = {}
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in kwargs:
            raise CheckpointError(path, f"the Generator's recorded arguments lack {key!r}")
        settings[key] = int(kwargs.pop(key))
    mapping = dict(kwargs.pop("mapping_kwargs", None) or {})
    synthesis = dict(kwargs.pop("synthesis_kwargs", None) or {})
    synthesis.update(kwargs)  # stylegan3's copy of the networks passes synthesis options flat
    for source, table in ((mapping, _NVIDIA_MAPPING_KEYS), (synthesis, _NVIDIA_SYNTHESIS_KEYS)):
        for key, value in source.items():
            if key in table:
                settings[table[key]] = _plain(value)
            elif key not in _NVIDIA_IGNORED:
                raise CheckpointError(path, f"unsupported generator option {key}={value!r}")
    try:
        config = GeneratorConfig(**settings)
    except (ValueError, TypeError) as e:
        raise CheckpointError(path, f"unsupported generator configuration ({e})") from None
    return _Weights("nvidia-pkl", config, G.tensors())


def _plain(value: Any) -> Any:
    """Numpy scalars and lists from pickles → plain Python values for the config."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if isinstance(value, (list, tuple)):
        return tuple(float(v) for v in value)
    return value


# --- rosinality stylegan2-pytorch ------------------------------------------------------------------

def _from_rosinality(path: Path, sd: Any, latent_avg: Any, lr_mlp: float) -> _Weights:
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(path, "'g_ema' is not a state dict of tensors")
    try:
        n_mlp = max(int(m.group(1)) for k in sd if (m := re.fullmatch(r"style\.(\d+)\.weight", k)))
        style_dim = sd["style.1.weight"].shape[0]
        n_convs = 1 + max((int(m.group(1)) + 1 for k in sd if (m := re.fullmatch(r"convs\.(\d+)\.conv\.weight", k))),
                          default=0)
        img_channels = sd["to_rgb1.conv.weight"].shape[1]
    except (ValueError, KeyError) as e:
        raise CheckpointError(path, f"'g_ema' does not look like a rosinality StyleGAN2 generator ({e})") from None
    log2_res = (n_convs + 1) // 2 + 1
    top = CONFIG_LIMITS["img_resolution"][1]
    if n_mlp > CONFIG_LIMITS["mapping_layers"][1] or 2 ** min(log2_res, 64) > top:
        raise CheckpointError(path, f"'g_ema' names {n_mlp} mapping layers and {n_convs} convolutions: more than "
                                    f"a generator of at most {top} px and {CONFIG_LIMITS['mapping_layers'][1]} "
                                    "mapping layers has")
    resolution = 2**log2_res
    channel_base, channel_max = _channel_table(path, sd, resolution)
    try:
        config = GeneratorConfig(img_resolution=resolution, z_dim=style_dim, w_dim=style_dim,
                                 img_channels=img_channels, mapping_layers=n_mlp, mapping_lr_multiplier=lr_mlp,
                                 channel_base=channel_base, channel_max=channel_max)
    except ValueError as e:
        raise CheckpointError(path, f"unsupported generator configuration ({e})") from None
    out: dict[str, torch.Tensor] = {}

    def take(key: str) -> torch.Tensor:
        if key not in sd:
            raise CheckpointError(path, f"rosinality checkpoint lacks {key!r}")
        return sd[key]

    for i in range(n_mlp):
        out[f"mapping.fc{i}.weight"] = take(f"style.{i + 1}.weight")
        out[f"mapping.fc{i}.bias"] = take(f"style.{i + 1}.bias")
    out["mapping.w_avg"] = (latent_avg.reshape(-1) if isinstance(latent_avg, torch.Tensor)
                            else torch.zeros(style_dim))

    def styled_conv(dst: str, src: str, noise_index: int) -> None:
        out[f"{dst}.weight"] = take(f"{src}.conv.weight").squeeze(0)
        out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
        out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
        out[f"{dst}.noise_strength"] = take(f"{src}.noise.weight").reshape([])
        out[f"{dst}.bias"] = take(f"{src}.activate.bias")
        noise = take(f"noises.noise_{noise_index}")
        out[f"{dst}.noise_const"] = noise.reshape(noise.shape[-2:])

    def to_rgb(dst: str, src: str) -> None:
        out[f"{dst}.weight"] = take(f"{src}.conv.weight").squeeze(0)
        out[f"{dst}.affine.weight"] = take(f"{src}.conv.modulation.weight")
        out[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.bias")
        out[f"{dst}.bias"] = take(f"{src}.bias").reshape(-1)

    out["synthesis.b4.const"] = take("input.input").squeeze(0)
    styled_conv("synthesis.b4.conv1", "conv1", 0)
    to_rgb("synthesis.b4.torgb", "to_rgb1")
    for k, res in enumerate(config.block_resolutions[1:]):
        styled_conv(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1)
        styled_conv(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        to_rgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
    return _Weights("rosinality", config, out)


def _channel_table(path: Path, sd: Mapping[str, torch.Tensor], resolution: int) -> tuple[int, int]:
    """channel_base and channel_max that reproduce the checkpoint's channels per resolution.

    rosinality's table (512 up to 32 px, then 256·m, 128·m, ... for channel_multiplier m) is
    NVIDIA's min(base // res, max) with base = 16384·m; other tables are read off the weights.
    """
    channels = {4: sd["conv1.conv.weight"].shape[1]}
    res = 8
    while res <= resolution:
        key = f"convs.{2 * (int(math.log2(res)) - 3) + 1}.conv.weight"
        channels[res] = sd[key].shape[1] if key in sd else 0
        res *= 2
    channel_max = max(channels.values())
    below = [r for r, c in channels.items() if c < channel_max]
    channel_base = channels[min(below)] * min(below) if below else channel_max * resolution
    if any(min(channel_base // r, channel_max) != c for r, c in channels.items()):
        raise CheckpointError(path, f"its channels per resolution {channels} do not follow a StyleGAN2 "
                                    "channel table (min(base / resolution, max))")
    return channel_base, channel_max


# --- building --------------------------------------------------------------------------------------

def _build(path: Path, config: GeneratorConfig, tensors: Mapping[str, torch.Tensor]) -> Generator:
    """The generator of ``config`` holding ``tensors``. Every tensor's name, shape and values are
    checked against the architecture's shapes first (``state_shapes``: no memory), so a file whose
    config asks for more than its tensors hold is refused at the cost of reading it, not of
    building what it asks for."""
    expected = state_shapes(config)
    # Filters are fixed by the config; files that omit them (rosinality) get ours.
    given = dict(tensors)
    filters = [k for k in expected if k.endswith("resample_filter") and k not in given]
    missing = [k for k in expected if k not in given and k not in filters]
    unexpected = [k for k in given if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_some(missing)}")
        if unexpected:
            parts.append(f"unexpected {_some(unexpected)}")
        raise CheckpointError(path, "weights do not match the architecture: " + "; ".join(parts))
    for name, want in expected.items():
        if name in filters:
            continue
        got = given[name]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != want:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckpointError(path, f"{name} has shape {shape}, the architecture needs {want}")
        if not got.is_floating_point() or not torch.isfinite(got).all():
            raise CheckpointError(path, f"{name} holds non-finite or non-float values")
    G = Generator(config)
    own = G.state_dict()
    given.update({k: own[k] for k in filters})
    G.load_state_dict({k: v.to(torch.float32) for k, v in given.items()})
    G.eval().requires_grad_(False)
    return G


def _some(names: list[str], n: int = 5) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__
