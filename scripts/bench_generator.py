#!/usr/bin/env python3
"""Generator speed on this machine: ms/frame and frames/s, batch 1 and 8, and peak memory.

    .venv/bin/python scripts/bench_generator.py [--configs f1024,p256] [--batches 1,8] [--repeat 3] [--device cpu]

Random weights (speed does not depend on them). Configs: config-F 1024 (FFHQ) and the
stylegan2-ada "paper256" 256 config. Also times the fused and non-fused modulated convolution.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from backend.generator import Generator, GeneratorConfig  # noqa: E402

CONFIGS = {
    "f1024": GeneratorConfig(img_resolution=1024, channel_base=32768, channel_max=512, mapping_layers=8),
    "p256": GeneratorConfig(img_resolution=256, channel_base=16384, channel_max=512, mapping_layers=8,
                            num_fp16_res=4, conv_clamp=256),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(G: Generator, batch: int, repeat: int, fused: bool | None) -> float:
    ws = G.mapping(torch.randn(batch, G.config.z_dim, device=G.device), truncation_psi=0.7)
    with torch.inference_mode():
        G.synthesis(ws, fused=fused)  # warm-up
        if G.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(repeat):
            G.synthesis(ws, fused=fused)
        if G.device.type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (repeat * batch)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="f1024,p256")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}")
    print(f"{'config':>6} {'batch':>5} {'modconv':>9} {'ms/frame':>9} {'frames/s':>9} {'peak RSS MB':>11}")
    for name in args.configs.split(","):
        torch.manual_seed(0)
        G = Generator(CONFIGS[name]).eval().requires_grad_(False).to(args.device)
        for batch in (int(b) for b in args.batches.split(",")):
            for fused in (True, False):
                s = bench(G, batch, args.repeat, fused)
                print(f"{name:>6} {batch:>5} {'fused' if fused else 'unfused':>9} {s * 1000:9.1f} {1 / s:9.2f} "
                      f"{peak_rss_mb():11.0f}", flush=True)
        del G


if __name__ == "__main__":
    main()
