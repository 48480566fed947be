"""A pickle reader that executes nothing: for NVIDIA's StyleGAN network pickles.

Those pickles store each network as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``,
where ``meta`` carries the Python source of the defining module and the object's state. NVIDIA's
own loader runs that source. We resolve only an allow-list of globals, and the persistence hook
becomes ``PersistentRecord`` (class name + state) with the source kept as inert text. Any other
global (``os.system``, ``builtins.eval``...) stops the read before anything is called.
"""

from __future__ import annotations

import collections
import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names something outside the allow-list."""


@dataclass
class PersistentRecord:
    """What NVIDIA's persistence hook would have rebuilt, without rebuilding it."""

    class_name: str
    state: dict[str, Any]
    module_src: str = field(repr=False, default="")

    @property
    def init_args(self) -> tuple[Any, ...]:
        return tuple(self.state.get("_init_args", ()) or ())

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs", {}) or {})

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and buffers of this module and its submodules, by dotted name."""
        out: dict[str, torch.Tensor] = {}
        for key in ("_parameters", "_buffers"):
            for name, value in (self.state.get(key) or {}).items():
                if value is not None:
                    out[prefix + name] = value.detach() if isinstance(value, torch.Tensor) else value
        for name, sub in (self.state.get("_modules") or {}).items():
            if isinstance(sub, PersistentRecord):
                out.update(sub.tensors(f"{prefix}{name}."))
        return out

    def submodule(self, dotted: str) -> PersistentRecord | None:
        rec: Any = self
        for part in dotted.split("."):
            rec = (rec.state.get("_modules") or {}).get(part) if isinstance(rec, PersistentRecord) else None
        return rec if isinstance(rec, PersistentRecord) else None


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict, nothing more."""


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise UnsafePickleError("malformed persistent object (expected a dict with type='class')")
    class_name = meta.get("class_name")
    state = meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise UnsafePickleError("malformed persistent object (class_name or state missing)")
    src = meta.get("module_src")
    return PersistentRecord(class_name, dict(state), src if isinstance(src, str) else "")


def _load_storage_from_bytes(data: bytes) -> Any:
    # torch pickles each storage as a nested torch.save file; read it weights-only.
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError("storage payload is not bytes")
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _rebuild_tensor_v2(storage: Any, offset: int, size: Any, stride: Any, requires_grad: bool = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafePickleError("tensor data is not a torch storage")
    return torch._utils._rebuild_tensor_v2(storage, int(offset), tuple(size), tuple(stride), False,
                                           collections.OrderedDict())


def _rebuild_parameter(data: Any, requires_grad: bool = False, backward_hooks: Any = None,
                       *_state: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError("parameter data is not a tensor")
    return data


def _numpy_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise UnsafePickleError("numpy array of a foreign subtype")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError("numpy scalar of an object dtype")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    # Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); nothing else is needed.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("_codecs.encode is allowed only for latin-1 text")
    return text.encode("latin-1")


_ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,  # protocol 2 keeps Python 2's module name
    ("__builtin__", "frozenset"): frozenset,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
}
for _np_core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_np_core, "_reconstruct")] = _numpy_reconstruct
    _ALLOWED[(_np_core, "scalar")] = _numpy_scalar
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
ALLOWED_GLOBALS = frozenset(f"{m}.{n}" for m, n in _ALLOWED)

_HINTS = {
    "dnnlib.tflib": "this is a TensorFlow StyleGAN pickle; convert it with NVIDIA's stylegan2-ada-pytorch legacy.py first",
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            pass
        hint = next((h for prefix, h in _HINTS.items() if module.startswith(prefix)), "")
        raise UnsafePickleError(f"refusing global {module}.{name}" + (f" ({hint})" if hint else
                                                                      " (not on the allow-list)"))

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refusing persistent id in a plain pickle")


def safe_load(data: bytes | io.BufferedIOBase) -> Any:
    """Unpickle with the allow-list; raises ``UnsafePickleError`` or ``pickle.UnpicklingError``."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    return _RestrictedUnpickler(stream).load()
