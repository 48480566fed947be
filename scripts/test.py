#!/usr/bin/env python3
"""Set up what is missing (scripts/install_deps.py; a second or so when nothing is), then run
the whole test suite. Arguments go to pytest: ``python3 scripts/test.py -k render -x``.

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
    python = ROOT / ".venv" / "bin" / "python"
    os.chdir(ROOT)
    os.execv(python, [str(python), "-m", "pytest", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
