#!/usr/bin/env python3
"""Set up Latent Emotion's dependencies.

    python3 scripts/install_deps.py
        Development and tests: creates .venv with everything pinned (torch, numpy, scikit-learn,
        opencv, imageio + imageio-ffmpeg, safetensors, bpy, pytest, hypothesis), the Blender LTS
        bpy (4.2) in .bpy-4.2/ for the Blender tests' second run (--no-blender-lts skips it), and
        the Debian libraries that `import bpy` needs (installed when run as root, otherwise named).

    python3 scripts/install_deps.py --blender-python /path/to/blender/4.2/python/bin/python3.11 --target DIR
    blender -b --python scripts/install_deps.py -- [--target DIR]
        A real Blender: installs the backend's run-time packages with Blender's Python into DIR
        (inside Blender the default is the extension's user directory), keeping Blender's numpy.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from backend import deps  # noqa: E402  (standard library only)


def _inside_blender() -> bool:
    # Blender imports bpy before it runs a --python script; a plain interpreter has not.
    return "bpy" in sys.modules


def _default_blender_target() -> Path:
    import bpy

    return Path(bpy.utils.extension_path_user("bl_ext.user_default.latent_emotion",
                                              path=deps.SITE_PACKAGES_DIRNAME, create=True))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--venv", type=Path, default=deps.ROOT / ".venv", help="virtual environment to create (dev)")
    p.add_argument("--blender-python", help="Blender's bundled Python: install the backend for that Blender")
    p.add_argument("--target", type=Path, help="folder for the Blender install (added to sys.path by the add-on)")
    p.add_argument("--pip-arg", action="append", default=[], help="extra argument for pip (Blender install), "
                                                                   "e.g. --pip-arg=--extra-index-url=URL for CUDA wheels")
    p.add_argument("--skip-system", action="store_true", help="do not check or install Debian packages")
    p.add_argument("--no-blender-lts", action="store_true",
                   help=f"skip the Blender LTS bpy the Blender tests also run on ({deps.LTS_BPY_DIR.name}/)")
    p.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    args = p.parse_args(argv)

    in_blender = _inside_blender() and args.blender_python is None
    try:
        if args.blender_python or in_blender:
            python = args.blender_python or sys.executable
            target = args.target or (_default_blender_target() if in_blender else None)
            if target is None:
                p.error("--target is required with --blender-python")
            steps = deps.blender_plan(python, target, deps.blender_numpy_version(python), args.pip_arg)
        else:
            if not args.skip_system:
                _system_packages(args.dry_run)
            steps = deps.dev_plan(args.venv, lts_bpy=None if args.no_blender_lts else deps.LTS_BPY_DIR)
            if not steps:
                print(f"{args.venv}: already set up (requirements unchanged)")
                return 0
        if args.dry_run:
            for s in steps:
                print(f"# {s.title}\n{' '.join(s.argv)}")
            return 0
        deps.run_plan(steps, progress=lambda title, i, n: print(f"[{i}/{n}] {title}", flush=True))
    except deps.DepsError as e:
        print(f"install_deps: {e}", file=sys.stderr)
        return 1
    if not (args.blender_python or in_blender):
        deps.mark_venv_current(args.venv)
        print("Ready. Run the tests with: python3 scripts/test.py")
    return 0


def _system_packages(dry_run: bool) -> None:
    missing = deps.missing_debian_packages()
    if not missing:
        return
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if dry_run or os.geteuid() != 0:
        print("`import bpy` needs these system libraries; install them with:\n"
              f"  sudo apt-get update && sudo {' '.join(cmd)}", file=sys.stderr)
        return
    deps.run_plan([deps.Step("update package lists", ("apt-get", "update", "-q")),
                   deps.Step("install libraries for bpy", tuple(cmd))])


if __name__ == "__main__":
    # Inside Blender, our arguments follow "--".
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    sys.exit(main(argv))
