#!/usr/bin/env python3
"""The main job's time with torch's default threads ("before") and with our thread policy
("after", backend/model/threads.py), on a quiet machine and with one core kept busy by another process.

    .venv/bin/python scripts/bench_threads.py [--frames-between 8]

"before" is emulated by what torch does unasked: one thread per CPU with OpenMP's spinning
wait policy (OMP_NUM_THREADS=<cpus>, OMP_WAIT_POLICY=ACTIVE). Each run renders the Fig. 7
script into a fresh frame cache; wall time of the whole command is printed, with the load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_main_job(env: dict[str, str], frames_between: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "backend", "render", "--script", "examples/fig7.txt", "--seed", "0",
               "--frames-between", str(frames_between), "--cache", f"{tmp}/cache", "--out", f"{tmp}/fig7.mp4"]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames-between", type=int, default=8)
    args = p.parse_args()
    cpus = len(os.sched_getaffinity(0))
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    variants = {"before": {**base, "OMP_NUM_THREADS": str(cpus), "OMP_WAIT_POLICY": "ACTIVE"}, "after": base}
    print(f"{cpus} CPUs; Fig. 7 with {args.frames_between} in-between frames")
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            for name, env in variants.items():
                seconds = run_main_job(env, args.frames_between)
                print(f"{'one core busy' if busy else 'quiet':>14}  {name:>6}  {seconds:7.1f} s   "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
        finally:
            if hog is not None:
                hog.kill()


if __name__ == "__main__":
    main()
