#!/usr/bin/env python3
"""Live preview latency in headless Blender: frame change → the face shows that frame.

    .venv/bin/python scripts/bench_preview.py [--frames 12] [--preview-resolution 64,256] [--threads 1] [--full-previews]

Installs the extension into a temporary Blender user folder (the ``bpy`` module, as the tests do)
with the default model, ``models/default/generator.safetensors`` — or, when it is not there, a
randomly initialised generator of the same architecture (``lab.fit.DEFAULT_GENERATOR``:
the same cost per frame) with random directions. Then, on one emotion face keyed so that every
frame differs, it times:

- uncached: a frame the cache lacks, made by the preview's worker thread at the preview size and
  shown by its timer (called as Blender's event loop would, every interval it asks for);
- cached: a frame the cache holds but the face's folder lacks (a link or a resized copy), and a
  frame the face already shows (a key check);
- playback: frame changes at 24 frames/s over uncached frames (the latest request wins; the face
  shows stand-ins, the newest frame made, until its own frame is there);
- UI-thread blocking: the time spent in the ``frame_change_post`` handler plus the timer callbacks
  per frame change (everything else runs on the worker thread).

The load average is printed: other work on the machine slows the generator and the main thread
alike (the main thread also waits for the GIL while the worker thread runs Python code).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs inside Blender after tests/blender/harness.PRELUDE (``enable``, ``result``, ``addon``).
BENCH = '''
import statistics, threading, time

api = enable()
preview = addon("preview")
scene = bpy.context.scene
prefs = bpy.context.preferences.addons[MODULE].preferences
N, PREVIEW_RES, FPS = int(sys.argv[1]), int(sys.argv[2]), 24.0
prefs.preview_resolution = PREVIEW_RES
prefs.lowres_previews = sys.argv[3] == "lowres"
scene.frame_start, scene.frame_end = 1, 10 * N + 200
face = api.add_face(seed=0)
api.key_channels(face, 1, interpolation="LINEAR", joy=0.0, surprise=1.0, head_turn=-1.0)
api.key_channels(face, scene.frame_end, interpolation="LINEAR", joy=1.0, surprise=-1.0, head_turn=1.0)
worker = preview.worker()
work_s = []
work = worker.work
def timed(order):
    t0 = time.perf_counter()
    try:
        return work(order)
    finally:
        work_s.append(time.perf_counter() - t0)
worker.work = timed

def run_loop(until, timeout=120.0):
    """Blender's event loop, for the preview's timer: call it every interval it asks for."""
    end = time.perf_counter() + timeout
    while not until():
        if not bpy.app.timers.is_registered(preview._poll) or time.perf_counter() > end:
            raise SystemExit("the frame was not shown")
        interval = preview._poll()
        if interval is None:
            bpy.app.timers.unregister(preview._poll)
        else:
            time.sleep(interval)

def shown(frame):
    return lambda: bool(preview.stats.shown) and preview.stats.shown[-1][1] == frame

def change(frame):
    """Frame change → shown: (latency s, main-thread seconds in the handler and in timer calls)."""
    h, t = len(preview.stats.handler_s), len(preview.stats.timer_s)
    t0 = time.perf_counter()
    scene.frame_set(frame)
    run_loop(shown(frame))
    latency = preview.stats.shown[-1][2] - t0
    return latency, sum(list(preview.stats.handler_s)[h:]), sum(list(preview.stats.timer_s)[t:])

out = {}
t0 = time.perf_counter()
scene.frame_set(1)
run_loop(shown(1))
out["first_s"] = time.perf_counter() - t0  # loads the model on the worker

frames = list(range(2, 2 + N))
out["uncached"] = [change(f) for f in frames]
for f in frames:  # the frames stay in the cache; the face's files go
    api.frame_path(face, f).unlink()
out["cached"] = [change(f) for f in frames]
out["shown_already"] = [change(f) for f in frames]
out["work_s"] = work_s[1:1 + N]

# Playback over uncached frames: one frame change every 1/FPS s, the timer polled in between.
start, count = 2 + N + 10, 2 * int(FPS)
ran, dropped, h, t = worker.ran, worker.dropped, len(preview.stats.handler_s), len(preview.stats.timer_s)
n_shown, n_stand_ins = len(preview.stats.shown), len(preview.stats.stand_ins)
t_start = time.perf_counter()
for i in range(count):
    due = t_start + i / FPS
    while time.perf_counter() < due:
        if bpy.app.timers.is_registered(preview._poll) and preview._poll() is None:
            bpy.app.timers.unregister(preview._poll)
        time.sleep(min(0.005, max(0.0, due - time.perf_counter())))
    scene.frame_set(start + i)
t_last = time.perf_counter()
run_loop(shown(start + count - 1))
shown_frames = {f for _, f, _ in list(preview.stats.shown)[n_shown:]}
stand_ins = len(preview.stats.stand_ins) - n_stand_ins
out["playback"] = dict(changes=count, ran=worker.ran - ran, dropped=worker.dropped - dropped,
                       distinct_shown=len(shown_frames), stand_ins=stand_ins,
                       last_s=preview.stats.shown[-1][2] - t_last,
                       handler_s=list(preview.stats.handler_s)[h:], timer_s=list(preview.stats.timer_s)[t:])
out["resolution"] = addon("rig").loaded_rig(addon("preferences").rig_paths()).resolution
out["file_shape"] = list(bpy.data.images.load(str(api.frame_path(face, frames[-1]))).size)
result(**out)
'''


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rig_files(tmp: Path) -> tuple[dict[str, str], str]:
    """The default model and directions, or a random generator of its architecture; what was used."""
    import torch

    from backend.animation.directions import save_directions
    from backend.model.checkpoints import load_generator, save_generator
    from backend.model.generator import Generator
    from lab.fit import DEFAULT_GENERATOR
    from lab.rigs import random_directions

    model = ROOT / "models" / "default" / "generator.safetensors"
    directions = model.with_name("directions.json")
    if model.is_file() and directions.is_file():
        return {"LE_TEST_MODEL": str(model), "LE_TEST_DIRECTIONS": str(directions)}, f"default model {model}"
    if model.is_file():
        G, _ = load_generator(model)
        what = f"default model {model}, random directions"
    else:
        torch.manual_seed(0)
        G = Generator(DEFAULT_GENERATOR).eval()
        model = save_generator(G, tmp / "generator.safetensors")
        what = ("models/default/generator.safetensors is missing: a randomly initialised DEFAULT_GENERATOR "
                f"({DEFAULT_GENERATOR.img_resolution} px, the same cost per frame), random directions")
    path = save_directions(random_directions(G), tmp / "directions.json")
    return {"LE_TEST_MODEL": str(model), "LE_TEST_DIRECTIONS": str(path)}, what


def _ms(values) -> str:
    values = list(values)
    if not values:
        return "—"
    mean = sum(values) / len(values)
    median = sorted(values)[len(values) // 2]
    return f"median {median * 1000:7.1f}  mean {mean * 1000:7.1f}  max {max(values) * 1000:7.1f} ms"


def report(out: dict, preview_resolution: int) -> None:
    print(f"\n== Preview Resolution {preview_resolution}: frames {out['resolution']} px from the generator, "
          f"the face's files {out['file_shape'][0]} px")
    print(f"first frame change (loads the model on the worker): {out['first_s'] * 1000:.0f} ms")
    print("frame change → face shows the frame:")
    for name, label in (("uncached", "uncached (worker + timer)"), ("cached", "cached (made now)"),
                        ("shown_already", "file already shown")):
        print(f"  {label:27s} {_ms(r[0] for r in out[name])}")
    print(f"  {'worker compute per frame':27s} {_ms(out['work_s'])}")
    print("UI thread blocked per frame change (handler + timer callbacks):")
    for name, label in (("uncached", "uncached"), ("cached", "cached"), ("shown_already", "file already shown")):
        rows = out[name]
        print(f"  {label:27s} {_ms(r[1] + r[2] for r in rows)}   (handler alone: {_ms(r[1] for r in rows)})")
    pb = out["playback"]
    print(f"playback at 24 fps over {pb['changes']} uncached frames: {pb['ran']} computed, {pb['dropped']} "
          f"superseded; {pb['distinct_shown']} shown on their own frame, {pb['stand_ins']} stand-ins (the newest "
          f"frame made, shown while the current one is made); the last frame shown {pb['last_s'] * 1000:.0f} ms "
          f"after the last change")
    print(f"  handler per frame change    {_ms(pb['handler_s'])}")
    print(f"  timer call                  {_ms(pb['timer_s'])}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=12, help="frame changes per measurement (default 12)")
    p.add_argument("--preview-resolution", default="64,256",
                   help="values of the preference Preview Resolution to measure, one Blender session each "
                        "(default 64,256: a smaller copy of each frame; the default preference, which is the full "
                        "size of a 128 px model; 0: full size)")
    p.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads in Blender (default 1)")
    p.add_argument("--full-previews", action="store_true",
                   help="turn the preference Low-Resolution Previews off: previews are full frames scaled down")
    args = p.parse_args(argv)
    sizes = [int(v) for v in args.preview_resolution.split(",")]

    from tests.blender.harness import Blender, install

    with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
        tmp = Path(tmp)
        files, what = rig_files(tmp)
        builder = _load("build_extension", ROOT / "scripts" / "build_extension.py")
        zip_path = builder.build(tmp / "dist", staging=tmp / "stage", with_model=False)
        threads = str(args.threads)
        blender = Blender(tmp / "home", {**files, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
        (tmp / "home").mkdir()
        install(blender, zip_path)
        how = "full" if args.full_previews else "lowres"
        outs = [blender.run(BENCH, str(args.frames), str(size), how, timeout=1800,
                            env={"LE_TEST_CACHE": str(tmp / f"cache-{size}")}) for size in sizes]

    load = os.getloadavg()
    print(f"model: {what}; Low-Resolution Previews {'off' if args.full_previews else 'on'}")
    print(f"{args.threads} torch thread(s); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} CPUs (other work slows the generator and the file writes)")
    for size, out in zip(sizes, outs):
        report(out, size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
