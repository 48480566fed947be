"""Running headless Blender (the ``bpy`` module) in subprocesses, with the extension installed.

Blender runs with its own user folders (``BLENDER_USER_RESOURCES`` and friends under a temporary
HOME), so nothing touches the real Blender configuration and every test starts from factory
settings. ``Blender.run`` starts a process for its script; ``SharedBlender.run`` gives the script to
the test worker's shared process (``Session``), which reads the factory settings after each script:
most tests need no more, and the start of Python, bpy and torch is paid once. A script prints its
results as ``LE_RESULT <json>`` lines; it must exit 0 (Blender 4.2/4.5 crash or hang at exit when
an add-on leaves Python callbacks registered).

Another Blender version runs the same tests either way:

- ``LATENT_EMOTION_BPY_PATH``: a folder holding another ``bpy`` module, put in front of this
  Python's packages (``pip install --no-deps --target .bpy-4.2 bpy==4.2.0``: the rest — torch,
  numpy — comes from this venv);
- ``LATENT_EMOTION_BPY_PYTHON``: another Python with its own ``bpy`` and packages.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import textwrap
import time
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

    def script_file(self, script: str) -> Path:
        """``script`` (a script's text, ``script(name)``, started by the prelude) written in ``home``."""
        text = textwrap.dedent(script)
        if not text.startswith(PRELUDE_IMPORT):
            text = PRELUDE_IMPORT + text
        path = self.home / f"script_{abs(hash(text)) % 10**10}.py"
        path.write_text(text)
        return path

    def run(self, script: str, *args: str, timeout: float = 300, env: dict[str, str] | None = None,
            expect_rc: int = 0) -> dict:
        """Run ``script`` in a fresh process; the merged LE_RESULT values."""
        r = subprocess.run([PYTHON, str(self.script_file(script)), *args], capture_output=True, text=True,
                           timeout=timeout, env={**self.env, **(env or {})}, cwd=self.home)
        return _outcome(r.returncode, r.stdout, r.stderr, expect_rc)


def _outcome(code: int, stdout: str, stderr: str, expect_rc: int = 0) -> dict:
    """The merged LE_RESULT values of a script's output, once it exited ``expect_rc``."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith(RESULT):
            out.update(json.loads(line[len(RESULT):]))
    if code != expect_rc:
        raise AssertionError(f"Blender script exited {code} (expected {expect_rc})\n"
                             f"--- stdout ---\n{stdout[-6000:]}\n--- stderr ---\n{stderr[-6000:]}")
    out["_stdout"], out["_stderr"] = stdout, stderr
    return out


class Session:
    """One Blender process that runs scripts one after another (``scripts/session.py``), reading
    Blender's factory settings after each: a test that needs no fresh process saves the start of
    Python, bpy and torch (~2.5 CPU-seconds). Started again after a script that crashed or hung it."""

    def __init__(self, blender: Blender):
        self.blender, self.process, self.count = blender, None, 0

    def run(self, path: Path, args: tuple[str, ...], env: dict[str, str], timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([PYTHON, str(SCRIPTS / "session.py")], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.blender.env,
                                            cwd=self.blender.home, text=True)
        self.count += 1
        out, err = (self.blender.home / f"session_{os.getpid()}_{self.count}.{s}" for s in ("out", "err"))
        request = dict(script=str(path), args=list(args), env=env, cwd=str(self.blender.home), stdout=str(out),
                       stderr=str(err))
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._answer(timeout)
        stdout, stderr = (p.read_text(errors="replace") if p.exists() else "" for p in (out, err))
        if answer is None:  # crashed or hung: the next script gets a new process
            self.process.kill()
            self.process.wait()
            self.process = None
            raise AssertionError(f"the shared Blender process crashed or hung running {path.name}\n"
                                 f"--- stdout ---\n{stdout[-6000:]}\n--- stderr ---\n{stderr[-6000:]}")
        return _outcome(answer, stdout, stderr)

    def _answer(self, timeout: float) -> int | None:
        """The exit code the process answers with (its other output is Blender's, between scripts)."""
        end, fd, said = time.monotonic() + timeout, self.process.stdout.fileno(), b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while selector.select(max(0.0, end - time.monotonic())):
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                said += chunk
                for line in said.split(b"\n")[:-1]:  # whole lines only
                    if line.startswith(b"LE_DONE "):
                        return int(line.split()[1])
        return None

    def close(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.stdin.close()
                try:
                    self.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None


@dataclass
class SharedBlender(Blender):
    """A Blender whose ``run`` uses the test worker's shared process (``Session``) instead of a fresh
    one: for scripts that exit 0 and need nothing a fresh process gives beyond factory settings (no
    first import, no process-wide setting, no module patched)."""

    session: Session | None = None

    def run(self, script: str, *args: str, timeout: float = 300, env: dict[str, str] | None = None,
            expect_rc: int = 0) -> dict:
        assert expect_rc == 0, "a script that must exit non-zero needs its own process: Blender.run"
        return self.session.run(self.script_file(script), args, {**self.env, **(env or {})}, timeout)


INSTALL = script("install")


def install(blender: Blender, zip_path: Path) -> dict:
    """Install the extension zip into the user repository of ``blender``."""
    return blender.run(INSTALL, str(zip_path))
