"""The set-up: pinned requirements, a working headless Blender, and the Blender install plan."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend import deps
from backend.jobs import Cancelled

from .conftest import ROOT


def test_backend_requirements_are_pinned_and_locked():
    locked = {deps.requirement_name(line): line for line in deps.read_requirements("constraints.txt")}
    for line in deps.read_requirements("dev.txt"):
        assert "==" in line, f"{line} is not pinned"
        name = deps.requirement_name(line)
        assert locked.get(name) == line, f"{line} differs from constraints.txt ({locked.get(name)})"


def test_headless_blender_imports():
    # bpy must be importable by the tests; in a subprocess because importing it is heavy.
    r = subprocess.run([sys.executable, "-c", "import bpy; print(bpy.app.version_string)"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().split()[0].startswith(("4.", "5."))


def test_backend_package_imports_without_torch():
    # The add-on imports backend (and backend.deps) before the dependencies exist.
    code = ("import sys; sys.modules['torch'] = None; sys.path.insert(0, %r); "
            "import backend, backend.deps, backend.animation.script; print('ok')" % str(ROOT))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_blender_plan_installs_into_target_and_keeps_blender_numpy(tmp_path):
    blender_python = tmp_path / "blender" / "4.2" / "python" / "bin" / "python3.11"
    steps = deps.blender_plan(str(blender_python), tmp_path / "user" / "site-packages", "1.24.3")
    install = steps[-1].argv
    assert install[:3] == (str(blender_python), "-m", "pip")
    assert "--target" in install and install[install.index("--target") + 1] == str(tmp_path / "user" / "site-packages")
    assert "numpy==1.24.3" in install and not any(a.startswith("numpy==1.26") for a in install)
    assert any(a.startswith("torch==") for a in install)


def test_blender_plan_refuses_blender_program_folder(tmp_path):
    blender_python = tmp_path / "blender" / "4.2" / "python" / "bin" / "python3.11"
    with pytest.raises(deps.DepsError, match="program folder"):
        deps.blender_plan(str(blender_python), tmp_path / "blender" / "4.2" / "python" / "lib" / "site-packages", None)


def test_install_script_dry_run_for_blender(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_deps.py"), "--blender-python", sys.executable,
                        "--target", str(tmp_path / "deps"), "--dry-run"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"--target {tmp_path / 'deps'}" in r.stdout and "ensurepip" in r.stdout


def test_repeated_setup_is_a_no_op_until_the_requirements_change(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    assert [s.title for s in deps.dev_plan(venv)] == ["install pinned requirements"]
    deps.mark_venv_current(venv)
    assert deps.dev_plan(venv) == []
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_deps.py"), "--venv", str(venv),
                        "--skip-system", "--no-blender-lts"], capture_output=True, text=True)
    assert r.returncode == 0 and "already set up" in r.stdout, r.stdout + r.stderr
    (venv / deps.STAMP_NAME).write_text("set up for other requirements\n")
    assert [s.title for s in deps.dev_plan(venv)] == ["install pinned requirements"]


def test_ci_runs_the_readme_test_command_exactly():
    readme = (ROOT / "README.md").read_text()
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    command = "python3 scripts/test.py"
    assert f"```sh\n{command}\n```" in readme
    assert command in ci


def test_run_plan_cancel_ends_a_running_step_through_its_process_and_keeps_its_output(tmp_path):
    marker = tmp_path / "second-step-ran"
    steps = [deps.Step("talk", (sys.executable, "-c", "print('hello from pip')")),
             deps.Step("long", (sys.executable, "-c", "import time; print('working', flush=True); time.sleep(60)")),
             deps.Step("never", (sys.executable, "-c", f"open({str(marker)!r}, 'w')"))]
    lines, processes, cancel = [], [], []

    def output(line):
        lines.append(line)
        if line == "working":  # the long step runs: cancel it as the add-on's Cancel button does
            cancel.append(True)
            processes[-1].terminate()

    with pytest.raises(Cancelled, match="installation cancelled"):
        deps.run_plan(steps, cancel=lambda: bool(cancel), started=processes.append, output=output)
    assert lines == ["hello from pip", "working"]
    assert processes[-1].poll() is not None and not marker.exists()


def test_run_plan_failure_names_the_step():
    with pytest.raises(deps.DepsError, match=r"step 'fails' failed \(exit 3\)"):
        deps.run_plan([deps.Step("fails", (sys.executable, "-c", "raise SystemExit(3)"))], output=lambda line: None)


@pytest.mark.slow
def test_install_extension_into_the_bpy_module_enables_it_for_the_next_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLENDER_")}
    res = tmp_path / "blender"
    env.update(HOME=str(tmp_path), BLENDER_USER_RESOURCES=str(res), BLENDER_USER_CONFIG=str(res / "config"),
               BLENDER_USER_SCRIPTS=str(res / "scripts"), BLENDER_USER_EXTENSIONS=str(res / "extensions"),
               BLENDER_USER_DATAFILES=str(res / "datafiles"))
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_extension.py"), "--bpy", "--no-model",
                        "--out", str(tmp_path / "dist")], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "installed and enabled: True" in r.stdout
    # A new process finds it enabled in the saved preferences (the bpy module reads them on request).
    check = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c",
                            "import bpy; bpy.ops.wm.read_userpref(); "
                            "print('bl_ext.user_default.latent_emotion' in bpy.context.preferences.addons)"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert check.stdout.strip().splitlines()[-1] == "True", check.stdout + check.stderr
