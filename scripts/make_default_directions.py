#!/usr/bin/env python3
"""Learn the default model's nine channel directions, both ways, and write them.

    python scripts/make_default_directions.py [--model models/default/generator.safetensors]
        [--probe models/default/probe_features.safetensors] [--model-dir models/default]

1. The paper's way (shipped, ``MODEL_DIR/directions.json``): ``--labeled`` procedural renders
   with exact channel values are inverted into W (``--steps`` steps each, pixels + features-probe
   loss), and a logistic regression per channel is fitted on the codes.
2. Self-labelled (comparison, ``MODEL_DIR/directions_self_labeled.json``): ``--self-labeled``
   faces G(mapping(z)) labelled by the features probe (top 15 % of readings on, bottom half
   off), then the same fit; a channel the generator hardly draws may get no direction.
For each, strengths (value 1.0 reads as a full render's expression to the features probe, or
as near as one W spread gets) and W+ row ranges (of ``--rows``, the fewest rows that read within
10 % of the best) are measured on ``--faces`` neutral faces. ``MODEL_DIR/directions_report.json``
keeps the accuracies, calibration trials and timings of both. The eval probe is never used here.
Defaults take about 22 minutes on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402
from backend.animation.directions import save_directions  # noqa: E402
from backend.files import write_atomic  # noqa: E402
from backend.jobs import ProgressLine  # noqa: E402
from backend.learning.calibration import calibrate_directions
from backend.learning.fitting import learn_directions
from backend.learning.labels import PROBE_SHARES, LabeledLatents, probe_reader, self_labeled_latents  # noqa: E402
from backend.learning.self_labelled import trial_record  # noqa: E402
from backend.model.checkpoints import load_generator  # noqa: E402
from backend.model.devices import pick_device  # noqa: E402
from backend.readers.probe import load_probe  # noqa: E402
from lab.default_directions import (  # noqa: E402
    EXACT_THRESHOLDS,
    full_expression_targets,
    inverted_latents,
    model_prior,
    neutral_faces,
)


def _rows(text: str) -> list[tuple[int, int]]:
    try:
        return [tuple(int(x) for x in part.split(":")) for part in text.split(",")]  # type: ignore[misc]
    except ValueError:
        raise argparse.ArgumentTypeError(f"rows must look like '0:4,0:8', got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default/generator.safetensors"))
    p.add_argument("--probe", type=Path, default=Path("models/default/probe_features.safetensors"),
                   help="the FEATURES probe (inversion loss, self-labelling, calibration)")
    p.add_argument("--model-dir", type=Path, default=None, help="where the files go (default: the model's folder)")
    p.add_argument("--labeled", type=int, default=196, help="labelled renders to invert (7 per neutral/emotion round)")
    p.add_argument("--steps", type=int, default=60, help="inversion steps per render")
    p.add_argument("--faces-per-identity", type=int, default=1,
                   help="labelled renders per person (7: each neutral/emotion round is one person)")
    p.add_argument("--self-labeled", type=int, default=1500, help="generated faces labelled by the probe")
    p.add_argument("--faces", type=int, default=8, help="neutral faces for calibration")
    p.add_argument("--rows", type=_rows, default=_rows("0:4,0:6,0:8,0:12"), help="W+ row ranges to try")
    p.add_argument("--method", choices=("logistic", "svm"), default="logistic")
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength of the classifiers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latents", type=Path, default=None,
                   help="an .npz to reuse the labelled latents from (written there when missing)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto (generator and probe)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        device = pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    model_dir = args.model_dir or args.model.parent
    t0 = time.perf_counter()

    G, info = load_generator(args.model, device=device)
    G.eval().requires_grad_(False)
    probe = load_probe(args.probe, device=device)
    read = probe_reader(probe)
    num_ws = G.num_ws
    print(f"generator {args.model} ({info.resolution} px, {num_ws} W+ rows, fingerprint {info.fingerprint[:12]}); "
          f"features probe {args.probe}; {args.threads} thread(s)")
    timings: dict[str, float] = {}

    data: dict[str, LabeledLatents] = {}
    cached = np.load(args.latents) if args.latents is not None and args.latents.is_file() else None
    if cached is not None and str(cached["fingerprint"]) == info.fingerprint:
        print(f"labelled latents from {args.latents}")
        data["inversion"] = LabeledLatents(cached["inv_latents"], cached["inv_values"], "inversion",
                                           cached["inv_mae"])
        data["self-labeled"] = LabeledLatents(cached["self_latents"], cached["self_values"], "self-labeled")
    else:
        start = time.perf_counter()
        print(f"[1/4] inverting {args.labeled} labelled renders into W ({args.steps} steps each)")
        data["inversion"] = inverted_latents(G, probe, args.labeled, steps=args.steps, seed=args.seed,
                                             faces_per_identity=args.faces_per_identity,
                                             progress=ProgressLine(sys.stdout, interval=30))
        timings["inversion_s"] = time.perf_counter() - start
        mae = data["inversion"].pixel_mae
        print(f"  {timings['inversion_s']:.0f} s; reconstruction MAE {mae.mean():.1f} "
              f"(median {np.median(mae):.1f}, 0..255 units)")
        start = time.perf_counter()
        print(f"[2/4] drawing and probe-labelling {args.self_labeled} faces")
        data["self-labeled"] = self_labeled_latents(G, read, args.self_labeled, seed=args.seed,
                                                    progress=ProgressLine(sys.stdout, interval=30))
        timings["self_labeling_s"] = time.perf_counter() - start
        print(f"  {timings['self_labeling_s']:.0f} s")
        if args.latents is not None:
            inv, own = data["inversion"], data["self-labeled"]
            args.latents.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.latents, fingerprint=info.fingerprint, inv_latents=inv.latents, inv_values=inv.values,
                     inv_mae=inv.pixel_mae, self_latents=own.latents, self_values=own.values)

    print(f"[3/4] targets and {args.faces} neutral faces for calibration")
    targets = full_expression_targets(read, G.config.img_resolution, seed=args.seed)
    faces = neutral_faces(G, model_prior(args.model, G.config.z_dim), args.faces, seed=args.seed)
    print("  target readings (features probe on renders at 1.0): "
          + ", ".join(f"{n} {t:.2f}" for n, t in zip(CHANNEL_NAMES, targets)))

    report: dict[str, object] = {"generator_fingerprint": info.fingerprint, "features_probe": str(args.probe),
                                 "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                                 "targets": dict(zip(CHANNEL_NAMES, map(float, targets))), "methods": {}}
    outputs = {"inversion": model_dir / "directions.json", "self-labeled": model_dir / "directions_self_labeled.json"}
    thresholds = {"inversion": EXACT_THRESHOLDS, "self-labeled": PROBE_SHARES}
    print("[4/4] classifiers, strengths and rows")
    for source, latents in data.items():
        s = time.perf_counter()
        learned = learn_directions(latents, generator_fingerprint=info.fingerprint, num_ws=num_ws,
                                   thresholds=thresholds[source], method=args.method, seed=args.seed,
                                   C=args.C)
        fit_s = time.perf_counter() - s
        calibrated, calibrations = calibrate_directions(G, learned.directions, read, faces, targets,
                                                        row_candidates=args.rows,
                                                        progress=ProgressLine(sys.stdout, interval=30))
        save_directions(calibrated, outputs[source])
        timings[f"{source}_fit_and_calibration_s"] = time.perf_counter() - s
        print(f"\n  {source}: {len(latents.latents)} latents, fit {fit_s:.1f} s -> {outputs[source]}")
        print(f"  {'channel':<11}{'pos/used':>9}{'held-out':>9}{'rows':>7}{'strength':>9}{'reading':>8}"
              f"{'target':>7}{'id drift':>9}")
        rows = []
        for rep, cal, d in zip(learned.reports, calibrations, calibrated):
            c = cal.chosen
            print(f"  {d.name:<11}{rep.n_positive:>4}/{rep.n_train + rep.n_test:<4}{rep.accuracy:>9.3f}"
                  f"{f'{c.layers[0]}-{c.layers[1]}':>7}{c.strength:>9.2f}{c.reading:>8.2f}{cal.target:>7.2f}"
                  f"{c.identity_drift:>9.3f}{'' if c.reached else '  (target not reached)'}")
            rows.append({"name": d.name, "held_out_accuracy": rep.accuracy, "train_accuracy": rep.train_accuracy,
                         "n_positive": rep.n_positive, "n_used": rep.n_train + rep.n_test,
                         "baseline_reading": cal.baseline, "target": cal.target,
                         "chosen": trial_record(c), "trials": [trial_record(t) for t in cal.trials]})
        for name, why in learned.skipped:
            print(f"  {name:<11}no direction: {why}")
        report["methods"][source] = {"file": outputs[source].name, "n_latents": len(latents.latents),
                                     "channels": rows, "skipped": dict(learned.skipped)}
    timings["total_s"] = time.perf_counter() - t0
    report["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    inv = data["inversion"]
    if inv.pixel_mae is not None and len(inv.pixel_mae):
        report["inversion_pixel_mae"] = {"mean": float(inv.pixel_mae.mean()), "median": float(np.median(inv.pixel_mae))}
    write_atomic(model_dir / "directions_report.json", json.dumps(report, indent=2) + "\n")
    print("\ntimings: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(f"wrote {outputs['inversion']} (shipped), {outputs['self-labeled']}, {model_dir / 'directions_report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
