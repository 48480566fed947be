#!/usr/bin/env python3
"""How much of each channel a fitted default generator draws: seconds, not the half hour of
remaking directions and evaluating (``lab/fit/fidelity.py`` says how).

    python scripts/fit_fidelity.py models/default/generator.safetensors [more models...] [--n 256]

Uses the fit's held-out z (``lab.fit.eval_latents``) and the *features* probe; prints, per
channel, the correlation of the exact values with the probe's reading of G(z), beside the same
for the renders (the ceiling), and the share of the ceiling reached; then the image quality
(``lab.fit.fidelity.image_quality``): held-out L1 of the exported (fp16) generator against the
renders, the same on stacked expressions, and sharpness (Laplacian variance, G(z) / renders).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402
from backend.model.checkpoints import CheckpointError, load_generator  # noqa: E402
from backend.readers.probe import load_probe  # noqa: E402
from lab.default_directions import model_prior  # noqa: E402
from lab.fit import FitConfig, eval_latents  # noqa: E402
from lab.fit.fidelity import channel_response, expression_fidelity, image_quality  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", type=Path, help="generator.safetensors files written by a fit")
    p.add_argument("--probe", type=Path, default=Path("models/default/probe_features.safetensors"),
                   help="the FEATURES probe")
    p.add_argument("--n", type=int, default=256, help="held-out z to draw")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="write the numbers here (one entry per model)")
    args = p.parse_args(argv)
    if "eval" in args.probe.name:
        p.error("the eval probe measures the model and is used for nothing else; use the features probe")
    if args.n < 8:
        p.error("--n must be at least 8")
    torch.set_num_threads(args.threads)
    probe = load_probe(args.probe)
    results = {}
    for path in args.models:
        try:
            G, info = load_generator(path)
        except CheckpointError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        G = G.float().eval().requires_grad_(False)
        prior = model_prior(path, G.config.z_dim)
        z = eval_latents(FitConfig(generator=G.config), args.n)
        fid = expression_fidelity(G, prior, probe, z)
        print(f"\n{path} ({info.fingerprint[:12]})")
        print(fid.table())
        response = channel_response(G, prior, z[:32])
        print(f"response (cosine/gain of G's change with the render's, off to full, {response.n} faces):")
        print(response.line())
        quality = image_quality(G, prior, eval_latents(FitConfig(generator=G.config)))
        print(quality.line())
        results[str(path)] = {"fingerprint": info.fingerprint, "n": fid.n, "identity_cosine": fid.identity_cosine,
                              "image_quality": {**dataclasses.asdict(quality), "sharpness_ratio": quality.sharpness_ratio},
                              "channels": {n: {"r_generated": g, "r_rendered": r, "shown": k,
                                               "response_cosine": c, "response_gain": rg}
                                           for n, g, r, k, c, rg in zip(CHANNEL_NAMES, fid.r_generated, fid.r_rendered,
                                                                        fid.shown, response.cosine, response.gain)}}
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
