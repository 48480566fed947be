"""The backend's Python packages: where the add-on looks for them, and installing them.

Packages are installed by ``backend.deps`` into the extension's user folder
(``extension_path_user(__package__, "site-packages")``), which register() appends to the END of
``sys.path`` so that Blender's own modules (numpy above all) always win.

Installing runs pip in a worker thread that never touches bpy; the UI polls ``InstallJob`` from a
``bpy.app.timers`` callback (see ``install.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import bpy

from .state import STATE

# Import name of each run-time package the add-on needs (requirements/backend.txt has them all).
RUNTIME_MODULES: tuple[str, ...] = ("torch", "cv2", "safetensors")

_added_path: str | None = None


def site_packages_dir(package: str, create: bool = True) -> str:
    from .backend.deps import SITE_PACKAGES_DIRNAME

    return bpy.utils.extension_path_user(package, path=SITE_PACKAGES_DIRNAME, create=create)


def add_site_packages(package: str) -> str:
    """Append the extension's site-packages to sys.path (once)."""
    global _added_path
    path = site_packages_dir(package)
    if path not in sys.path:
        sys.path.append(path)
        _added_path = path
    importlib.invalidate_caches()
    return path


def remove_site_packages() -> None:
    """Undo ``add_site_packages`` (modules already imported stay loaded)."""
    global _added_path
    if _added_path is not None and _added_path in sys.path:
        sys.path.remove(_added_path)
    _added_path = None


def missing_modules(modules: Sequence[str] = RUNTIME_MODULES) -> list[str]:
    """The modules that cannot be imported; finds them without importing them."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: sys.modules[name] is None or has no spec
            found = False
        if not found:
            missing.append(name)
    return missing


_missing: list[str] | None = None


def missing(refresh: bool = False) -> list[str]:
    """``missing_modules()``, remembered (the UI asks on every redraw); ``refresh`` looks again."""
    global _missing
    if _missing is None or refresh:
        _missing = missing_modules()
    return _missing


@dataclass
class InstallJob:
    """A dependency installation in a worker thread; the main thread reads its fields."""

    steps: list = field(default_factory=list)
    index: int = 0
    title: str = ""
    done: bool = False
    error: str | None = None
    cancel_requested: bool = False
    _process: subprocess.Popen | None = None
    _thread: threading.Thread | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.index / max(1, len(self.steps)))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="latent-emotion-install", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_requested = True
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from .backend.deps import DepsError, run_plan
        from .backend.jobs import Cancelled

        tail: deque[str] = deque(maxlen=20)

        def progress(title: str, index: int, _total: int) -> None:
            self.index, self.title = index, title

        def started(process: subprocess.Popen) -> None:
            self._process = process
            if self.cancel_requested:  # cancel() came between two steps
                process.terminate()

        try:
            run_plan(self.steps, progress, cancel=lambda: self.cancel_requested, started=started,
                     output=tail.append)
        except (DepsError, Cancelled) as e:  # reported to the user by the main thread
            self.error = str(e) if self.cancel_requested or not tail else f"{e}:\n" + "\n".join(tail)
        except Exception as e:  # pip missing, no such program: said, not raised into a thread
            self.error = str(e)
        finally:
            self._process = None
            self.done = True


def plan_install(package: str, extra_pip_args: Sequence[str] = ()) -> list:
    """backend.deps' steps for installing the run-time packages into the user site-packages."""
    from pathlib import Path

    from .backend import deps

    numpy_version = None
    try:
        import numpy  # Blender's own, which the install must keep

        numpy_version = numpy.__version__
    except ImportError:
        pass
    return deps.blender_plan(sys.executable, Path(site_packages_dir(package)), numpy_version, extra_pip_args)


def current_job() -> InstallJob | None:
    return STATE.install_job


def start_install(package: str) -> InstallJob:
    job = STATE.install_job
    if job is not None and not job.done:
        return job
    job = STATE.install_job = InstallJob(plan_install(package))
    job.start()
    return job


def stop_install(wait: float = 5.0) -> None:
    """Cancel a running installation and wait a little for its thread (on unregister)."""
    job, STATE.install_job = STATE.install_job, None
    if job is not None and not job.done:
        job.cancel()
        deadline = time.monotonic() + wait
        job.join(max(0.0, deadline - time.monotonic()))


def after_install() -> list[str]:
    """Make freshly installed packages importable in this session; the ones still missing."""
    importlib.invalidate_caches()
    return missing(refresh=True)
