#!/usr/bin/env python3
"""Build the Blender extension: dist/latent_emotion-<version>.zip.

The package holds, at its root: blender_manifest.toml and the add-on modules (blender_addon/*),
plus backend/ as a subpackage (the add-on imports ``from .backend import ...``; lab/, which makes
the default model, is left out), requirements/ (what the dependency installer installs) and, when
present, the default model (models/default/generator.safetensors + directions.json), the face readers
(models/face_readers/: Key Channels from Video) and, with the model, the sentence model (models/text/:
free phrasing in Describe; without it the word tables alone read descriptions).

The files are staged in build/extension/, then packed by Blender's own builder,
``blender --command extension build`` (with --blender), or the same builder script that the
``bpy`` module ships (bl_pkg/cli/blender_ext.py), which validates the manifest; without either,
a plain zip is written in the same layout.

    python scripts/build_extension.py [--blender PATH] [--out DIR] [--no-model] [--zip-only]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "blender_manifest.toml"
MODEL_FILES = ("generator.safetensors", "directions.json")
REQUIREMENTS = ("backend.txt", "constraints.txt")
SKIP = ("__pycache__", ".pytest_cache", ".mypy_cache")


def manifest(root: Path = ROOT) -> dict:
    return tomllib.loads((root / MANIFEST).read_text(encoding="utf-8"))


def package_name(root: Path = ROOT) -> str:
    m = manifest(root)
    return f"{m['id']}-{m['version']}.zip"


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if n in SKIP or n.endswith((".pyc", ".pyo"))])


def stage(dest: Path, root: Path = ROOT, with_model: bool = True) -> Path:
    """Lay the package's files out in ``dest`` (emptied first)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(root / MANIFEST, dest / MANIFEST)
    for path in sorted((root / "blender_addon").iterdir()):
        if path.name in SKIP or path.suffix in (".pyc", ".pyo"):
            continue
        (_copy_tree if path.is_dir() else shutil.copy2)(path, dest / path.name)
    _copy_tree(root / "backend", dest / "backend")
    (dest / "requirements").mkdir()
    for name in REQUIREMENTS:
        shutil.copy2(root / "requirements" / name, dest / "requirements" / name)
    model = root / "models" / "default"
    if with_model and all((model / f).is_file() for f in MODEL_FILES):
        (dest / "models" / "default").mkdir(parents=True)
        for f in MODEL_FILES:
            shutil.copy2(model / f, dest / "models" / "default" / f)
    for folder, wanted in (("face_readers", True), ("text", with_model)):
        if wanted and (root / "models" / folder).is_dir():
            _copy_tree(root / "models" / folder, dest / "models" / folder)
    return dest


def bpy_builder() -> Path | None:
    """blender_ext.py of the installed ``bpy`` module, found without importing bpy."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    return None


def build_with_blender(source: Path, out: Path, blender: str | None) -> Path | None:
    """Pack with Blender's builder; None if there is no Blender and no bpy module."""
    target = out / package_name(source)
    if blender:
        argv = [blender, "--factory-startup", "--command", "extension", "build"]
    else:
        builder = bpy_builder()
        if builder is None:
            return None
        argv = [sys.executable, str(builder), "build"]
    out.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    r = subprocess.run([*argv, "--source-dir", str(source), "--output-filepath", str(target)],
                       capture_output=True, text=True)
    if r.returncode != 0 or not target.is_file():
        raise SystemExit(f"extension build failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    return target


def build_zip(source: Path, out: Path) -> Path:
    """The same package as a plain zip (files at the root, sorted, no directory entries)."""
    out.mkdir(parents=True, exist_ok=True)
    target = out / package_name(source)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            z.write(path, path.relative_to(source).as_posix())
    tmp.replace(target)
    return target


def build(out: Path = ROOT / "dist", *, blender: str | None = None, with_model: bool = True,
          zip_only: bool = False, staging: Path = ROOT / "build" / "extension") -> Path:
    source = stage(staging, with_model=with_model)
    built = None if zip_only else build_with_blender(source, out, blender)
    return built or build_zip(source, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    p.add_argument("--blender", help="a Blender executable to build with (default: the bpy module's builder)")
    p.add_argument("--no-model", action="store_true", help="leave the default model out")
    p.add_argument("--zip-only", action="store_true", help="write a plain zip without Blender's builder")
    p.add_argument("--staging", type=Path, default=ROOT / "build" / "extension")
    args = p.parse_args(argv)
    path = build(args.out, blender=args.blender, with_model=not args.no_model, zip_only=args.zip_only,
                 staging=args.staging)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
