#!/usr/bin/env python3
"""Generator speed on this machine: ms/frame and frames/s, batch 1 and 8, and peak memory.

    .venv/bin/python scripts/bench_generator.py [--configs f1024,p256] [--batches 1,8] [--repeat 3] [--device cpu]

Random weights (speed does not depend on them). Configs: config-F 1024 (FFHQ) and the
stylegan2-ada "paper256" 256 config. Times the fused and non-fused modulated convolution.
Each config runs in its own process, so peak memory is that config's. Fused and unfused rounds
are interleaved so that changing load affects both alike; best-of-N is the figure least
disturbed by other work on the machine, and the highest load average seen is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from backend.model.generator import Generator, GeneratorConfig  # noqa: E402

CONFIGS = {
    "f1024": GeneratorConfig(img_resolution=1024, channel_base=32768, channel_max=512, mapping_layers=8),
    "p256": GeneratorConfig(img_resolution=256, channel_base=16384, channel_max=512, mapping_layers=8,
                            num_fp16_res=4, conv_clamp=256),
}


def frame_seconds(G: Generator, ws: torch.Tensor, fused: bool) -> float:
    """Seconds per frame of one synthesis call."""
    if G.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    G.synthesis(ws, fused=fused)
    if G.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / ws.shape[0]


def run_config(name: str, batches: list[int], repeat: int, device: str) -> None:
    torch.manual_seed(0)
    G = Generator(CONFIGS[name]).eval().requires_grad_(False).to(device)
    for batch in batches:
        ws = G.mapping(torch.randn(batch, G.config.z_dim, device=G.device), truncation_psi=0.7)
        t: dict[bool, list[float]] = {True: [], False: []}
        loads = []
        with torch.inference_mode():
            for fused in (True, False):
                G.synthesis(ws, fused=fused)  # warm-up
            # Interleaved rounds: a change of load during the run affects both variants alike.
            for _ in range(repeat):
                for fused in (True, False):
                    t[fused].append(frame_seconds(G, ws, fused))
                loads.append(os.getloadavg()[0])
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        for fused in (True, False):
            best, mean = min(t[fused]), sum(t[fused]) / len(t[fused])
            print(f"{name:>6} {batch:>5} {'fused' if fused else 'unfused':>8} {best * 1000:10.1f} {mean * 1000:10.1f} "
                  f"{1 / best:9.2f} {rss:12.0f} {max(loads):6.2f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="f1024,p256")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one config in this process
    args = p.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.one:
        run_config(args.one, batches, args.repeat, args.device)
        return
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    print(f"{'config':>6} {'batch':>5} {'modconv':>8} {'best ms/f':>10} {'mean ms/f':>10} {'frames/s':>9} "
          f"{'peak RSS MB':>12} {'load':>6}", flush=True)
    for name in args.configs.split(","):
        subprocess.run([sys.executable, __file__, "--one", name, "--batches", args.batches, "--repeat",
                        str(args.repeat), "--device", args.device], check=True)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
