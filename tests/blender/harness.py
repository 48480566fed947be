"""Running headless Blender (the ``bpy`` module) in subprocesses, with the extension installed.

Every Blender session is its own process with its own user folders (``BLENDER_USER_RESOURCES``
and friends under a temporary HOME), so nothing touches the real Blender configuration and every
test starts from factory settings. A script prints its results as ``LE_RESULT <json>`` lines;
the process must exit 0 (Blender 4.2/4.5 crash or hang at exit when an add-on leaves Python
callbacks registered).

Another Blender version runs the same tests either way:

- ``LATENT_EMOTION_BPY_PATH``: a folder holding another ``bpy`` module, put in front of this
  Python's packages (``pip install --no-deps --target .bpy-4.2 bpy==4.2.0``: the rest — torch,
  numpy — comes from this venv);
- ``LATENT_EMOTION_BPY_PYTHON``: another Python with its own ``bpy`` and packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("LATENT_EMOTION_BPY_PYTHON", sys.executable)
BPY_PATH = str(Path(os.environ["LATENT_EMOTION_BPY_PATH"]).resolve()) if os.environ.get("LATENT_EMOTION_BPY_PATH") else ""
REPO = "user_default"
PACKAGE = "latent_emotion"
MODULE = f"bl_ext.{REPO}.{PACKAGE}"
RESULT = "LE_RESULT "

SCRIPTS = Path(__file__).resolve().parent / "scripts"  # the scripts; prelude.py starts each
PRELUDE_IMPORT = 'from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)\n'


def script(name: str) -> str:
    """The text of ``scripts/<name>.py`` (a real file: edit and lint it as one)."""
    return (SCRIPTS / f"{name}.py").read_text(encoding="utf-8")


@dataclass
class Blender:
    """A Blender user setup in ``home``; ``run`` executes a script there."""

    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        res = self.home / "blender"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BLENDER_", "PYTHON"))}
        env.update({
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "BLENDER_USER_RESOURCES": str(res),
            "BLENDER_USER_CONFIG": str(res / "config"),
            "BLENDER_USER_SCRIPTS": str(res / "scripts"),
            "BLENDER_USER_DATAFILES": str(res / "datafiles"),
            "BLENDER_USER_EXTENSIONS": str(res / "extensions"),
            # Small models: threads only cost start-up time (and the machine is shared).
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        })
        env["PYTHONPATH"] = os.pathsep.join(p for p in (BPY_PATH, str(SCRIPTS)) if p)
        env.update({"LE_MODULE": MODULE, "LE_ROOT": str(ROOT), "LE_RESULT": RESULT})
        env.update(self.extra_env)
        return env

    def run(self, script: str, *args: str, timeout: float = 300, env: dict[str, str] | None = None,
            expect_rc: int = 0) -> dict:
        """Run ``script`` (a script's text, ``script(name)``, started by the prelude) in a fresh process;
        the merged LE_RESULT values."""
        text = textwrap.dedent(script)
        if not text.startswith(PRELUDE_IMPORT):
            text = PRELUDE_IMPORT + text
        path = self.home / f"script_{abs(hash(text)) % 10**10}.py"
        path.write_text(text)
        r = subprocess.run([PYTHON, str(path), *args], capture_output=True, text=True, timeout=timeout,
                           env={**self.env, **(env or {})}, cwd=self.home)
        out = {}
        for line in r.stdout.splitlines():
            if line.startswith(RESULT):
                out.update(json.loads(line[len(RESULT):]))
        if r.returncode != expect_rc:
            raise AssertionError(f"Blender script exited {r.returncode} (expected {expect_rc})\n"
                                 f"--- stdout ---\n{r.stdout[-6000:]}\n--- stderr ---\n{r.stderr[-6000:]}")
        out["_stdout"], out["_stderr"] = r.stdout, r.stderr
        return out


INSTALL = script("install")


def install(blender: Blender, zip_path: Path) -> dict:
    """Install the extension zip into the user repository of ``blender``."""
    return blender.run(INSTALL, str(zip_path))
