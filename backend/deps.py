"""Installing the project's dependencies (standard library only: it runs before they exist).

Two cases share this module:
- development: a ``.venv`` with everything the project and its tests need (``requirements/dev.txt``
  pinned by ``requirements/constraints.txt``), plus the Debian libraries ``import bpy`` needs;
- a real Blender: the backend's run-time packages installed with Blender's own Python into a
  folder the add-on puts on ``sys.path`` (under the extension's user directory), never into
  Blender's program folder, and keeping the numpy that Blender ships.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .jobs import Cancel, Progress, check_cancel

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
# Folder name, under the extension's user directory, that the add-on adds to sys.path.
SITE_PACKAGES_DIRNAME = "site-packages"
# What ``import bpy`` (the PyPI module) needs from Debian/Ubuntu.
BPY_DEBIAN_PACKAGES = ("libx11-6", "libxrender1", "libxfixes3", "libxi6", "libxkbcommon0", "libsm6", "libice6",
                       "libxext6", "libgl1", "libegl1", "libegl-mesa0", "libgl1-mesa-dri", "libgomp1", "libxxf86vm1")


class DepsError(RuntimeError):
    """Installation cannot go on; the message says what to do."""


@dataclass(frozen=True)
class Step:
    """One command of an installation plan, with what it is for."""

    title: str
    argv: tuple[str, ...]


def read_requirements(name: str) -> list[str]:
    """Requirement lines of ``requirements/<name>``, following ``-r`` includes."""
    out: list[str] = []
    for line in (REQUIREMENTS / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            out += read_requirements(line[3:].strip())
        else:
            out.append(line)
    return out


def requirement_name(line: str) -> str:
    for sep in ("==", ">=", "<=", "~=", "!=", "<", ">", "[", ";", " "):
        line = line.split(sep, 1)[0]
    return line.strip().lower().replace("_", "-")


def missing_debian_packages(packages: Sequence[str] = BPY_DEBIAN_PACKAGES) -> list[str]:
    """Packages dpkg does not know as installed; empty where there is no dpkg (not Debian)."""
    if shutil.which("dpkg-query") is None:
        return []
    # One query for all of them: unknown names go to stderr, known ones are listed with their status.
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Status}\n", *packages], capture_output=True, text=True)
    installed = {line.split(" ", 1)[0] for line in r.stdout.splitlines() if line.endswith("install ok installed")}
    return [p for p in packages if p not in installed]


# The Blender LTS that the Blender tests also run on, installed beside the venv's bpy.
LTS_BPY_DIR = ROOT / ".bpy-4.2"

# Written into a venv once everything pinned is installed; a set-up whose requirements and Python
# match it has nothing to do, so repeating the set-up costs a second, not a pip run.
STAMP_NAME = ".latent-emotion-requirements"


def requirements_digest() -> str:
    """What a dev venv was set up for: the requirement files' bytes and the Python version."""
    h = hashlib.sha256(f"{sys.version_info[:2]}\n".encode())
    for name in sorted(p.name for p in REQUIREMENTS.glob("*.txt")):
        h.update(name.encode() + b"\0" + (REQUIREMENTS / name).read_bytes() + b"\0")
    return h.hexdigest()


def venv_is_current(venv: Path, lts_bpy: Path | None = None) -> bool:
    stamp = venv / STAMP_NAME
    return (venv / "bin" / "python").exists() and stamp.is_file() and stamp.read_text().strip() == requirements_digest() \
        and (lts_bpy is None or (lts_bpy / "bpy").is_dir())


def mark_venv_current(venv: Path) -> None:
    (venv / STAMP_NAME).write_text(requirements_digest() + "\n")


def dev_plan(venv: Path, python: str = sys.executable, lts_bpy: Path | None = None) -> list[Step]:
    """Steps that make ``venv`` hold everything the project and its tests need (none when it
    already does); with ``lts_bpy``, also the LTS Blender's ``bpy`` in that folder."""
    vpy = venv / "bin" / "python"
    if venv_is_current(venv, lts_bpy):
        return []
    steps = []
    if not vpy.exists():
        steps.append(Step(f"create {venv}", (python, "-m", "venv", str(venv))))
    pip = (str(vpy), "-m", "pip", "install", "--disable-pip-version-check", "-q")
    steps.append(Step("install pinned requirements",
                      (*pip, "-r", str(REQUIREMENTS / "dev.txt"), "-c", str(REQUIREMENTS / "constraints.txt"))))
    if lts_bpy is not None:
        steps.append(Step(f"install the Blender LTS bpy into {lts_bpy}",
                          (*pip, "--no-deps", "--upgrade", "--target", str(lts_bpy),
                           *read_requirements("blender-lts.txt"))))
    return steps


def blender_numpy_version(blender_python: str) -> str | None:
    r = subprocess.run([blender_python, "-c", "import numpy; print(numpy.__version__)"], capture_output=True, text=True)
    return r.stdout.strip() or None if r.returncode == 0 else None


def blender_plan(blender_python: str, target: Path, numpy_version: str | None,
                 extra_pip_args: Sequence[str] = ()) -> list[Step]:
    """Steps that install the backend's run-time packages for a real Blender into ``target``."""
    target = target.resolve()
    program = Path(blender_python).resolve().parent.parent  # .../<version>/python
    if program in target.parents or target == program:
        raise DepsError(f"refusing to install into Blender's program folder ({target}); "
                        "choose a folder under the extension's user directory")
    reqs = [r for r in read_requirements("backend.txt") if requirement_name(r) != "numpy"]
    # Keep the numpy Blender ships: its own modules are built against it.
    pins = [f"numpy=={numpy_version}"] if numpy_version else []
    pip = (blender_python, "-m", "pip")
    return [
        Step("make sure pip is available", (blender_python, "-m", "ensurepip", "--upgrade")),
        Step(f"install into {target}", (*pip, "install", "--disable-pip-version-check", "--upgrade",
                                        "--target", str(target), *extra_pip_args, *reqs, *pins)),
    ]


def run_plan(steps: Sequence[Step], progress: Progress | None = None, cancel: Cancel | None = None,
             started: Callable[[subprocess.Popen], None] | None = None,
             output: Callable[[str], None] | None = None) -> None:
    """Run each step, reporting ``progress(title, index, total)``; stops with DepsError on the first
    failure. ``cancel()`` is asked before and after each step (``Cancelled``); ``started(process)`` gets each step's process,
    so that a cancel can also end a long step (pip installing torch) with ``process.terminate()``.
    ``output(line)`` gets what the steps print (else it goes to this process's output).
    """
    for i, step in enumerate(steps):
        check_cancel(cancel, "installation cancelled")
        if progress is not None:
            progress(step.title, i, len(steps))
        pipe = subprocess.PIPE if output is not None else None
        process = subprocess.Popen(step.argv, env={**os.environ, "PIP_NO_INPUT": "1"}, stdout=pipe,
                                   stderr=subprocess.STDOUT if pipe else None, text=True)
        if started is not None:
            started(process)
        if output is not None:
            for line in process.stdout:  # type: ignore[union-attr]
                output(line.rstrip())
        code = process.wait()
        check_cancel(cancel, "installation cancelled")
        if code != 0:
            raise DepsError(f"step '{step.title}' failed (exit {code}): {' '.join(step.argv)}")
    if progress is not None:
        progress("done", len(steps), len(steps))
