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

# Imported by every script: enable the add-on, point its preferences at the test rig.
PRELUDE = textwrap.dedent(f'''
    import json, os, sys
    import bpy, addon_utils

    MODULE = {MODULE!r}
    ROOT = {str(ROOT)!r}

    def result(**values):
        print({RESULT!r} + json.dumps(values), flush=True)

    def enable(rig=True):
        """Enable the installed extension; return its api module."""
        import importlib
        errors = []
        mod = addon_utils.enable(MODULE, default_set=True, handle_error=errors.append)
        if mod is None or errors:
            raise SystemExit(f"enabling {{MODULE}} failed: {{errors}}")
        if rig:
            prefs = bpy.context.preferences.addons[MODULE].preferences
            prefs.model_path = os.environ["LE_TEST_MODEL"]
            prefs.directions_path = os.environ["LE_TEST_DIRECTIONS"]
            prefs.cache_dir = os.environ["LE_TEST_CACHE"]
            prefs.device = "cpu"
        return importlib.import_module(MODULE + ".api")

    def addon(name):
        import importlib
        return importlib.import_module(MODULE + "." + name)

    def repo_backend():
        """The repository's own backend package (not the add-on's copy), for independent checks."""
        if ROOT not in sys.path:
            sys.path.insert(0, ROOT)
        import backend
        return backend

    def sequencer_output(scene, size=32):
        """Renders that give the sequencer's input back: ``size`` pixels square, no dithering, no
        compositing, the Standard view (frames comparable with the faces' cached frames)."""
        r = scene.render
        r.resolution_x = r.resolution_y = size
        r.resolution_percentage = 100
        r.dither_intensity = 0.0
        r.use_sequencer = True
        r.use_compositing = False
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"

    class Event:
        def __init__(self, type): self.type, self.value = type, "PRESS"

    def events_until_done(op, first=None, timeout=120):
        """Send a modal operator what a window would: ``first`` (e.g. ESC), then timer events until it ends."""
        import time
        states = [sorted(op.modal(bpy.context, Event(first)))[0]] if first else []
        end = time.time() + timeout
        while time.time() < end:
            states.append(sorted(op.modal(bpy.context, Event("TIMER")))[0])
            if states[-1] != "RUNNING_MODAL":
                return states[-1]
            time.sleep(0.01)
        raise SystemExit("the modal operator did not end")
''')


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
        if BPY_PATH:
            env["PYTHONPATH"] = BPY_PATH
        env.update(self.extra_env)
        return env

    def run(self, script: str, *args: str, timeout: float = 300, env: dict[str, str] | None = None,
            prelude: str = PRELUDE, expect_rc: int = 0) -> dict:
        """Run ``script`` (after the prelude) in a fresh process; the merged LE_RESULT values."""
        path = self.home / f"script_{abs(hash(script)) % 10**10}.py"
        path.write_text(prelude + "\n" + textwrap.dedent(script))
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


INSTALL = '''
    zip_path = sys.argv[1]
    repos = {r.module: r.directory for r in bpy.context.preferences.extensions.repos}
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo=%r, enable_on_install=True)
    enabled = MODULE in bpy.context.preferences.addons
    result(enabled=enabled, repo_dir=repos.get(%r), version=list(bpy.app.version),
           user_extensions=bpy.utils.user_resource("EXTENSIONS"))
''' % (REPO, REPO)


def install(blender: Blender, zip_path: Path) -> dict:
    """Install the extension zip into the user repository of ``blender``."""
    return blender.run(INSTALL, str(zip_path))
