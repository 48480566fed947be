"""Commands about directions: train-directions, learn-directions, eval-directions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import (
    DEFAULT_DIRECTIONS,
    TRUNCATION,
    draw_size,
    existing_or_default,
    reader_resolution_option,
    load_model_arg,
    model_and_directions,
    model_options,
    number_in,
    progress_line,
)

if TYPE_CHECKING:
    from ..learning.self_labelled import ReadingAgreement


def cmd_train_directions(args: argparse.Namespace) -> None:
    import numpy as np

    from ..animation.directions import save_directions
    from ..files import check_output, load_array, read_text
    from ..learning.classifiers import train_directions
    from ..model.checkpoints import checkpoint_info

    check_output(args.out, (args.latents, args.labels, args.model))
    latents = load_array(args.latents)
    labels = (load_array(args.labels) if args.labels.suffix == ".npy"
              else np.array([line.strip() for line in read_text(args.labels).splitlines() if line.strip()]))
    for name, a in (("--latents", latents), ("--labels", labels)):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"{name}: an .npz archive; give one array as .npy")
    info = checkpoint_info(args.model)
    names = args.names.split(",") if args.names else None
    result = train_directions(latents, labels, names, generator_fingerprint=info.fingerprint, num_ws=info.num_ws,
                              method=args.method, seed=args.seed)
    save_directions(result.directions, args.out)
    for r in result.reports:
        print(f"{r.name:12s} held-out accuracy {r.accuracy:.3f}  (train {r.train_accuracy:.3f}, "
              f"{r.n_positive} positive of {r.n_train + r.n_test})")
    print(args.out)


def cmd_learn_directions(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from ..animation.directions import save_directions
    from ..files import check_output, json_text, write_atomic
    from ..learning.from_photos import learn_photo_directions
    from ..learning.labels import Shares
    from ..learning.readers import reader_from_spec
    from ..learning.self_labelled import (
        LearnSettings,
        learn_generator_directions,
        learning_report,
        reading_agreement,
    )
    from ..photos.inversion import stop_resolution

    report_path = args.out.with_name(args.out.name.removesuffix(".json") + ".report.json")
    for out in (args.out, report_path):
        check_output(out, (args.model,))  # before hours of sampling, not after
    G, info = load_model_arg(args)
    reader = reader_from_spec(args.reader, "labeller", str(G.device))
    work = args.work or args.out.with_name(args.out.name.removesuffix(".json") + ".work")
    settings = LearnSettings(samples=args.samples, truncation=args.truncation, method=args.method,
                             shares=Shares(args.top, args.bottom, turn_by_rank=True),
                             target_quantile=args.target_quantile, faces=args.faces,
                             orthogonalise=not args.no_orthogonalise, batch=args.batch, seed=args.seed,
                             min_examples=args.min_examples, draw_size=draw_size(args, reader.size))
    what = f"photos in {args.photos}" if args.photos else "samples"
    drawn = stop_resolution(G, settings.draw_size) or info.resolution
    print(f"learning directions for {info.path} ({info.resolution} px, {info.num_ws} W+ rows) on {G.device}; "
          f"reader: {reader.description}; faces drawn at {drawn} px; {what} stored in {work}", file=sys.stderr)
    if args.photos is not None:
        result = learn_photo_directions(G, info.fingerprint, args.photos, reader.read, work, settings,
                                        steps=args.steps, aligned=args.aligned, features=args.features == "faces",
                                        reader_name=args.reader, progress=progress_line())
        agreement = None
    else:
        agreement = reading_agreement(G, info.fingerprint, reader.read, reader.key, work, settings,
                                      progress=progress_line())
        if agreement is not None:
            print_agreement(agreement)
        result = learn_generator_directions(G, info.fingerprint, reader.read, reader.key, work, settings,
                                            reader_name=args.reader, progress=progress_line())
    save_directions(result.directions, args.out)
    report = learning_report(result, settings, model=str(info.path), generator_fingerprint=info.fingerprint,
                             reader=reader.description, device=str(G.device), work=str(work),
                             **({"reader_resolution_check": asdict(agreement)} if agreement else {}))
    write_atomic(report_path, json_text(report))
    print(f"{result.readable} of {result.samples} {'photos' if args.photos else 'samples'} used "
          f"({result.made} made now); "
          f"{', '.join(f'{k} {v:.0f} s' for k, v in result.seconds.items())}")
    print(f"{'channel':<11}{'pos/used':>10}{'held-out':>9}{'rows':>7}{'strength':>9}{'reading':>8}{'target':>7}")
    for row in report["channels"]:
        c = row["chosen"]
        print(f"{row['name']:<11}{row['n_positive']:>5}/{row['n_used']:<4}{row['held_out_accuracy']:>9.3f}"
              f"{c['layers'][0]:>4}-{c['layers'][1]:<2}{c['strength']:>9.3f}{c['reading']:>8.2f}"
              f"{row['target_reading']:>7.2f}{'' if c['reached'] else '  (target not reached)'}")
    for name, why in result.learned.skipped:
        print(f"{name:<11}no direction: {why}")
    print(f"wrote {args.out} and {report_path}")


def print_agreement(agreement: ReadingAgreement) -> None:
    """The ``--reader-resolution`` check on stderr, with a warning where the ranks part."""
    from ..learning.self_labelled import AGREEMENT_WARN

    a = agreement
    ranks = ", ".join(f"{n} {r:.2f}" for n, r in a.spearman.items())
    print(f"readings of {a.faces} faces drawn at {a.resolution} px against the same faces at {a.full_resolution} px, "
          f"Spearman: {ranks}", file=sys.stderr)
    if low := a.below(AGREEMENT_WARN):
        print(f"warning: at {a.resolution} px {', '.join(low)} rank unlike the full frame's (below {AGREEMENT_WARN}), "
              f"so these channels' classes, and directions, will differ from a full-size run's (on the default "
              f"model, Spearman 0.5-0.9 cost emotion quality by eval-directions: docs/speed.md); drop "
              f"--reader-resolution for them", file=sys.stderr)


def cmd_eval_directions(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    import numpy as np

    from ..animation.channels import CHANNEL_NAMES
    from ..files import check_output, json_text, write_atomic
    from ..learning.labels import MEASURE_BATCH
    from ..learning.readers import reader_from_spec
    from ..learning.self_labelled import EVALUATION_STREAM, held_out_faces
    from ..metrics.evaluation import between_faces, evaluate, print_table, summary
    from ..model.generator import synthesize_frames

    if args.json is not None:
        check_output(args.json, (args.model, args.directions))
    G, info, directions = model_and_directions(args)
    reader = reader_from_spec(args.reader, "evaluator", str(G.device))
    channels = tuple(n for n in CHANNEL_NAMES if n in directions)
    if not channels:
        raise ValueError(f"{args.directions} has none of the channels {', '.join(CHANNEL_NAMES)}")
    faces = held_out_faces(G, args.faces, args.truncation, args.seed, EVALUATION_STREAM)
    start = reader.read(synthesize_frames(G, faces, MEASURE_BATCH))
    if not np.isfinite(start.values).all(axis=1).any():
        raise ValueError(f"the reader ({reader.description}) read none of the {args.faces} start faces (no face "
                         "found); for cartoon faces such as the default model's use --reader probe:PATH")
    print(f"{args.faces} held-out faces (seed {args.seed}, truncation {args.truncation}) x {len(channels)} channels; "
          f"reader: {reader.description}", file=sys.stderr)
    scores, _, _ = evaluate(G, directions, reader.read, faces, args.frames, args.extra_frames, channels,
                            log=lambda line: print(line, file=sys.stderr))
    print_table(scores)
    totals = summary(scores)
    between = between_faces(start.embedding)
    totals["identity_distance_between_faces"] = between
    for key in ("drift_masked_mean", "drift_paper_mask_mean", "drift_all_rows_mean"):
        totals[key.replace("_mean", "_relative")] = totals[key] / between if between > 0 else float("nan")
    print(f"\nemotions: mean Spearman {totals['emotions_spearman_mean']:.3f}, mean dominant "
          f"{totals['emotions_dominant_mean']:.0%}; identity drift 0->1 relative to the distance between two faces "
          f"({between:.3f}): own rows {totals['drift_masked_relative']:.2f}, paper's mask "
          f"{totals['drift_paper_mask_relative']:.2f}, all rows {totals['drift_all_rows_relative']:.2f}")
    if args.json is not None:
        doc = {"model": str(info.path), "generator_fingerprint": info.fingerprint,
               "directions": str(existing_or_default(args.directions, DEFAULT_DIRECTIONS, "directions")),
               "reader": reader.description, "protocol": {"faces": args.faces, "frames": args.frames,
               "extra_frames": args.extra_frames, "truncation": args.truncation, "seed": args.seed},
               "channels": [asdict(s) for s in scores], "summary": totals}
        write_atomic(args.json, json_text(doc))  # NaN (e.g. one face: no distance between faces) -> null
        print(f"wrote {args.json}")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("train-directions", help="latent codes + labels → directions file (paper §3)")
    s.add_argument("--latents", type=Path, required=True, help=".npy: (N, w_dim) W or (N, num_ws, w_dim) W+")
    s.add_argument("--labels", type=Path, required=True, help=".npy labels, or a text file with one label a line")
    s.add_argument("--model", type=Path, required=True, help="the generator the latents belong to")
    s.add_argument("--names", help="comma-separated labels to learn (default: all)")
    s.add_argument("--method", choices=("logistic", "svm"), default="logistic")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, required=True)
    s.set_defaults(func=cmd_train_directions)
    s = sub.add_parser("learn-directions", help="learn the nine channel directions of any generator, self-labelled")
    model_options(s)
    s.add_argument("--out", type=Path, required=True, help="the directions file to write (a .report.json goes beside)")
    s.add_argument("--samples", type=number_in(int, 20, 10_000_000, "--samples"), default=2000,
                   help="generated faces to label")
    s.add_argument("--truncation", type=TRUNCATION, default=1.0,
                   help="ψ of the sampled and calibration faces (1: the generator's whole range)")
    s.add_argument("--method", choices=("logistic", "svm"), default="logistic",
                   help="logistic regression (the paper) or a linear SVM (InterFaceGAN)")
    s.add_argument("--reader", default="faces", help="'faces' (face-api expression + landmark measures) or "
                   "'probe:PATH' (e.g. probe:models/default/probe_features.safetensors for the default model)")
    s.add_argument("--top", type=number_in(float, 0.01, 0.49, "--top"), default=0.15,
                   help="share of the faces, by reading, that are a channel's positives")
    s.add_argument("--bottom", type=number_in(float, 0.01, 0.98, "--bottom"), default=0.5,
                   help="share of the faces, by reading, that are its negatives")
    s.add_argument("--faces", type=number_in(int, 1, 10_000, "--faces"), default=8,
                   help="held-out faces for calibration")
    s.add_argument("--target-quantile", type=number_in(float, 0.5, 1.0, "--target-quantile"), default=0.98,
                   help="value 1.0 reads as this quantile of the samples' readings (the strongest faces drawn)")
    s.add_argument("--no-orthogonalise", action="store_true", help="keep the fitted directions as they are")
    s.add_argument("--min-examples", type=number_in(int, 1, 1_000_000, "--min-examples"), default=10,
                   help="positives and negatives a channel needs to get a direction")
    s.add_argument("--photos", type=Path, help="the paper's way: a folder of labelled photos, one sub-folder per "
                   "label (joy/, sadness/, ..., head_turn/ (right), head_turn_left/, neutral/), each photo "
                   "inverted into W, instead of self-labelled samples")
    s.add_argument("--steps", type=number_in(int, 1, 100_000, "--steps"), default=100,
                   help="--photos: inversion steps per photo")
    s.add_argument("--aligned", action="store_true", help="--photos: the photos are aligned faces already")
    s.add_argument("--features", choices=("faces", "none"), default="faces",
                   help="--photos: inversion loss of pixels and face-api features, or pixels only")
    s.add_argument("--batch", type=number_in(int, 1, 4096, "--batch"), default=16, help="faces per generator call")
    s.add_argument("--work", type=Path, help="where samples are stored as they are made (default: OUT.work)")
    s.add_argument("--seed", type=int, default=0)
    reader_resolution_option(s, "the sampled and calibration faces")
    s.set_defaults(func=cmd_learn_directions)
    s = sub.add_parser("eval-directions", help="score directions with an independent reader (Spearman, dominance, "
                       "identity drift)")
    model_options(s, directions=True)
    s.add_argument("--reader", default="faces", help="'faces' (fer expression + landmark measures, identity net) "
                   "or 'probe:PATH' (e.g. probe:models/default/probe_eval.safetensors)")
    s.add_argument("--faces", type=number_in(int, 1, 100_000, "--faces"), default=16, help="held-out start faces")
    s.add_argument("--frames", type=number_in(int, 2, 1000, "--frames"), default=16, help="frames per emotion video")
    s.add_argument("--extra-frames", type=number_in(int, 2, 1000, "--extra-frames"), default=8,
                   help="frames per eye-close/mouth-open/head-turn video")
    s.add_argument("--truncation", type=TRUNCATION, default=0.7)
    s.add_argument("--seed", type=int, default=0, help="which held-out faces")
    s.add_argument("--json", type=Path, help="write the numbers here")
    s.set_defaults(func=cmd_eval_directions)
