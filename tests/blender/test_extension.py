"""The extension as Blender sees it: installing, registering, unregistering, missing dependencies."""

from __future__ import annotations

import os
import zipfile


def test_package_has_manifest_addon_and_backend_at_its_root(extension_zip):
    names = set(zipfile.ZipFile(extension_zip).namelist())
    assert {"blender_manifest.toml", "__init__.py", "compat.py", "api.py", "backend/__init__.py",
            "backend/frame_cache.py", "backend/deps.py", "requirements/backend.txt"} <= names
    assert not any("__pycache__" in n or n.startswith("blender_addon/") for n in names)


def test_zip_installs_into_the_temporary_user_repository_and_enables(installed):
    report = installed.install_report
    assert report["enabled"]
    assert report["user_extensions"].startswith(str(installed.home))
    assert report["repo_dir"].startswith(str(installed.home))
    wanted = os.environ.get("LATENT_EMOTION_BPY_VERSION")  # CI's second run: that it is the Blender it asked for
    if wanted:
        assert ".".join(map(str, report["version"])).startswith(wanted), report["version"]


REGISTER_TWICE = '''
import addon_utils

def leftovers():
    ours = lambda f: "latent_emotion" in getattr(f, "__module__", "")
    found = []
    for name in ("render_init", "render_pre", "render_complete", "render_cancel", "load_post",
                 "frame_change_pre", "frame_change_post", "depsgraph_update_post"):
        found += [f"{name}:{f.__name__}" for f in getattr(bpy.app.handlers, name) if ours(f)]
    for cls in ("LATENT_EMOTION_OT_bake", "LATENT_EMOTION_OT_install_dependencies", "VIEW3D_PT_latent_emotion",
                "LATENT_EMOTION_PG_face", "LATENT_EMOTION_AP_preferences"):
        if getattr(bpy.types, cls, None) is not None:
            found.append(cls)
    for owner, attr in ((bpy.types.Object, "latent_emotion"), (bpy.types.Scene, "latent_emotion_strips")):
        if hasattr(owner, attr):
            found.append(f"{owner.__name__}.{attr}")
    for menu in ("VIEW3D_MT_add", "SEQUENCER_MT_add", "TOPBAR_MT_file_import"):
        funcs = getattr(getattr(bpy.types, menu).draw, "_draw_funcs", [])
        found += [f"{menu}:{f.__name__}" for f in funcs if ours(f)]
    return found

states = []
for round in range(2):
    api = enable()
    face = api.add_face(seed=1)
    states.append(dict(
        enabled=MODULE in bpy.context.preferences.addons,
        handlers=sorted(f.__name__ for f in bpy.app.handlers.render_pre if "latent_emotion" in f.__module__),
        has_op=hasattr(bpy.ops.latent_emotion, "bake") and bpy.ops.latent_emotion.bake.idname() != "",
        face=face.latent_emotion.enabled,
        sys_path_tail=sys.path[-1].endswith("site-packages"),
    ))
    addon_utils.disable(MODULE, default_set=True)
    states[-1]["leftovers"] = leftovers()
    states[-1]["sys_path_removed"] = not any(p.endswith("latent_emotion/site-packages") for p in sys.path)
result(states=states)
# Enabled again at exit: Blender must still exit cleanly with the add-on on.
enable()
'''


def test_registers_and_unregisters_twice_leaving_nothing_behind_and_exits_cleanly(blender):
    out = blender.run(REGISTER_TWICE)
    assert len(out["states"]) == 2
    for state in out["states"]:
        assert state["enabled"] and state["has_op"] and state["face"] and state["sys_path_tail"]
        assert state["handlers"] == ["on_render_pre"]
        assert state["leftovers"] == []
        assert state["sys_path_removed"]
    assert "Traceback" not in out["_stderr"], out["_stderr"]


NO_TORCH = '''
sys.modules["torch"] = None  # "import torch" now fails, as in a Blender without it
api = enable()
deps, ui, install = addon("dependencies"), addon("ui"), addon("install")

class Layout:
    """Records what a panel draws."""
    def __init__(self, log): self.log = log
    def __getattr__(self, name):
        def call(*args, **kw):
            self.log.append((name, args[0] if args else kw.get("text", "")))
            return Layout(self.log)
        return call

class Panel:
    def __init__(self): self.log = []; self.layout = Layout(self.log)

face = api.add_face(seed=2)
bpy.context.view_layer.objects.active = face
drawn = {}
for cls in (ui.VIEW3D_PT_latent_emotion, ui.SEQUENCER_PT_latent_emotion):
    panel = Panel()
    cls.draw(panel, bpy.context)
    drawn[cls.__name__] = panel.log
result(
    missing=deps.missing(),
    drawn=drawn,
    install_registered=bpy.ops.latent_emotion.install_dependencies.idname(),
    install_poll=bpy.ops.latent_emotion.install_dependencies.poll(),
    bake_poll=bpy.ops.latent_emotion.bake.poll(),
    channels=[c for c in ("joy", "head_turn") if hasattr(face.latent_emotion, c)],
)
'''


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


