#!/usr/bin/env python3
"""Set up what is missing (scripts/install_deps.py; a second or so when nothing is), then run the
main job offline with the default model: the paper's Figure 7 script as a video, and a sample
sheet of faces × channels. Prints where they are.

    python3 scripts/main_job.py [--out DIR]        (default: out/)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "out", help="folder for fig7.mp4 and sheet.png")
    args = p.parse_args(argv)
    out = args.out.resolve()
    python = str(ROOT / ".venv" / "bin" / "python")
    jobs = [
        [sys.executable, str(ROOT / "scripts" / "install_deps.py"), "--no-blender-lts"],
        [python, "-m", "backend", "render", "--script", "examples/fig7.txt", "--seed", "0", "--out", str(out / "fig7.mp4")],
        [python, "-m", "backend", "sheet", "--seeds", "0-7", "--out", str(out / "sheet.png")],
    ]
    for cmd in jobs:
        r = subprocess.run(cmd, cwd=ROOT)
        if r.returncode != 0:
            return r.returncode
    print(f"\nThe main job is done:\n  {out / 'fig7.mp4'}\n  {out / 'sheet.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
