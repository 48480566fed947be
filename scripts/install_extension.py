#!/usr/bin/env python3
"""Build the extension and install it, enabled, with its dependencies, into a Blender — so that
"open Blender and add a face" is the next step.

    python3 scripts/install_extension.py --blender /path/to/blender     a Blender you run
    python3 scripts/install_extension.py --bpy                          the bpy module in .venv (headless use)

With --blender the backend's packages go into the extension's user folder with Blender's own
Python (scripts/install_deps.py run inside Blender); with --bpy, .venv is set up as for the tests
(it holds them already). The extension lands in Blender's user_default repository and the
preferences are saved, so it is enabled the next time that Blender starts (a script using the bpy
module reads them with ``bpy.ops.wm.read_userpref()``). --no-model leaves the default model out of
the package (smaller; set a model in the preferences).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import build_extension  # noqa: E402

INSTALL = """
import bpy
bpy.ops.extensions.package_install_files(filepath={zip!r}, repo="user_default", enable_on_install=True)
bpy.ops.wm.save_userpref()
print("installed and enabled:", {module!r} in bpy.context.preferences.addons)
"""


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--blender", help="the Blender executable to install into")
    where.add_argument("--bpy", action="store_true", help="the bpy module of .venv (headless)")
    p.add_argument("--no-model", action="store_true", help="leave the default model out of the package")
    p.add_argument("--out", type=Path, default=ROOT / "dist")
    args = p.parse_args(argv)

    if args.bpy:
        setup = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_deps.py"), "--no-blender-lts"])
        if setup.returncode != 0:
            return setup.returncode
    package = build_extension.build(args.out, blender=args.blender, with_model=not args.no_model)
    module = f"bl_ext.user_default.{build_extension.manifest()['id']}"
    script = INSTALL.format(zip=str(package), module=module)
    if args.bpy:
        steps = [[str(ROOT / ".venv" / "bin" / "python"), "-c", script]]
    else:
        steps = [[args.blender, "-b", "--python-expr", script],
                 [args.blender, "-b", "--python", str(ROOT / "scripts" / "install_deps.py")]]
    for cmd in steps:
        r = subprocess.run(cmd, cwd=ROOT)
        if r.returncode != 0:
            print(f"install_extension: {' '.join(cmd[:3])} failed (exit {r.returncode})", file=sys.stderr)
            return r.returncode
    print(f"{package} is installed and enabled; open Blender and add a face (Add › Emotion Face).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
