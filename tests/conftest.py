"""Shared fixtures: small real generators built by the tests themselves."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

# Video 1 of the paper's Figure 7 (all of it is in examples/fig7.txt).
FIG7_VIDEO1 = """# Video 1:
joy disgusting
joy eye-open
surprise joy turning-right
joy turning-right
joy anger
"""

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.model.allocator import keep_freed_memory  # noqa: E402
from backend.model.generator import Generator, GeneratorConfig  # noqa: E402

keep_freed_memory()  # as the CLI runs: large freed blocks are reused, not faulted in afresh


@pytest.fixture(scope="session", autouse=True)
def private_frame_cache(tmp_path_factory):
    """Renders that name no cache (``python -m backend render`` without ``--cache``) use this
    session's own folder, never the user's ~/.cache; parallel test workers each have theirs."""
    patch = pytest.MonkeyPatch()
    patch.setenv("LATENT_EMOTION_CACHE", str(tmp_path_factory.mktemp("frame-cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session", autouse=True)
def torch_engine_by_default():
    """Frames made with engine 'auto' (the CLI, the add-on) come from torch eager: the onnx engine
    exports each generator first (seconds a model). tests/test_engines.py asks for onnx by name."""
    patch = pytest.MonkeyPatch()
    patch.setenv("LATENT_EMOTION_ENGINE", "torch")
    yield
    patch.undo()


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one intra-op thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    for many small ops a second thread's synchronisation costs more than it saves, and when
    another process holds a core it stalls (measured up to 40x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def with_mean_w_avg(G: Generator, n: int = 2000, seed: int = 5) -> Generator:
    """Set ``w_avg`` to the mean of mapping(z) over ``n`` z, as a trained generator's is (truncation
    and inversion start from it)."""
    with torch.no_grad():
        z = torch.randn(n, G.config.z_dim, generator=torch.Generator().manual_seed(seed))
        G.mapping.w_avg.copy_(G.mapping(z)[:, 0].mean(dim=0))
    return G


def tiny_config(**overrides) -> GeneratorConfig:
    """A 32x32 generator that runs in milliseconds."""
    base = dict(img_resolution=32, z_dim=32, w_dim=32, channel_base=512, channel_max=32, mapping_layers=2)
    base.update(overrides)
    return GeneratorConfig(**base)


def randomize_(G: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter and buffer non-trivial values, so that each one matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(G.named_parameters()) + list(G.named_buffers()):
            if name.endswith("resample_filter"):
                continue
            t.copy_(torch.randn(t.shape, generator=g) * (0.3 if t.ndim <= 1 else 1.0))
    return G


@pytest.fixture
def tiny_G() -> Generator:
    torch.manual_seed(0)
    return randomize_(Generator(tiny_config())).eval()


def script_module(name: str):
    """``scripts/<name>.py`` imported as module ``name`` (its ``main`` then runs in this process)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def backend_cli(*args: object, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``python -m backend ARGS`` run in this process from the repository root, as a
    CompletedProcess (exit code, stdout, stderr): no interpreter and torch start (~2 CPU-seconds
    a run). Torch keeps one thread, as ``OMP_NUM_THREADS=1`` would give a child process.
    tests/test_cli.py runs the real ``python -m backend`` process."""
    from backend.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    threads, omp = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # backend.model.threads then leaves the count alone
    torch.set_num_threads(1)
    try:
        with (contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err),
              _stdin(stdin), warnings.catch_warnings()):
            # A warning shows on stderr under a process's filters (less pytest's "always" for deprecations).
            warnings.filters[:] = [f for f in warnings.filters if f[:2] != ("always", None)
                                   or f[2] not in (DeprecationWarning, PendingDeprecationWarning)]
            warnings.showwarning = _show_warning
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: usage errors (2) and --help (0); sys.exit("message")
                code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
    finally:
        torch.set_num_threads(threads)
        if omp is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = omp
    return subprocess.CompletedProcess(["python", "-m", "backend", *argv], code, out.getvalue(), err.getvalue())


def _show_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _stdin(text: str | None):
    saved = sys.stdin
    sys.stdin = io.StringIO(text or "")
    try:
        yield
    finally:
        sys.stdin = saved