INSTALL_JOB = '''
enable(rig=False)
deps, install = addon("dependencies"), addon("install")
STATE = addon("state").STATE
from pathlib import Path
plan = deps.plan_install(MODULE)
site = deps.site_packages_dir(MODULE)
import numpy
pip_step = plan[-1].argv

# A stand-in for pip: a step that takes long, cancelled while it runs.
Step = type(plan[0])
job = deps.InstallJob([Step("slow step", (sys.executable, "-c", "import time; time.sleep(60)"))])
STATE.install_job = job
job.start()
import time
time.sleep(0.5)
running = not job.done
job.cancel()
job.join(10)
install._poll()  # what the timer would run: reports the outcome
cancelled = (job.done, job.error, STATE.install_message)

ok = deps.InstallJob([Step("quick", (sys.executable, "-c", "print('ok')"))])
STATE.install_job = ok
ok.start(); ok.join(10)
install._poll()
result(site=site, in_user_folder=site.startswith(bpy.utils.user_resource("EXTENSIONS")),
       targets=pip_step[pip_step.index("--target") + 1], numpy_pin=f"numpy=={numpy.__version__}" in pip_step,
       running=running, cancelled=list(cancelled), ok=[ok.done, ok.error, STATE.install_message])
'''


def test_dependency_installer_targets_the_user_folder_reports_and_can_be_cancelled(blender):
    out = blender.run(INSTALL_JOB)
    assert out["in_user_folder"] and out["site"].endswith("site-packages")
    assert out["targets"] == out["site"] and out["numpy_pin"]
    assert out["running"]
    assert out["cancelled"][:2] == [True, "installation cancelled"]
    assert out["cancelled"][2].startswith("Installation failed: installation cancelled")
    assert out["ok"] == [True, None, "Dependencies installed"]


DEVELOPER_INSTALL = '''
import importlib
repo = os.path.join(bpy.utils.user_resource("EXTENSIONS"), "user_default")
os.makedirs(repo, exist_ok=True)
os.symlink(os.path.join(ROOT, "blender_addon"), os.path.join(repo, "latent_emotion"))  # README: developer install
api = enable()
backend = importlib.import_module(MODULE + ".backend")
face = api.add_face(seed=1)
api.key_channels(face, 1, joy=0.5)
stats = api.bake(face, 1, 2)
result(backend=backend.__file__, default_model=str(importlib.import_module(MODULE + ".rig").DEFAULT_MODEL),
       written=stats.written, file=str(api.frame_path(face, 1)))
'''


def test_developer_install_loads_the_addon_and_backend_from_the_source_tree(tmp_path, rig_files):
    from .harness import ROOT, Blender

    blender = Blender(tmp_path, {**rig_files, "LE_TEST_CACHE": str(tmp_path / "cache")})
    out = blender.run(DEVELOPER_INSTALL)
    assert out["backend"] == str(ROOT / "backend" / "__init__.py")
    assert out["default_model"] == str(ROOT / "models" / "default" / "generator.safetensors")
    assert out["written"] == 2 and out["file"].endswith("frame_00001.png")


INSTALL_ACROSS_FILES = '''
import time
api = enable(rig=False)
deps, install = addon("dependencies"), addon("install")
STATE = addon("state").STATE
from importlib import import_module
Step = import_module(MODULE + ".backend.deps").Step

def run_timer(timeout=60):
    end = time.time() + timeout
    while bpy.app.timers.is_registered(install._poll) and time.time() < end:
        if install._poll() is None:
            bpy.app.timers.unregister(install._poll)
        time.sleep(0.05)

blend = os.path.join(sys.argv[1], "other.blend")
bpy.ops.wm.save_as_mainfile(filepath=blend)
# An installation runs (two quick steps standing in for pip), and the user opens a file meanwhile.
job = STATE.install_job = deps.InstallJob([Step("one", (sys.executable, "-c", "import time; time.sleep(1)")),
                                           Step("two", (sys.executable, "-c", "print('ok')"))])
job.start()
install.watch()
bpy.ops.wm.open_mainfile(filepath=blend)
timer_after_open = bpy.app.timers.is_registered(install._poll)
run_timer()
finished = [job.done, job.error, STATE.install_message, STATE.install_progress_open]
result(timer_after_open=timer_after_open, finished=finished)
'''


def test_install_progress_survives_opening_a_file(blender, tmp_path):
    out = blender.run(INSTALL_ACROSS_FILES, str(tmp_path), timeout=120)
    assert out["timer_after_open"]
    assert out["finished"] == [True, None, "Dependencies installed", False]


README_EXAMPLE = '''
import importlib
enabled_before = MODULE in bpy.context.preferences.addons
# blender_addon/README.md, "Scripts", as it stands (the model from $LATENT_EMOTION_MODEL & co.):
le = importlib.import_module("bl_ext.user_default.latent_emotion.api")
face = le.add_face(seed=3)
le.key_channels(face, 1, joy=0.0)
le.key_channels(face, 33, joy=1.0)
le.bake(face, 1, 33)
frame = le.frame_array(face, 17)      # (H, W, 3) uint8
result(enabled_before=enabled_before, shape=list(frame.shape))
'''


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
