#!/usr/bin/env python3
"""Learn the default model's nine channel directions, both ways, and write them: the three sets
below, made in the five steps it prints ([1/5] inverting renders ... [5/5] choosing).

    python scripts/make_default_directions.py [--model models/default/generator.safetensors]
        [--probe models/default/probe_features.safetensors] [--model-dir models/default]

1. The paper's way (``MODEL_DIR/directions_paper.json``): ``--labeled`` procedural renders
   with exact channel values are inverted into W (``--steps`` steps each, pixels + features-probe
   loss), and a logistic regression per channel is fitted on the codes.
2. Self-labelled (``MODEL_DIR/directions_self_labeled.json``): ``--self-labeled``
   faces G(mapping(z)) labelled by the features probe (top 15 % of readings on, bottom half
   off), then the same fit; a channel the generator hardly draws may get no direction.
For each, strengths (value 1.0 reads as a full render's expression to the features probe, or
as near as one W spread gets) and W+ row ranges (of ``--rows``, the fewest rows that read within
10 % of the best) are measured on ``--faces`` neutral faces.
3. The shipped set (``MODEL_DIR/directions.json``): per channel the self-labelled direction,
   or the paper's where the self-labelled one misses the single-channel targets (Spearman 0.9,
   dominant 80 %) on ``--choose-faces`` neutral faces (the calibration faces' stream) and the
   paper's meets them (``lab.default_directions.choose_per_channel``). ``--choose-only`` redoes
   just this step from the two files already in MODEL_DIR.
``MODEL_DIR/directions_report.json`` keeps the accuracies, calibration trials, the choice and
timings. The eval probe is never used here.
Defaults take about 28 minutes on one CPU thread (the choice alone about 6).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402
from backend.animation.directions import DirectionSet, load_directions, save_directions  # noqa: E402
from backend.files import write_atomic  # noqa: E402
from backend.jobs import ProgressLine  # noqa: E402
from backend.learning.calibration import calibrate_directions
from backend.learning.fitting import learn_directions
from backend.learning.labels import PROBE_SHARES, LabeledLatents, probe_reader, self_labeled_latents  # noqa: E402
from backend.learning.self_labelled import trial_record  # noqa: E402
from backend.metrics.evaluation import evaluate  # noqa: E402
from backend.model.checkpoints import load_generator  # noqa: E402
from backend.model.devices import pick_device  # noqa: E402
from backend.readers.probe import load_probe  # noqa: E402
from lab.default_directions import (  # noqa: E402
    EXACT_THRESHOLDS,
    choose_per_channel,
    full_expression_targets,
    inverted_latents,
    model_prior,
    neutral_faces,
)


CHOOSE_FRAMES, CHOOSE_EXTRA_FRAMES = 32, 8  # the eval's video lengths


def _rows(text: str) -> list[tuple[int, int]]:
    try:
        return [tuple(int(x) for x in part.split(":")) for part in text.split(",")]  # type: ignore[misc]
    except ValueError:
        raise argparse.ArgumentTypeError(f"rows must look like '0:4,0:8', got {text!r}") from None


def _choose(G, read, sets: dict[str, DirectionSet], args: argparse.Namespace, model_dir: Path) -> dict[str, object]:
    """Set 3 of the module docstring (step [5/5]): score both recipes' directions with the
    features probe on neutral faces and write the shipped set, ``MODEL_DIR/directions.json``;
    returns the report's ``choice`` section."""
    print(f"[5/5] choosing per channel on {args.choose_faces} neutral faces (features probe)")
    faces = neutral_faces(G, model_prior(args.model, G.config.z_dim), args.choose_faces, seed=args.seed)
    scores = {}
    for source, dset in sets.items():
        scores[source], _, _ = evaluate(G, dset, read, faces, CHOOSE_FRAMES, CHOOSE_EXTRA_FRAMES,
                                        tuple(n for n in CHANNEL_NAMES if n in dset), log=lambda m: None)
    choices = choose_per_channel(scores, prefer="self-labeled")
    shipped = DirectionSet(sets["self-labeled"].generator_fingerprint, sets["self-labeled"].num_ws,
                           sets["self-labeled"].w_dim, tuple(sets[c.source][c.name] for c in choices))
    save_directions(shipped, model_dir / "directions.json")
    for c in choices:
        print(f"  {c.name:<11}{c.source:<13}{c.why}")
    return {"faces": args.choose_faces, "seed": args.seed, "frames": [CHOOSE_FRAMES, CHOOSE_EXTRA_FRAMES],
            "channels": [{"name": c.name, "source": c.source, "why": c.why} for c in choices],
            "scores": {src: [asdict(x) for x in ss] for src, ss in scores.items()}}


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
    p.add_argument("--choose-faces", type=int, default=16, help="neutral faces the per-channel choice is measured on")
    p.add_argument("--choose-only", action="store_true",
                   help="only step 3: choose from MODEL_DIR's directions_paper.json and directions_self_labeled.json")
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
    outputs = {"inversion": model_dir / "directions_paper.json", "self-labeled": model_dir / "directions_self_labeled.json"}
    if args.choose_only:
        report = json.loads((model_dir / "directions_report.json").read_text()) if (model_dir / "directions_report.json").is_file() else {}
        sets = {source: load_directions(path, expect_fingerprint=info.fingerprint, num_ws=num_ws, w_dim=G.w_dim)
                for source, path in outputs.items()}
        report["choice"] = _choose(G, read, sets, args, model_dir)
        write_atomic(model_dir / "directions_report.json", json.dumps(report, indent=2) + "\n")
        return 0

    data: dict[str, LabeledLatents] = {}
    cached = np.load(args.latents) if args.latents is not None and args.latents.is_file() else None
    if cached is not None and str(cached["fingerprint"]) == info.fingerprint:
        print(f"labelled latents from {args.latents}")
        data["inversion"] = LabeledLatents(cached["inv_latents"], cached["inv_values"], "inversion",
                                           cached["inv_mae"])
        data["self-labeled"] = LabeledLatents(cached["self_latents"], cached["self_values"], "self-labeled")
    else:
        start = time.perf_counter()
        print(f"[1/5] inverting {args.labeled} labelled renders into W ({args.steps} steps each)")
        data["inversion"] = inverted_latents(G, probe, args.labeled, steps=args.steps, seed=args.seed,
                                             faces_per_identity=args.faces_per_identity,
                                             progress=ProgressLine(sys.stdout, interval=30))
        timings["inversion_s"] = time.perf_counter() - start
        mae = data["inversion"].pixel_mae
        print(f"  {timings['inversion_s']:.0f} s; reconstruction MAE {mae.mean():.1f} "
              f"(median {np.median(mae):.1f}, 0..255 units)")
        start = time.perf_counter()
        print(f"[2/5] drawing and probe-labelling {args.self_labeled} faces")
        data["self-labeled"] = self_labeled_latents(G, read, args.self_labeled, seed=args.seed,
                                                    progress=ProgressLine(sys.stdout, interval=30))
        timings["self_labeling_s"] = time.perf_counter() - start
        print(f"  {timings['self_labeling_s']:.0f} s")
        if args.latents is not None:
            inv, own = data["inversion"], data["self-labeled"]
            args.latents.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.latents, fingerprint=info.fingerprint, inv_latents=inv.latents, inv_values=inv.values,
                     inv_mae=inv.pixel_mae, self_latents=own.latents, self_values=own.values)

    print(f"[3/5] targets and {args.faces} neutral faces for calibration")
    targets = full_expression_targets(read, G.config.img_resolution, seed=args.seed)
    faces = neutral_faces(G, model_prior(args.model, G.config.z_dim), args.faces, seed=args.seed)
    print("  target readings (features probe on renders at 1.0): "
          + ", ".join(f"{n} {t:.2f}" for n, t in zip(CHANNEL_NAMES, targets)))

    report: dict[str, object] = {"generator_fingerprint": info.fingerprint, "features_probe": str(args.probe),
                                 "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                                 "targets": dict(zip(CHANNEL_NAMES, map(float, targets))), "methods": {}}
    thresholds = {"inversion": EXACT_THRESHOLDS, "self-labeled": PROBE_SHARES}
    sets: dict[str, DirectionSet] = {}
    print("[4/5] classifiers, strengths and rows")
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
        sets[source] = calibrated
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
    s = time.perf_counter()
    report["choice"] = _choose(G, read, sets, args, model_dir)
    timings["choice_s"] = time.perf_counter() - s
    timings["total_s"] = time.perf_counter() - t0
    report["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    inv = data["inversion"]
    if inv.pixel_mae is not None and len(inv.pixel_mae):
        report["inversion_pixel_mae"] = {"mean": float(inv.pixel_mae.mean()), "median": float(np.median(inv.pixel_mae))}
    write_atomic(model_dir / "directions_report.json", json.dumps(report, indent=2) + "\n")
    print("\ntimings: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(f"wrote {outputs['inversion']}, {outputs['self-labeled']}, {model_dir / 'directions.json'} (shipped), "
          f"{model_dir / 'directions_report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
