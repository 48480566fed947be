"""Frame engines: what turns W+ codes into uint8 frames.

- ``torch``: the generator itself, eager (always available; the only engine off the CPU).
- ``onnx``: ONNX Runtime on the CPU, running the synthesis network exported once with
  ``torch.onnx.export(dynamo=True)``. Measured on the default model (``scripts/bench_generator.py
  --engines``, docs/speed.md): about half torch's time a frame, within 1/255 of its frames.

``pick_engine(..., "auto")`` gives ``onnx`` on the CPU for models up to 256 px in the CLI and
1024 px in the add-on (``auto_onnx_max_resolution``: where it was measured to pay) when
onnxruntime imports and the export works, ``torch`` otherwise (with the reason in ``Engine.note``).
Exported graphs are cached as ``<folder>/synthesis-<fingerprint>-<settings digest>.onnx``, keyed
by the weights, the export settings and the torch/onnxruntime versions, written atomically; a
cached graph that does not load is exported again; a graph is touched when used, and after an
export the least recently used are removed while the folder's graphs exceed ``GRAPH_CACHE_BYTES``.
ORT sessions get the thread count the one policy (``threads.py``) gave torch, rebuilt when it
changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from .allocator import freed_memory_kept
from .generator import Generator, NoiseMode, images_to_uint8, synthesize_frames

ENGINE_CHOICES = ("auto", "torch", "onnx")
# Bump when the exported graph changes meaning (the wrapper below, how frames are made from it).
EXPORT_VERSION = 1
# An exported graph must give frames this close to torch's (in uint8 steps) or it is not used.
MAX_FRAME_DIFFERENCE = 1
# The graphs folder's size past which the least recently used graphs are removed (a 1024 px
# config-F graph is ~120 MB; the default model's ~6 MB).
GRAPH_CACHE_BYTES = 2 * 1024 ** 3
# 'auto' picks onnx up to this resolution: where it was measured to pay (docs/speed.md). ONNX Runtime
# has its own memory arena; torch's 1024 px frames are faster where malloc keeps freed blocks
# (``allocator.keep_freed_memory``: the CLI) than where it does not (the add-on's worker thread).
# Kept: the default model 0.33-0.56x torch's time a frame, 256 px 0.85-0.89x, config-F 1024
# 1.05-1.09x (slower). Not kept: config-F 1024 0.54-0.59x.
AUTO_ONNX_MAX_RESOLUTION = 1024
AUTO_ONNX_MAX_RESOLUTION_KEPT = 256


def auto_onnx_max_resolution() -> int:
    """The largest model 'auto' gives onnx in this process (see above)."""
    return AUTO_ONNX_MAX_RESOLUTION_KEPT if freed_memory_kept() else AUTO_ONNX_MAX_RESOLUTION


class EngineError(ValueError):
    """An engine asked for by name cannot run here; the message says why and what to use."""


class Engine(Protocol):
    name: str
    note: str  # why this engine (a fallback's reason), "" when it is the one asked for

    def frames(self, ws: np.ndarray, stop_at: int | None = None) -> np.ndarray:
        """uint8 frames (N, H, W, C) of W+ codes (N, num_ws, w_dim), one code per run, so a frame's
        bytes never depend on its neighbours; ``stop_at``: low-resolution previews."""
        ...


class TorchEngine:
    """The generator, eager, on its own device."""

    name = "torch"

    def __init__(self, G: Generator, noise_mode: NoiseMode = "const", note: str = "") -> None:
        self.G, self.noise_mode, self.note = G, noise_mode, note

    def frames(self, ws: np.ndarray, stop_at: int | None = None) -> np.ndarray:
        return synthesize_frames(self.G, ws, batch=1, noise_mode=self.noise_mode, stop_at=stop_at)


class _Synthesis(torch.nn.Module):
    """What is exported: W+ (1, num_ws, w_dim) → image (1, C, H, W) floats, settings fixed."""

    def __init__(self, G: Generator, noise_mode: NoiseMode, fused: bool, stop_at: int | None) -> None:
        super().__init__()
        self.synthesis, self.noise_mode, self.fused, self.stop_at = G.synthesis, noise_mode, fused, stop_at

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return self.synthesis(ws, noise_mode=self.noise_mode, fused=self.fused, stop_at=self.stop_at)


def export_fused(G: Generator) -> bool:
    """Whether the exported graph uses the fused modulated convolution (one grouped convolution)
    rather than the unfused one (scale, convolve, scale). Measured under ONNX Runtime
    (``bench_generator.py --engines``, docs/speed.md): unfused 0.5-0.8x fused's time on the default
    model and at 256 px, 1 and 2 threads; unfused frames also do not change with the thread count."""
    return False


def graph_file(folder: Path, fingerprint: str, resolution: int, noise_mode: str, fused: bool,
               onnxruntime_version: str) -> Path:
    """The cached graph's name: the weights' fingerprint and a digest of everything else it depends on."""
    settings = (f"latent-emotion.onnx\0v{EXPORT_VERSION}\0fingerprint={fingerprint}\0res={resolution}"
                f"\0noise={noise_mode}\0fused={fused}\0torch={torch.__version__}\0onnxruntime={onnxruntime_version}")
    digest = hashlib.sha256(settings.encode()).hexdigest()[:24]
    return Path(folder) / f"synthesis-{fingerprint[:16]}-{digest}.onnx"


def prune_graphs(folder: Path, keep: Path, limit: int = GRAPH_CACHE_BYTES) -> list[Path]:
    """Remove the least recently used graphs (oldest modification time: ``OnnxEngine`` touches a
    graph when it loads it) until the folder's graphs take at most ``limit`` bytes; ``keep`` (the
    graph in use) stays whatever its size. Returns what was removed."""
    graphs = []
    for path in Path(folder).glob("synthesis-*.onnx"):
        with contextlib.suppress(OSError):
            st = path.stat()
            graphs.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in graphs)
    removed = []
    for _, size, path in sorted(graphs, key=lambda g: g[0]):
        if total <= limit:
            break
        if path == Path(keep):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
            total -= size
    return removed


class OnnxEngine:
    """ONNX Runtime on the CPU running G's exported synthesis; graphs exported on first use of a
    resolution and cached in ``folder``."""

    name = "onnx"

    def __init__(self, G: Generator, fingerprint: str, folder: Path, noise_mode: NoiseMode = "const",
                 fused: bool | None = None) -> None:
        import onnxruntime  # ImportError when it is not installed: pick_engine falls back

        if G.device.type != "cpu":
            raise EngineError(f"the onnx engine runs on the CPU, not {G.device.type}; use --engine torch or --device cpu")
        if noise_mode == "random":
            raise EngineError("the onnx engine makes frames with fixed noise only (noise 'const' or 'none')")
        self.ort, self.G, self.fingerprint, self.folder = onnxruntime, G, fingerprint, Path(folder)
        self.noise_mode, self.note = noise_mode, ""
        self.fused = export_fused(G) if fused is None else fused  # None: the measured rule
        self.exports = 0  # graphs exported by this engine (not found in the cache)
        self._sessions: dict[int, Any] = {}
        self._threads = 0
        self._session(G.config.img_resolution)  # export failures show now, not at the first frame

    def graph_path(self, resolution: int) -> Path:
        """Where the graph that stops at ``resolution`` is cached."""
        return graph_file(self.folder, self.fingerprint, resolution, self.noise_mode, self.fused, self.ort.__version__)

    def frames(self, ws: np.ndarray, stop_at: int | None = None) -> np.ndarray:
        ws = np.ascontiguousarray(ws, np.float32)
        res = stop_at or self.G.config.img_resolution
        if len(ws) == 0:
            return np.zeros((0, res, res, self.G.config.img_channels), np.uint8)
        session = self._session(res)
        return np.concatenate([images_to_uint8(torch.from_numpy(session.run(None, {"ws": ws[i:i + 1]})[0]))
                               for i in range(len(ws))])

    def _session(self, resolution: int) -> Any:
        threads = torch.get_num_threads()  # what threads.py's policy chose for this model
        if threads != self._threads:
            self._sessions.clear()
            self._threads = threads
        if resolution not in self._sessions:
            self._sessions[resolution] = self._load(resolution)
        return self._sessions[resolution]

    def _load(self, resolution: int) -> Any:
        path = self.graph_path(resolution)
        if path.is_file():
            try:
                session = self._open(path)
                with contextlib.suppress(OSError):
                    os.utime(path)  # used now: the last to be pruned
                return session
            except Exception:  # noqa: BLE001 — a damaged or foreign file: export it again
                path.unlink(missing_ok=True)
        self._export(path, resolution)
        session = self._open(path)
        self._check(session, resolution)
        prune_graphs(self.folder, keep=path)
        return session

    def _open(self, path: Path) -> Any:
        so = self.ort.SessionOptions()
        so.intra_op_num_threads = self._threads
        so.inter_op_num_threads = 1
        so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":  # threads.prepare_openmp's choice
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return self.ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def _export(self, path: Path, resolution: int) -> None:
        from ..files import replacing

        stop_at = None if resolution == self.G.config.img_resolution else resolution
        module = _Synthesis(self.G, self.noise_mode, self.fused, stop_at).eval()
        ws = self.G.w_avg.reshape(1, 1, -1).repeat(1, self.G.num_ws, 1)
        with replacing(path, suffix=".onnx", durable=False) as tmp, _quiet(), torch.no_grad():
            torch.onnx.export(module, (ws,), str(tmp), dynamo=True, input_names=["ws"], output_names=["img"],
                              external_data=False, optimize=True, verbose=False)
        self.exports += 1

    def _check(self, session: Any, resolution: int) -> None:
        """The exported graph's frame of w_avg against torch's: a wrong export is never used."""
        ws = np.repeat(self.G.w_avg.cpu().numpy()[None, None], self.G.num_ws, axis=1)
        stop_at = None if resolution == self.G.config.img_resolution else resolution
        want = synthesize_frames(self.G, ws, noise_mode=self.noise_mode, stop_at=stop_at).astype(np.int16)
        got = images_to_uint8(torch.from_numpy(session.run(None, {"ws": ws.astype(np.float32)})[0]))
        if got.shape != want.shape or np.abs(got - want).max() > MAX_FRAME_DIFFERENCE:
            self.graph_path(resolution).unlink(missing_ok=True)
            raise EngineError(f"the exported graph's frames differ from torch's ({self.fingerprint[:12]}, {resolution} px)")


# Warnings the exporter raises that are not ours to show: its own modules', and torch's pytree
# deprecation that surfaces through copyreg while the graph is traced.
_EXPORTER_WARNINGS = (dict(module=r"(torch\.onnx|torch\._?export|torch\._dynamo|onnxscript|onnx_ir)(\.|$)"),
                      dict(message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning))


@contextlib.contextmanager
def _quiet():
    """The exporter's log lines and warnings are not ours to show. Warnings are ignored by filters
    added once, for the exporter's warnings only: ``warnings.catch_warnings`` swaps the process's
    filters, and the add-on exports on a worker thread while Blender's main thread runs.
    (``verbose=False`` keeps the exporter off stdout: no redirect of ``sys.stdout``, which in
    Blender would swallow the main thread's prints while the worker exports.)"""
    for spec in _EXPORTER_WARNINGS:  # filterwarnings replaces an identical filter: never a duplicate
        warnings.filterwarnings("ignore", **spec)  # type: ignore[arg-type]
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


_warned: set[str] = set()


def _warn_once(message: str, warn: Callable[[str], None] | None) -> None:
    if message not in _warned:
        _warned.add(message)
        (warn or (lambda m: print(m, file=sys.stderr)))(message)


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def pick_engine(G: Generator, fingerprint: str, choice: str | None = None, *, graphs: Path | None = None,
                noise_mode: NoiseMode = "const", warn: Callable[[str], None] | None = None) -> Engine:
    """The engine for ``choice`` ('auto', 'torch', 'onnx'; None: 'auto'); ``graphs``: the folder of
    exported graphs (``rendering.render.graph_dir``). 'auto' is $LATENT_EMOTION_ENGINE where that
    is set, else onnx on the CPU where it loads and torch otherwise (an export that fails is reported
    once through ``warn``, default stderr); 'onnx' that cannot run raises EngineError."""
    if choice in (None, "auto"):
        choice = os.environ.get("LATENT_EMOTION_ENGINE") or "auto"
    if choice not in ENGINE_CHOICES:
        raise EngineError(f"unknown engine {choice!r}; use one of {', '.join(ENGINE_CHOICES)}")
    if choice == "torch":
        return TorchEngine(G, noise_mode)
    if choice == "auto":
        if G.device.type != "cpu":
            return TorchEngine(G, noise_mode, note=f"on {G.device.type}")
        if noise_mode == "random":
            return TorchEngine(G, noise_mode, note="random noise")
        if graphs is None:
            return TorchEngine(G, noise_mode, note="no folder for exported graphs")
        limit = auto_onnx_max_resolution()
        if G.config.img_resolution > limit:
            return TorchEngine(G, noise_mode, note=f"onnx is not measured to pay above {limit} px here")
    if graphs is None:
        raise EngineError("the onnx engine needs a folder for its exported graphs")
    try:
        return OnnxEngine(G, fingerprint, graphs, noise_mode)
    except ImportError:
        if choice == "onnx":
            raise EngineError("the onnx engine needs onnxruntime, onnx and onnxscript "
                              "(pip install -r requirements/backend.txt); use --engine torch") from None
        return TorchEngine(G, noise_mode, note="onnxruntime is not installed")
    except EngineError:
        if choice == "onnx":
            raise
        reason = "the exported graph did not match torch's frames"
    except Exception as e:  # noqa: BLE001 — the exporter fails in many ways; torch still works
        if choice == "onnx":
            raise EngineError(f"exporting the generator to ONNX failed: {str(e).splitlines()[0][:200]}") from None
        reason = f"ONNX export failed ({type(e).__name__})"
    _warn_once(f"frames are made by torch: {reason}", warn)
    return TorchEngine(G, noise_mode, note=reason)
