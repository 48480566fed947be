"""The layout's promise: the run time (backend/, blender_addon/) never imports the lab, and the
extension ships the run time without it."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from .conftest import ROOT


def _lab_imports(path: Path) -> list[str]:
    """The ``lab`` imports of one Python file, as 'file:line module'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [f"{path}:{node.lineno} {m}" for m in modules if m == "lab" or m.startswith("lab.")]
    return found


def test_lab_import_finder_sees_every_spelling(tmp_path):
    probe = tmp_path / "m.py"
    probe.write_text("import lab\nimport lab.fit as f\nfrom lab.procedural import render_face\n"
                     "from laboratory import x\nfrom .lab import y\n")
    assert [line.split()[-1] for line in _lab_imports(probe)] == ["lab", "lab.fit", "lab.procedural"]


def test_backend_and_addon_never_import_lab():
    files = sorted((ROOT / "backend").rglob("*.py")) + sorted((ROOT / "blender_addon").rglob("*.py"))
    assert len(files) > 20
    assert [hit for f in files for hit in _lab_imports(f)] == []


def test_staged_extension_ships_backend_and_no_lab_module(tmp_path):
    spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    stage = builder.stage(tmp_path / "stage", with_model=False)
    shipped = {p.relative_to(stage).as_posix() for p in stage.rglob("*.py")}
    assert {f"backend/{p.relative_to(ROOT / 'backend').as_posix()}" for p in (ROOT / "backend").rglob("*.py")
            if "__pycache__" not in p.parts} <= shipped
    lab_modules = {p.relative_to(ROOT / "lab").with_suffix("").as_posix() for p in (ROOT / "lab").rglob("*.py")}
    assert lab_modules, "no lab modules found"
    assert not (stage / "lab").exists()
    assert [p for p in shipped if any(p.endswith(f"{m}.py") for m in lab_modules if m != "__init__")] == []
    assert [hit for p in shipped for hit in _lab_imports(stage / p)] == []


# The run time's layers, lowest first: a package imports only from layers before it (and itself).
LAYERS = (("files", "jobs", "deps"), ("model",), ("animation",), ("rendering",), ("readers",), ("photos",),
          ("learning",), ("metrics",), ("language",), ("cli",))


def _backend_package_imports() -> list[tuple[str, str, str]]:
    """(file, its top-level backend package, the backend package it imports) for every relative import."""
    found = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        rel = path.relative_to(ROOT / "backend")
        here = list(rel.with_suffix("").parts)
        if here[-1] == "__init__":
            here = here[:-1]
        base = here if path.name == "__init__.py" else here[:-1]
        source = rel.with_suffix("").parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                target = base[: len(base) - (node.level - 1)] + (node.module.split(".") if node.module else [])
                names = [target[0]] if target else [a.name for a in node.names]
                found += [(str(rel), source, name) for name in names]
    return found


def test_each_backend_package_imports_only_the_layers_below_it():
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    imports = _backend_package_imports()
    assert len(imports) > 100
    packages = {p.name for p in (ROOT / "backend").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in (ROOT / "backend").glob("*.py") if p.stem not in ("__init__", "__main__")}
    assert packages | modules == set(rank), "every backend package and top-level module has a layer"
    wrong = [f"{f} imports {target}" for f, source, target in imports
             if source in rank and target in rank and rank[target] > rank[source]]
    assert wrong == []
