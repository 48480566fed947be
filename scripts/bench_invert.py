#!/usr/bin/env python3
"""``invert`` coarse to fine against every step at full resolution: wall time and reconstruction.

    .venv/bin/python scripts/bench_invert.py [--model PATH] [--features probe:PATH|faces|none] [--steps 300]

The target is the generator's own face (a known w, seed ``--seed`` at truncation 0.7), so the
errors are the reconstruction's: pixel error (0..255) of G(w+) against the target, identity
distance between the two (``--identity PATH``: a probe's embedding; ``faces``: face-api's), and
the W code's distance to the known w in units of W's spread. Both runs in one process, one thread,
full resolution first; the load average is printed beside the wall times (a shared machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.model.allocator import keep_freed_memory  # noqa: E402
from backend.model.checkpoints import load_generator  # noqa: E402
from backend.model.generator import images_from_uint8, images_to_uint8  # noqa: E402
from backend.model.threads import set_threads  # noqa: E402
from backend.photos.face_code import COARSE_SIZE, FaceFeatures, central_box, invert_aligned  # noqa: E402
from backend.photos.inversion import stop_resolution, w_statistics  # noqa: E402

# The bench times coarse steps wherever synthesis can stop lower (the CLI: only where they are at
# most a quarter of the side, ``face_code.coarse_resolution``).
from backend.readers.probe import load_probe  # noqa: E402

KEPT_FREED = keep_freed_memory()  # as the CLI runs; LATENT_EMOTION_KEEP_FREED=0 for malloc's default


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ROOT / "models" / "default" / "generator.safetensors")
    p.add_argument("--features", default="probe:" + str(ROOT / "models" / "default" / "probe_features.safetensors"),
                   help="the inversion's feature loss: probe:PATH, faces or none")
    p.add_argument("--identity", default=str(ROOT / "models" / "default" / "probe_eval.safetensors"),
                   help="identity embedding of the error: a probe file, faces, or none")
    p.add_argument("--steps", type=int, default=300, help="W steps (half as many W+ follow)")
    p.add_argument("--seeds", default="1", help="comma-separated seeds of the target faces")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    set_threads(args.threads)
    G, _ = load_generator(args.model)
    G.eval().requires_grad_(False)
    res = G.config.img_resolution
    if args.features.startswith("probe:"):
        probe = load_probe(args.features[len("probe:"):])
        features, need = probe.features, probe.config.input_size
    elif args.features == "faces":
        features, need = FaceFeatures(central_box(res), size=res), COARSE_SIZE
    else:
        features, need = None, COARSE_SIZE
    if args.identity == "faces":
        embed = FaceFeatures(central_box(res), size=res).embedding
    elif args.identity != "none":
        embed = load_probe(args.identity).forward
        embed_probe = embed
        embed = lambda x: embed_probe(x).embedding  # noqa: E731
    else:
        embed = None
    coarse = stop_resolution(G, need)
    _, _, w_std = w_statistics(G)
    print(f"{args.model.name}: {res} px; features {args.features} (needs {need} px) -> coarse steps at "
          f"{coarse or res} px; {args.steps} W + {args.steps // 2} W+ steps; {args.threads} thread(s); "
          f"freed memory kept {KEPT_FREED}")
    for seed in (int(s) for s in args.seeds.split(",")):
        w_true = G.w_from_seed(seed, truncation_psi=0.7)
        target = images_to_uint8(G.synthesize(w_true))[0]
        rows = {}
        for name, c in (("full resolution", None), ("coarse to fine", coarse)):
            load = os.getloadavg()[0]
            t = time.perf_counter()
            r = invert_aligned(G, target, steps=args.steps, features=features, embedding=None, seed=0, coarse=c)
            seconds = time.perf_counter() - t
            identity = float("nan")
            if embed is not None:
                with torch.no_grad():
                    e = embed(images_from_uint8(np.stack([target, r.reconstruction])))
                identity = float((e[0] - e[1]).norm())
            w_err = float(np.linalg.norm(r.w - w_true[0, 0].numpy())) / w_std
            rows[name] = (seconds, r.pixel_mae, identity, w_err)
            print(f"seed {seed} {name:16s} {seconds:7.1f} s (load {load:.2f} -> {os.getloadavg()[0]:.2f})  "
                  f"pixel error {r.pixel_mae:.2f} (W {r.pixel_mae_w:.2f}) of 255  identity {identity:.4f}  "
                  f"|w - w_true| {w_err:.3f} spread", flush=True)
        (a, pa, ia, _), (b, pb, ib, _) = rows.values()
        print(f"seed {seed}: {a / b:.2f}x faster; pixel error {100 * (pb / pa - 1):+.1f} %, identity "
              f"{100 * (ib / ia - 1):+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
