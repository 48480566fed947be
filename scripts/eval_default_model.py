#!/usr/bin/env python3
"""Measure the default model's directions with the evaluation probe, on the paper's protocol.

    python scripts/eval_default_model.py [--model models/default/generator.safetensors]
        [--directions models/default/directions.json] [--probe models/default/probe_eval.safetensors]
        [--faces 35] [--frames 32] [--json eval.json] [--sheet sheet.png]

Zhang & Pollett (2021), Sec. 4: ``--faces`` neutral start faces (drawn neutral by the face
prior, truncation ψ = ``--truncation``; none is a calibration face) × the six emotions, each a
video of ``--frames`` frames whose channel goes linearly from 0 to 1 — 35 × 6 = 210 videos of
32 frames by default. Eye-close, mouth-open and head-turn get the same videos with
``--extra-frames`` frames. The eval probe, trained apart from everything that made the model
and its directions, reads every frame. Per channel:

- Spearman: rank correlation of channel value and the probe's reading of that channel, per
  video, averaged over the videos (target ≥ 0.9);
- dominant: share of faces where, at value 1.0, the channel's emotion reads highest of the six
  (eye-close, mouth-open: reads ≥ 0.5; head-turn: reads ≥ 0.5 to the right) (target ≥ 80 %);
- identity drift: distance in the probe's identity embedding (unit vectors) between the frames
  at value 0 and 1, with the direction on its own rows (the directions file's) and, the paper's
  Fig. 4 ablation, at the same strength on the paper's mask (the first 8 rows: its 8 of 18 at
  1024 px are the same 4-32 px layers) and on every row (with each one's reading at 1.0);
- ACD: mean distance between consecutive frames' identity embeddings (the paper's Table 1
  variant; ``backend.metrics.acd``), and the pairwise (MoCoGAN) variant.
For scale, the same people drawn by the renderer itself, neutral and each channel at 1.0: their
identity drift is what a model that drew the renders exactly would show (the probe's identity
embedding moves with expression too), beside the distance between those faces.
``--sheet`` writes a PNG: one row per face (up to ``--sheet-faces``), the neutral face and each
channel at value 1.0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402
from backend.animation.directions import load_directions  # noqa: E402
from backend.learning.labels import probe_reader  # noqa: E402
from backend.metrics.evaluation import DOMINANT_TARGET, SPEARMAN_TARGET, between_faces, evaluate, print_table, summary  # noqa: E402
from backend.model.devices import pick_device  # noqa: E402
from backend.rendering.sheet import sample_sheet  # noqa: E402
from lab.default_directions import model_prior, neutral_faces, neutral_z, render_drift  # noqa: E402

FACE_SEED = 1000  # neutral_faces stream of the eval faces; make_default_directions calibrates on seed 0


def main(argv: list[str] | None = None) -> int:
    from backend.files import write_atomic
    from backend.model.checkpoints import load_generator
    from backend.readers.probe import load_probe
    from backend.rendering.video import encode_png

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default/generator.safetensors"))
    p.add_argument("--directions", type=Path, default=None, help="default: directions.json beside the model")
    p.add_argument("--probe", type=Path, default=Path("models/default/probe_eval.safetensors"), help="the EVAL probe")
    p.add_argument("--faces", type=int, default=35)
    p.add_argument("--frames", type=int, default=32, help="frames per emotion video")
    p.add_argument("--extra-frames", type=int, default=8, help="frames per eye-close/mouth-open/head-turn video")
    p.add_argument("--truncation", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    p.add_argument("--sheet", type=Path, default=None, help="write a faces x channels PNG here")
    p.add_argument("--sheet-faces", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto (generator and probe)")
    args = p.parse_args(argv)
    if args.faces < 1 or args.frames < 2 or args.extra_frames < 2:
        p.error("--faces must be >= 1 and --frames, --extra-frames >= 2")
    torch.set_num_threads(args.threads)
    try:
        device = pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    directions_path = args.directions or args.model.parent / "directions.json"
    t0 = time.perf_counter()

    G, info = load_generator(args.model, device=device)
    G.eval().requires_grad_(False)
    directions = load_directions(directions_path, expect_fingerprint=info.fingerprint, num_ws=G.num_ws,
                                 w_dim=G.w_dim)
    missing = [n for n in CHANNEL_NAMES if n not in directions]
    if missing:
        print(f"note: {directions_path} has no direction for {', '.join(missing)}; those are not measured")
    read = probe_reader(load_probe(args.probe, device=device))
    prior = model_prior(args.model, G.config.z_dim)
    faces = neutral_faces(G, prior, args.faces, seed=FACE_SEED + args.seed, truncation_psi=args.truncation)
    print(f"model {args.model} ({info.fingerprint[:12]}), directions {directions_path}, eval probe {args.probe}")
    print(f"{args.faces} neutral faces x 6 emotions x {args.frames} frames "
          f"(+ 3 channels x {args.extra_frames} frames), {args.threads} thread(s)")
    channels = tuple(n for n in CHANNEL_NAMES if n in directions)
    if not channels:
        print(f"error: {directions_path} has none of the channels {', '.join(CHANNEL_NAMES)}", file=sys.stderr)
        return 2
    scores, neutral, edited = evaluate(G, directions, read, faces, args.frames, args.extra_frames, channels)
    print_table(scores)
    totals = summary(scores)
    totals["identity_distance_between_faces"] = between_faces(read(neutral).embedding)
    renders = render_drift(prior, neutral_z(prior, args.faces, seed=FACE_SEED + args.seed), read,
                           G.config.img_resolution)
    seconds = time.perf_counter() - t0
    t = totals
    print(f"\nemotions: mean Spearman {t['emotions_spearman_mean']:.3f} ({t['emotions_meeting_spearman_target']}/"
          f"{t['emotions_measured']} >= {SPEARMAN_TARGET}), mean dominant {t['emotions_dominant_mean']:.0%} "
          f"({t['emotions_meeting_dominant_target']}/{t['emotions_measured']} >= {DOMINANT_TARGET:.0%})")
    print(f"identity distance between different start faces (for scale): "
          f"{t['identity_distance_between_faces']:.3f}")
    print(f"identity drift 0->1, mean over channels: own rows {t['drift_masked_mean']:.3f}, paper's mask "
          f"{t['drift_paper_mask_mean']:.3f}, all rows {t['drift_all_rows_mean']:.3f}")
    print(f"the renders themselves (the same people drawn by the renderer, each channel at 1.0): identity drift "
          f"{renders['drift_mean']:.3f} with faces {renders['identity_distance_between_faces']:.3f} apart "
          f"(ratio {renders['drift_mean'] / renders['identity_distance_between_faces']:.2f}): the floor for a model "
          f"that draws them exactly")
    print(f"ACD of the emotion videos: {t['acd_consecutive_emotion_videos']:.4f} (consecutive), "
          f"{t['acd_pairwise_emotion_videos']:.4f} (pairwise); {seconds:.0f} s")
    print("(* below a target: Spearman >= 0.9 and dominant >= 80 %)")
    if args.json is not None:
        doc = {"model": str(args.model), "generator_fingerprint": info.fingerprint,
               "directions": str(directions_path), "probe": str(args.probe),
               "protocol": {"faces": args.faces, "frames": args.frames, "extra_frames": args.extra_frames,
                            "truncation": args.truncation, "face_seed": FACE_SEED + args.seed},
               "channels": [asdict(s) for s in scores], "missing_channels": missing, "summary": totals,
               "renders": renders,
               "seconds": round(seconds, 1)}
        write_atomic(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.sheet is not None:
        k = min(args.sheet_faces, len(faces))
        write_atomic(args.sheet, encode_png(sample_sheet(neutral[:k], {n: v[:k] for n, v in edited.items()})))
        print(f"wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
