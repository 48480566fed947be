#!/usr/bin/env python3
"""Low-resolution previews of big models: ms/frame when synthesis stops at a lower block
(``Generator.synthesize(ws, stop_at=r)``) against the full frame, and how far the preview is from
the full frame scaled down to the same size (mean absolute difference, 0-255).

    .venv/bin/python scripts/bench_lowres_preview.py [--configs f1024] [--repeat 3] [--threads 1]

config-F 1024 has random weights (speed does not depend on them; the difference is only
meaningful for a trained model, so it is printed for the default model). Rounds are interleaved
(full, then each preview size, repeated) so that changing load affects all alike; the load
average is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_generator import CONFIGS  # noqa: E402

from backend.model.checkpoints import load_generator  # noqa: E402
from backend.model.generator import Generator, synthesize_frames  # noqa: E402
from backend.model.threads import set_threads  # noqa: E402

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default" / "generator.safetensors"


def bench(G: Generator, label: str, sizes: list[int], repeat: int, seeds: int = 4) -> None:
    ws = np.concatenate([G.w_from_seed(s, truncation_psi=0.7).cpu().numpy() for s in range(seeds)])
    stops = [None] + [G.preview_resolution(s) for s in sizes if G.preview_resolution(s) < G.config.img_resolution]
    synthesize_frames(G, ws[:1])  # warm-up
    best = {s: float("inf") for s in stops}
    for _ in range(repeat):
        for s in stops:
            t0 = time.perf_counter()
            frames = synthesize_frames(G, ws, stop_at=s)
            best[s] = min(best[s], (time.perf_counter() - t0) / len(ws))
            if s is None:
                full = frames
    for s in stops:
        res = s or G.config.img_resolution
        line = f"{label:>8} {res:>5} px {best[s] * 1000:9.1f} ms/frame {best[None] / best[s]:6.1f}x faster"
        if s is not None:
            small = np.stack([cv2.resize(f, (s, s), interpolation=cv2.INTER_AREA) for f in full])
            diff = float(np.abs(synthesize_frames(G, ws, stop_at=s).astype(np.int16) - small).mean())
            line += f"   mean |preview - scaled full| {diff:5.2f}"
        print(line, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="f1024", help="random-weight configs of bench_generator.py")
    p.add_argument("--sizes", default="64,128,256,512", help="preview sizes asked for")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    set_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}")
    if DEFAULT_MODEL.is_file():
        bench(load_generator(DEFAULT_MODEL)[0], "default", sizes, args.repeat, seeds=8)
    for name in filter(None, args.configs.split(",")):
        torch.manual_seed(0)
        bench(Generator(CONFIGS[name]).eval().requires_grad_(False), name, sizes, args.repeat, seeds=1)
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
