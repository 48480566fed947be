"""A render farm: several worker processes render disjoint chunks of one shot from one shared project
folder (the .blend, its generator and its scene-level frame cache) into one output folder, as
``blender -b shot.blend -s A -e B -a`` tasks do. The frames are bit-identical to one process's; a
worker killed mid-chunk is made good by running its chunk again; a worker without the model fails
its task, saying which file it needs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from backend.rendering.video import decode_png

from .harness import PRELUDE_IMPORT, PYTHON, script

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("blender_farm")]  # one worker makes the project

LENGTH = 24
CHUNKS = ((1, 8), (9, 16), (17, 24))

MAKE = '''
api = enable()
project = sys.argv[1]
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.model_path = os.path.join(project, "models", "generator.safetensors")
prefs.directions_path = os.path.join(project, "models", "directions.json")
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(project, "shot.blend"))
scene = bpy.context.scene
sequencer_output(scene)
addon("compat").set_output_png(scene.render)
scene.latent_emotion_cache = "//le-cache/"  # on the shared storage, beside the .blend
scene.frame_start, scene.frame_end = 1, %d
strip = api.add_strip(name="Face", frame_start=1, length=%d, seed=4)
rng = __import__("random").Random(4)
for f in range(1, %d + 1):
    api.key_channels(strip, f, interpolation="CONSTANT", joy=rng.uniform(-1, 1), head_turn=rng.uniform(-1, 1))
bpy.ops.wm.save_mainfile()
settings = addon("properties").settings_of(strip)
result(folder=str(api.frame_path(strip, 1).parent), model=settings.model_file)
''' % (LENGTH, LENGTH, LENGTH)

# A farm task: open the shared .blend, render frames A-B into the shared output folder. ``slow``
# sleeps after each frame (instrumentation only) so that the test can kill it mid-chunk.
WORKER = script("farm_worker")


def _start(blender, script: str, *args: str, cache: str) -> subprocess.Popen:
    """A worker process, started at once (its own script file: workers start together)."""
    path = blender.home / f"farm_worker_{'_'.join(a.replace(os.sep, '_')[-20:] for a in args)}.py"
    path.write_text(PRELUDE_IMPORT + script)
    return subprocess.Popen([PYTHON, str(path), *args], env={**blender.env, "LE_TEST_CACHE": cache},
                            cwd=blender.home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _frames(folder) -> dict[str, bytes]:
    """Each PNG's pixels, as bytes (Blender's PNG files also carry render metadata: time, date)."""
    return {p.name: decode_png(p.read_bytes()).tobytes() for p in sorted(folder.glob("*.png"))}


@pytest.fixture(scope="module")
def project(installed, shared_installed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("farm")
    shared = tmp / "shared" / "project"
    (shared / "models").mkdir(parents=True)
    shutil.copy(installed.extra_env["LE_TEST_MODEL"], shared / "models" / "generator.safetensors")
    shutil.copy(installed.extra_env["LE_TEST_DIRECTIONS"], shared / "models" / "directions.json")
    made = shared_installed.run(MAKE, str(shared))
    # The reference: one process renders the whole shot from its own copy (its own cache, nothing shared).
    single = tmp / "single" / "project"
    shutil.copytree(shared, single)
    shared_installed.run(WORKER, str(single / "shot.blend"), str(tmp / "single-out"), "1", str(LENGTH), "0",
                         env={"LE_TEST_CACHE": str(tmp / "pref-cache-single")})
    return tmp, shared, made


def test_workers_render_disjoint_chunks_from_one_shared_folder_bit_identical_to_one_process(project, installed):
    tmp, shared, made = project
    assert made["model"] == "//models/generator.safetensors"
    assert made["folder"].startswith(str(shared / "le-cache" / "sequences"))  # the scene's cache, not the user's
    out = tmp / "farm-out"
    # Every worker at once: one shared frame cache, one shared sequence folder, one output folder.
    workers = [_start(installed, WORKER, str(shared / "shot.blend"), str(out), str(a), str(b), "0",
                      cache=str(tmp / f"pref-cache-{a}")) for a, b in CHUNKS]
    for worker in workers:
        said, _ = worker.communicate(timeout=600)
        assert worker.returncode == 0 and 'LE_RESULT {"done": true}' in said, said[-3000:]
    reference = _frames(tmp / "single-out")
    assert sorted(reference) == [f"{f:04d}.png" for f in range(1, LENGTH + 1)]
    assert _frames(out) == reference
    assert len(set(reference.values())) == LENGTH  # every frame differs: a mix-up would show
    frames = list((shared / "le-cache" / "frames").glob("??/*.png"))
    assert len(frames) == LENGTH and not list((shared / "le-cache").rglob("*.tmp"))


def test_a_worker_killed_mid_chunk_is_made_good_by_rerunning_its_chunk(project, installed, shared_installed):
    tmp, shared, _made = project
    copy = tmp / "kill" / "project"  # a fresh shot: nothing cached, nothing rendered
    shutil.copytree(shared, copy, ignore=shutil.ignore_patterns("le-cache"))
    out = tmp / "kill-out"
    a, b = CHUNKS[1]
    worker = _start(installed, WORKER, str(copy / "shot.blend"), str(out), str(a), str(b), "1",
                    cache=str(tmp / "pref-cache-kill"))
    end = time.time() + 120
    while not (out / f"{a + 1:04d}.png").exists() and worker.poll() is None and time.time() < end:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)  # a node lost mid-chunk: no handler, no clean-up
    worker.wait()
    left = sorted(p.name for p in out.glob("*.png"))
    assert worker.returncode == -signal.SIGKILL and 0 < len(left) < b - a + 1, left  # killed mid-chunk
    rerun = shared_installed.run(WORKER, str(copy / "shot.blend"), str(out), str(a), str(b), "0",
                                 env={"LE_TEST_CACHE": str(tmp / "pref-cache-kill")})
    assert rerun["done"]
    reference = _frames(tmp / "single-out")
    assert _frames(out) == {f"{f:04d}.png": reference[f"{f:04d}.png"] for f in range(a, b + 1)}
    for png in (copy / "le-cache").rglob("*.png"):  # nothing half-written under a frame's name
        assert decode_png(png.read_bytes()) is not None, png


def test_a_worker_without_the_model_fails_its_task_naming_the_file(project, installed):
    tmp, shared, _made = project
    copy = tmp / "no-model" / "project"
    shutil.copytree(shared, copy, ignore=shutil.ignore_patterns("le-cache"))
    shutil.rmtree(copy / "models")
    original = shared / "models"  # the absolute path the face also records: gone on this worker too
    os.rename(original, original.with_name("models-away"))
    try:
        out = installed.run(WORKER, str(copy / "shot.blend"), str(tmp / "no-model-out"), "1", "4", "0",
                            env={"LE_TEST_CACHE": str(tmp / "pref-cache-no-model")}, expect_rc=3)
    finally:
        os.rename(original.with_name("models-away"), original)
    said = out["_stdout"]
    assert "strip 'Face'" in said and "//models/generator.safetensors" in said
    assert str(copy / "models" / "generator.safetensors") in said and "found no file there" in said
    assert not list((tmp / "no-model-out").glob("*.png")) if (tmp / "no-model-out").exists() else True
