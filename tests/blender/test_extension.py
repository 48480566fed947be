"""The extension as Blender sees it: installing, registering, unregistering, missing dependencies."""

from __future__ import annotations

import os
import zipfile
from .harness import script


def test_package_has_manifest_addon_and_backend_at_its_root(extension_zip):
    names = set(zipfile.ZipFile(extension_zip).namelist())
    assert {"blender_manifest.toml", "__init__.py", "compat.py", "api.py", "backend/__init__.py",
            "backend/rendering/frame_cache.py", "backend/deps.py", "requirements/backend.txt"} <= names
    assert not any("__pycache__" in n or n.startswith("blender_addon/") for n in names)


def test_zip_installs_into_the_temporary_user_repository_and_enables(installed):
    report = installed.install_report
    assert report["enabled"]
    assert report["user_extensions"].startswith(str(installed.home))
    assert report["repo_dir"].startswith(str(installed.home))
    wanted = os.environ.get("LATENT_EMOTION_BPY_VERSION")  # CI's second run: that it is the Blender it asked for
    if wanted:
        assert ".".join(map(str, report["version"])).startswith(wanted), report["version"]


REGISTER_TWICE = script("extension_register_twice")


def test_registers_and_unregisters_twice_leaving_nothing_behind_and_exits_cleanly(blender):
    out = blender.run(REGISTER_TWICE)
    assert len(out["states"]) == 2
    for state in out["states"]:
        assert state["enabled"] and state["has_op"] and state["face"] and state["sys_path_tail"]
        assert state["handlers"] == ["on_render_pre"]
        assert state["leftovers"] == []
        assert state["sys_path_removed"]
    assert "Traceback" not in out["_stderr"], out["_stderr"]


NO_TORCH = script("extension_no_torch")


def test_without_torch_the_addon_registers_and_its_panels_offer_only_the_installer(blender):
    out = blender.run(NO_TORCH)
    assert "torch" in out["missing"]
    assert out["install_registered"] == "LATENT_EMOTION_OT_install_dependencies"
    assert out["install_poll"] and not out["bake_poll"]
    assert out["channels"] == ["joy", "head_turn"]  # faces and keys still work without torch
    for name, log in out["drawn"].items():
        operators = [arg for call, arg in log if call == "operator"]
        assert operators == ["latent_emotion.install_dependencies"], (name, log)
        assert any(call == "label" and "torch" in arg for call, arg in log), (name, log)


INSTALL_JOB = script("extension_install_job")


def test_dependency_installer_targets_the_user_folder_reports_and_can_be_cancelled(blender):
    out = blender.run(INSTALL_JOB)
    assert out["in_user_folder"] and out["site"].endswith("site-packages")
    assert out["targets"] == out["site"] and out["numpy_pin"]
    assert out["running"]
    assert out["cancelled"][:2] == [True, "installation cancelled"]
    assert out["cancelled"][2].startswith("Installation failed: installation cancelled")
    assert out["ok"] == [True, None, "Dependencies installed"]


DEVELOPER_INSTALL = script("extension_developer_install")


def test_developer_install_loads_the_addon_and_backend_from_the_source_tree(tmp_path, rig_files):
    from .harness import ROOT, Blender

    blender = Blender(tmp_path, {**rig_files, "LE_TEST_CACHE": str(tmp_path / "cache")})
    out = blender.run(DEVELOPER_INSTALL)
    assert out["backend"] == str(ROOT / "backend" / "__init__.py")
    assert out["default_model"] == str(ROOT / "models" / "default" / "generator.safetensors")
    assert out["written"] == 2 and out["file"].endswith("frame_00001.png")


INSTALL_ACROSS_FILES = script("extension_install_across_files")


def test_install_progress_survives_opening_a_file(blender, tmp_path):
    out = blender.run(INSTALL_ACROSS_FILES, str(tmp_path), timeout=120)
    assert out["timer_after_open"]
    assert out["finished"] == [True, None, "Dependencies installed", False]


README_EXAMPLE = script("extension_readme_example")


def test_readme_console_example_runs_in_a_fresh_session(blender, rig_files, tmp_path):
    env = {"LATENT_EMOTION_MODEL": rig_files["LE_TEST_MODEL"], "LATENT_EMOTION_DIRECTIONS": rig_files["LE_TEST_DIRECTIONS"],
           "LATENT_EMOTION_CACHE": str(tmp_path / "cache")}
    out = blender.run(README_EXAMPLE, env=env)
    assert not out["enabled_before"]
    assert out["shape"] == [32, 32, 3]


def test_addon_modules_import_one_way():
    """No import cycle among the add-on's modules (imports inside functions count too)."""
    import ast

    from .harness import ROOT

    modules = {p.stem: p for p in (ROOT / "blender_addon").glob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found.update(n for n in ([node.module] if node.module else [a.name for a in node.names])
                             if n.split(".")[0] in modules)
        graph[name] = {n.split(".")[0] for n in found} - {name}

    def reaches(start, goal, seen):
        return any(n == goal or (n not in seen and not seen.add(n) and reaches(n, goal, seen)) for n in graph[start])

    cycles = sorted((a, b) for a in graph for b in graph[a] if reaches(b, a, set()))
    assert not cycles, cycles
