"""The converted face-reader weights under ``models/face_readers/``: one safetensors file per network.

``scripts/convert_face_readers.py`` writes them from the pinned registry packages. Tensors are in
PyTorch layout. A tensor the source stored uint8-quantised stays so (the files stay small): it is
kept as ``NAME@q`` (uint8) with float64 scalars ``NAME@scale`` and ``NAME@min``, and is dequantised
here exactly as tfjs does (``q * scale + min`` in float64, rounded once to float32).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, TypeVar

import torch
from torch import nn

from ...files import parse_json
from ...model.checkpoints import CheckpointError, read_tagged_safetensors, write_tagged_safetensors

READERS_DIR = Path(__file__).resolve().parents[3] / "models" / "face_readers"
READER_FORMAT = "latent-emotion-face-reader"
READER_FORMAT_VERSION = "1"
QUANT_SUFFIXES = ("@q", "@scale", "@min")
Net = TypeVar("Net", bound=nn.Module)


def reader_path(network: str) -> Path:
    """Where the converted weights of ``network`` (e.g. ``"fer_emotion"``) live."""
    return READERS_DIR / f"{network}.safetensors"


def write_reader_weights(path: str | os.PathLike[str], network: str, tensors: Mapping[str, torch.Tensor],
                         source: Mapping[str, str]) -> str:
    """Write one network's tensors with metadata naming it and its source (package, version, sha256)."""
    return write_tagged_safetensors(path, {k: v.contiguous() for k, v in tensors.items()}, READER_FORMAT,
                                    READER_FORMAT_VERSION, {"network": network},
                                    {"source": json.dumps(dict(source), sort_keys=True)})


def load_reader_weights(network: str, path: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """The float32 state dict of ``network``, dequantised; a missing, foreign or mismatched file
    raises ``CheckpointError``."""
    path = Path(path) if path is not None else reader_path(network)
    if not path.is_file():
        raise CheckpointError(path, f"no such file (the {network} face reader's weights; "
                                    "scripts/convert_face_readers.py makes them)")
    meta, tensors = read_tagged_safetensors(path, READER_FORMAT, READER_FORMAT_VERSION, "face-reader weights file")
    try:
        found = parse_json(meta.get("config", "{}"), path, error=CheckpointError).get("network")
    except (ValueError, AttributeError):
        raise CheckpointError(path, "bad face-reader config in metadata") from None
    if found != network:
        raise CheckpointError(path, f"holds the {found!r} network, not {network!r}")
    for key, t in tensors.items():
        if t.dtype != torch.uint8 if key.endswith("@q") else not t.is_floating_point():
            raise CheckpointError(path, f"{key} holds {t.dtype} values; "
                                        f"{'uint8' if key.endswith('@q') else 'floats'} are expected")
    try:
        state = dequantised(tensors)
    except KeyError as e:
        raise CheckpointError(path, f"a quantised tensor lacks its {e.args[0]!r}") from None
    except RuntimeError as e:  # scale or min of another shape than its tensor
        raise CheckpointError(path, f"a quantised tensor does not fit its scale ({str(e).splitlines()[0]})") from None
    bad = next((k for k, t in state.items() if not torch.isfinite(t).all()), None)
    if bad is not None:
        raise CheckpointError(path, f"{bad} holds NaN or infinite values")
    return state


def load_network(net: Net, network: str, path: str | os.PathLike[str] | None = None) -> Net:
    """``net`` with the weights of ``network`` loaded, in eval mode; weights that do not fit the
    architecture raise ``CheckpointError``."""
    state = load_reader_weights(network, path)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(path or reader_path(network),
                              f"does not fit the {network} network ({str(e).strip().splitlines()[0]})") from None
    return net.eval()


def dequantised(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Plain float32 tensors from a mix of float tensors and ``@q/@scale/@min`` triples."""
    out: dict[str, torch.Tensor] = {}
    for key, t in tensors.items():
        if key.endswith("@q"):
            name = key[:-2]
            scale, low = tensors[name + "@scale"].double(), tensors[name + "@min"].double()
            out[name] = (t.double() * scale + low).float()
        elif not key.endswith(QUANT_SUFFIXES):
            out[key] = t.float()
    return out
