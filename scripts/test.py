#!/usr/bin/env python3
"""Set up what is missing (scripts/install_deps.py; a second or so when nothing is), then run
the whole test suite, and the Blender tests once more on the Blender LTS (bpy 4.2).
Arguments go to pytest and run one pass only: ``python3 scripts/test.py -k render -x``.

This is the test command of the README and of CI (.ci/run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    setup = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_deps.py")], cwd=ROOT)
    if setup.returncode != 0:
        return setup.returncode
    python = str(ROOT / ".venv" / "bin" / "python")
    if argv:
        return subprocess.run([python, "-m", "pytest", *argv], cwd=ROOT).returncode
    everything = subprocess.run([python, "-m", "pytest"], cwd=ROOT).returncode
    lts = {**os.environ, "LATENT_EMOTION_BPY_PATH": str(ROOT / ".bpy-4.2"), "LATENT_EMOTION_BPY_VERSION": "4.2"}
    print("\nThe Blender tests on the Blender LTS (bpy 4.2):", flush=True)
    on_lts = subprocess.run([python, "-m", "pytest", "tests/blender", "-q"], cwd=ROOT, env=lts).returncode
    return everything or on_lts


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
