#!/usr/bin/env python3
"""Training speed of candidate default-model architectures on this machine, in images/s.

    python scripts/bench_fit_generator.py [--configs c2048m256,c4096m128] [--steps 8] [--repeat 3]
                                          [--workers 0,1] [--threads 2]

Each measurement times ``--steps`` full training steps (render targets, forward, backward, Adam,
EMA) after two warm-up steps, and is repeated ``--repeat`` times: the spread shows how much other
processes on the machine disturbed it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from lab.fit import DEFAULT_GENERATOR, FitConfig, TargetSource, new_fit, train_step  # noqa: E402

# name: (channel_base, channel_max, z_dim = w_dim, mapping layers); 128x128, no noise inputs.
CANDIDATES = {
    "c2048m128": (2048, 128, 128, 4),
    "c2048m256": (2048, 256, 256, 8),
    "c3072m192": (3072, 192, 128, 4),
    "c4096m128": (4096, 128, 128, 4),
    "c4096m256": (4096, 256, 256, 4),
    "c8192m256": (8192, 256, 256, 4),
}


def candidate(name: str) -> FitConfig:
    base, cmax, dim, layers = CANDIDATES[name]
    g = dataclasses.replace(DEFAULT_GENERATOR, channel_base=base, channel_max=cmax, z_dim=dim, w_dim=dim,
                            mapping_layers=layers)
    return FitConfig(generator=g)


def bench(config: FitConfig, steps: int, repeat: int) -> list[float]:
    state = new_fit(config)
    rates = []
    with TargetSource(config) as source:
        for s in range(2):
            train_step(state, *source.batch(s))
        for r in range(repeat):
            t0 = time.perf_counter()
            for s in range(steps):
                train_step(state, *source.batch(2 + r * steps + s))
            rates.append(steps * config.batch_size / (time.perf_counter() - t0))
    return rates


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default=",".join(CANDIDATES))
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workers", default="0", help="render pool sizes to try (0: render in-process)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    print(f"{'config':>10} {'params':>7} {'workers':>7}  img/s (each repeat)  median")
    for name in args.configs.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            config = dataclasses.replace(candidate(name), render_workers=workers, batch_size=args.batch)
            rates = bench(config, args.steps, args.repeat)
            params = sum(t.numel() for t in new_fit(config).G.parameters()) / 1e6
            print(f"{name:>10} {params:6.2f}M {workers:>7}  {' '.join(f'{r:5.1f}' for r in rates):<20} "
                  f"{sorted(rates)[len(rates) // 2]:6.1f}", flush=True)


if __name__ == "__main__":
    main()
