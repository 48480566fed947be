#!/usr/bin/env python3
"""UI-thread time of the Bake operator per baked frame, in headless Blender.

    .venv/bin/python scripts/bench_bake.py [--resolution 1024] [--frames 4] [--threads 1]

Installs the extension into a temporary Blender user folder (the ``bpy`` module, as the tests do)
with a randomly initialised generator of NVIDIA's architecture at ``--resolution`` (the cost per
frame of a real model of that size) and random directions, keys a face so that every frame differs,
and runs the modal Bake as Blender's event loop would: a timer event every ``POLL_SECONDS`` until it
finishes. The generator runs on the add-on's worker thread; what is printed is the time the timer
events took on the UI thread (making the files of finished frames), per frame and per event.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs inside Blender after tests/blender/harness.PRELUDE (``enable``, ``result``, ``addon``).
BENCH = '''
import time, types
api = enable()
ops, STATE = addon("operators"), addon("state").STATE
Bake = ops.LATENT_EMOTION_OT_bake
N = int(sys.argv[1])
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, N
face = api.add_face(seed=0)
bpy.context.view_layer.objects.active = face
api.key_channels(face, 1, interpolation="LINEAR", joy=-1.0, surprise=1.0)
api.key_channels(face, N, interpolation="LINEAR", joy=1.0, surprise=-1.0)
addon("jobs").load_rig()  # loaded before: the benchmark is about baking, not loading

class Event:
    type, value = "TIMER", "PRESS"

op = types.SimpleNamespace(reports=[], scope="ACTIVE", preview=False)
op.report = lambda kind, message: op.reports.append(message)
for name in ("begin", "start", "_job", "_targets", "_scene", "modal", "_on_model_timer", "_on_timer", "_end"):
    setattr(op, name, types.MethodType(getattr(Bake, name), op))
STATE.modal_bake.update(op=op, timer=None, wm=bpy.context.window_manager)
t0 = time.perf_counter()
op.begin(bpy.context)
start_s = time.perf_counter() - t0
events = []
while True:
    t = time.perf_counter()
    state = op.modal(bpy.context, Event())
    events.append(time.perf_counter() - t)
    if "RUNNING_MODAL" not in state:
        break
    time.sleep(ops.POLL_SECONDS)
total = time.perf_counter() - t0
result(start_s=start_s, events=events, total_s=total, frames=op._job_ref.done, computed=op._order.computed,
       reports=op.reports, resolution=addon("rig").loaded_rig(addon("preferences").rig_paths()).resolution)
'''


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--resolution", type=int, default=1024, help="generator output size in pixels (default 1024)")
    p.add_argument("--frames", type=int, default=4, help="frames to bake (default 4)")
    p.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads in Blender (default 1)")
    args = p.parse_args(argv)

    import torch

    from backend.animation.directions import save_directions
    from backend.model.checkpoints import save_generator
    from backend.model.generator import Generator, GeneratorConfig
    from lab.rigs import random_directions
    from scripts.bench_preview import _load
    from tests.blender.harness import Blender, install

    with tempfile.TemporaryDirectory(prefix="bench-bake-") as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        G = Generator(GeneratorConfig(img_resolution=args.resolution)).eval()
        files = {"LE_TEST_MODEL": str(save_generator(G, tmp / "generator.safetensors")),
                 "LE_TEST_DIRECTIONS": str(save_directions(random_directions(G), tmp / "directions.json"))}
        builder = _load("build_extension", ROOT / "scripts" / "build_extension.py")
        zip_path = builder.build(tmp / "dist", staging=tmp / "stage", with_model=False)
        threads = str(args.threads)
        (tmp / "home").mkdir()
        blender = Blender(tmp / "home", {**files, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                                         "LE_TEST_CACHE": str(tmp / "cache")})
        install(blender, zip_path)
        out = blender.run(BENCH, str(args.frames), timeout=3600)

    events = out["events"]
    ui = sum(events)
    load = os.getloadavg()
    print(f"generator: random, {out['resolution']} px, NVIDIA's architecture; {args.threads} torch thread(s); "
          f"load average {load[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"bake of {out['frames']} frames ({out['computed']} computed on the worker): {out['total_s']:.1f} s")
    print(f"UI thread: start (values, keys, order) {out['start_s'] * 1000:.1f} ms; timer events {len(events)}, "
          f"{ui * 1000:.1f} ms in all = {ui * 1000 / max(1, out['frames']):.2f} ms per baked frame; "
          f"longest event {max(events) * 1000:.2f} ms")
    print(out["reports"][-1] if out["reports"] else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
