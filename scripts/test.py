#!/usr/bin/env python3
"""Set up what is missing (scripts/install_deps.py; a second or so when nothing is), then run the
CI tier of the test suite (everything but the lab's training tests), the Blender tests once more on
the Blender LTS (bpy 4.2), and the lab tier when lab/ changed since it last passed here.

    python3 scripts/test.py            # what CI runs (.ci/run) and the README gives
    python3 scripts/test.py --lab      # the lab tier as well, whatever changed
    python3 scripts/test.py -k render  # other arguments go to pytest: one pass, as given

The lab tier's record, ``tests/lab-tier.txt``, holds the git tree ids of what it last passed on
(``lab/`` and its test files); a passing lab tier rewrites it, to be committed with the change.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_RECORD = ROOT / "tests" / "lab-tier.txt"
# What the lab tier covers: a change to any of these runs it (the test files are those that hold
# tests marked ``lab``).
LAB_PATHS = ("lab", "scripts/train_default_model.py", "scripts/train_probe.py", "scripts/make_default_directions.py",
             "scripts/eval_default_model.py", "scripts/fit_fidelity.py", "tests/test_fit_generator.py",
             "tests/test_probe.py", "tests/test_default_model.py", "tests/test_real_face_loop.py", "models/standin")


def _tree_ids() -> str | None:
    """One line per LAB_PATHS entry: its git object id in the working tree's index, or None
    outside a git checkout (then the lab tier always runs)."""
    try:
        out = subprocess.run(["git", "ls-files", "-s", "--", *LAB_PATHS], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    if not out.strip():
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *LAB_PATHS], cwd=ROOT, capture_output=True,
                           text=True).stdout
    return out if not dirty.strip() else None  # uncommitted lab changes: run the tier


def _lab_changed(ids: str | None) -> bool:
    return ids is None or not LAB_RECORD.exists() or LAB_RECORD.read_text() != ids


def _workers() -> list[str]:
    """pytest-xdist's options for one worker per CPU this process may use (most tests keep torch on
    one thread, so the cores are what bounds the suite's time). A module whose tests share a costly
    module fixture marks them ``xdist_group`` so that one worker makes it, not each."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return ["-n", str(cpus), "--dist", "loadgroup"] if cpus > 1 else []


def _run(python: str, args: list[str], title: str, env: dict[str, str] | None = None) -> int:
    print(f"\n{title}", flush=True)
    start = time.perf_counter()
    code = subprocess.run([python, "-m", "pytest", *_workers(), *args], cwd=ROOT, env=env).returncode
    print(f"({title.rstrip(':')}: {time.perf_counter() - start:.0f} s)", flush=True)
    return code


def main(argv: list[str]) -> int:
    setup = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_deps.py")], cwd=ROOT)
    if setup.returncode != 0:
        return setup.returncode
    python = str(ROOT / ".venv" / "bin" / "python")
    force_lab = "--lab" in argv
    argv = [a for a in argv if a != "--lab"]
    if argv:
        return subprocess.run([python, "-m", "pytest", *argv], cwd=ROOT).returncode
    ci = _run(python, ["-q", "-m", "not lab"], "The CI tier (all but the lab's training tests):")
    lts_env = {**os.environ, "LATENT_EMOTION_BPY_PATH": str(ROOT / ".bpy-4.2"), "LATENT_EMOTION_BPY_VERSION": "4.2"}
    lts = _run(python, ["tests/blender", "-q", "-m", "not lab"], "The Blender tests on the Blender LTS (bpy 4.2):",
               env=lts_env)
    lab = 0
    ids = _tree_ids()
    if force_lab or _lab_changed(ids):
        lab = _run(python, ["-q", "-m", "lab"], "The lab tier (lab/ changed since it last passed, or --lab):")
        if lab == 0 and ids is not None:
            LAB_RECORD.write_text(ids)
    else:
        print("\nThe lab tier: skipped, lab/ is as it was when the tier last passed (tests/lab-tier.txt)")
    return ci or lts or lab


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
