#!/usr/bin/env python3
"""Train the project's default generator on procedural faces and export it.

    python scripts/train_default_model.py --out runs/default --minutes 110 [--resume] [--model-dir models/default]

Trains ``DEFAULT_GENERATOR`` with ``lab.fit`` (a supervised fit of G(z) to
render(decode(z)), see there) until ``--minutes`` of training or ``--steps`` steps, both counted
over all sessions of the run, or until Ctrl-C / SIGTERM. Checkpoints go to ``OUT/checkpoint.pt``
every ``--checkpoint-minutes`` and at the end; ``--resume`` continues from there exactly; when the checkpoint is gone (run
folders are not kept between machines), ``--init MODEL_DIR/generator.safetensors`` continues
the exported model instead (its weights and counters, a fresh optimizer). Then it
writes ``MODEL_DIR/generator.safetensors`` (G_ema, fp16), ``MODEL_DIR/training.json`` and
``OUT/samples.png`` (per seed: the render, G(z), and G at ψ = 0.7). ``MODEL_DIR`` is ``OUT/model``
unless given: only ``--model-dir models/default`` replaces the shipped model, so that a trial
run never does by accident.

The result depends only on the step count (``--steps`` reproduces a run); a minutes budget
stops at whatever step this machine reaches.

On a GPU (``--device cuda``, or ``auto`` where one is) the step runs there, by default under
bfloat16 autocast (``--precision``), and the targets are rendered by CPU worker processes
(``--render-workers``); a continued run (``--init``) may take a larger ``--batch``:

    python scripts/train_default_model.py --out runs/gpu --init models/default/generator.safetensors \
        --device cuda --batch 64 --render-workers 12 --minutes 400
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402

from backend.files import FileError  # noqa: E402
from backend.model.checkpoints import load_generator  # noqa: E402
from backend.model.devices import pick_device  # noqa: E402
from backend.readers.probe import load_probe  # noqa: E402
from lab.budget import add_budget_options, apply_budget_options  # noqa: E402
from lab.fit import (  # noqa: E402
    CHECKPOINT_NAME,
    PRECISIONS,
    FitConfig,
    export_model,
    fit,
    load_checkpoint,
    new_fit,
    sample_sheet,
    set_optimizer,
    warm_start,
)

MAX_MODEL_BYTES = 25 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, log.jsonl, samples.png")
    add_budget_options(p, " over all sessions")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--init", type=Path, default=None,
                   help="continue an exported model (its checkpoint lost): its weights, config and counters, "
                        "a fresh optimizer")
    p.add_argument("--model-dir", type=Path, default=None,
                   help="where the exported model goes (default OUT/model; models/default ships it)")
    p.add_argument("--checkpoint-minutes", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=None,
                   help=f"images per step (new runs: default {FitConfig.batch_size}; --init: default the model's)")
    p.add_argument("--resolution", type=int, default=None,
                   help=f"image size of a new run (default {FitConfig().generator.img_resolution}; a small one, "
                        "e.g. 32 with --channel-base 512, tries a recipe in minutes)")
    p.add_argument("--channel-base", type=int, default=None,
                   help=f"channel_base of a new run's generator (default {FitConfig().generator.channel_base})")
    p.add_argument("--mapping-layers", type=int, default=None,
                   help=f"mapping-network depth of a new run (default {FitConfig().generator.mapping_layers})")
    p.add_argument("--synthesis-from", type=Path, default=None,
                   help="a new run starts its synthesis network from this exported generator's (its size and "
                        "channels too), only the mapping network fresh, e.g. with a shallower --mapping-layers "
                        "(measured in the model card)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32, or bf16 autocast (default: bf16 on a GPU, fp32 on the CPU)")
    p.add_argument("--render-workers", type=int, default=0,
                   help="processes rendering targets (0: in-process, fastest on 2 cores)")
    p.add_argument("--probe-weight", type=float, default=None,
                   help="weight of the features-probe loss term (new, resumed or continued runs)")
    p.add_argument("--probe", default="models/default/probe_features.safetensors",
                   help="the features probe for --probe-weight and the checkpoints' fidelity line "
                        "(never the eval probe)")
    p.add_argument("--region-weight", type=float, default=None,
                   help="weight of the brows/eyes/mouth L1 term (new, resumed or continued runs)")
    p.add_argument("--delta-weight", type=float, default=None,
                   help="weight of the paired term: batches of pairs (one person, two expressions), L1 between "
                        "G's change and the render's where the render changed (new, resumed or continued runs)")
    p.add_argument("--still-weight", type=float, default=None,
                   help="weight of the other paired term: G's change between the pair's faces where the render "
                        "did not change (new, resumed or continued runs)")
    p.add_argument("--identities", type=int, default=None,
                   help="give every training face the identity of one of this many fixed people (0: all "
                        "different), a phase that spends the loss on expression and pose (any run)")
    p.add_argument("--identity-share", type=float, default=None,
                   help="the share of each batch --identities pins (default all; any run)")
    p.add_argument("--identity-period", type=int, default=None,
                   help="draw the fixed people anew every this many steps (0: never; any run)")
    p.add_argument("--mix-share", type=float, default=None,
                   help="the share of each batch whose faces stack two or three channels at 0.5-1 each, as the "
                        "rig's stacked keyframes do (0: the prior's own mixes only; any run)")
    p.add_argument("--lr", type=float, default=None, help="Adam's learning rate (any run)")
    p.add_argument("--beta1", type=float, default=None, help="Adam's first-moment decay (any run)")
    p.add_argument("--more-minutes", type=float, default=None,
                   help="train this many minutes more than the run (or --init model) has had, instead of --minutes")
    args = p.parse_args(argv)
    if args.more_minutes is not None:
        if args.minutes is not None:
            p.error("--minutes and --more-minutes exclude each other")
        args.minutes = float("inf")  # set below, once the run's earlier minutes are known
    apply_budget_options(p, args)

    checkpoint = args.out / CHECKPOINT_NAME
    if args.resume and args.init is not None:
        p.error("--resume and --init exclude each other")
    if (args.resume or args.init is not None) and (args.resolution or args.channel_base or args.mapping_layers):
        p.error("--resolution, --channel-base and --mapping-layers are for new runs")
    if args.synthesis_from is not None and (args.resume or args.init is not None or args.resolution
                                            or args.channel_base):
        p.error("--synthesis-from starts a new run with that generator's size and channels")
    try:
        device = pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    if args.init is not None:
        if checkpoint.exists():
            p.error(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")
        state = warm_start(args.init, render_workers=args.render_workers)
        if args.batch is not None:
            state.config = dataclasses.replace(state.config, batch_size=args.batch)
        print(f"continuing {args.init}: step {state.step}, {state.nimg} images, {state.seconds / 60:.1f} min so far")
    elif args.resume:
        if not checkpoint.is_file():
            p.error(f"--resume: {checkpoint} does not exist")
        state = load_checkpoint(checkpoint, render_workers=args.render_workers)
        if args.batch not in (None, state.config.batch_size):
            p.error(f"--batch cannot change on --resume (the run's is {state.config.batch_size}); use --init")
    else:
        if checkpoint.exists():
            p.error(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")
        generator = FitConfig().generator
        if args.synthesis_from is not None:
            try:
                generator = load_generator(args.synthesis_from)[0].config
            except FileError as e:
                p.error(str(e))
        generator = dataclasses.replace(generator, img_resolution=args.resolution or generator.img_resolution,
                                        channel_base=args.channel_base or generator.channel_base,
                                        mapping_layers=args.mapping_layers or generator.mapping_layers)
        synthesis_init = None if args.synthesis_from is None else os.fspath(args.synthesis_from)
        state = new_fit(dataclasses.replace(FitConfig(), generator=generator, render_workers=args.render_workers,
                                            batch_size=args.batch or FitConfig.batch_size,
                                            synthesis_init=synthesis_init))
    if args.more_minutes is not None:
        args.minutes = state.seconds / 60 + args.more_minutes
    state.to(device)
    state.precision = args.precision or ("fp32" if device.type == "cpu" else "bf16")
    print(f"training on {device} ({state.precision}), batch {state.config.batch_size}")

    # The recipe options a resumed or continued run may change: one replace, validated once.
    weights = {name: getattr(args, f"{name}_weight") for name in ("probe", "region", "delta", "still")}
    weights = {name: w for name, w in weights.items() if w is not None}
    recipe = {name: getattr(args, name) for name in ("identities", "identity_period", "identity_share", "mix_share")
              if getattr(args, name) is not None}
    if "probe" in weights:
        if "eval" in Path(args.probe).name:
            p.error("the eval probe measures the model and may not train it; use the features probe")
        recipe["probe"] = args.probe
    try:
        state.config = dataclasses.replace(state.config, loss=dataclasses.replace(state.config.loss, **weights),
                                           **recipe)
    except ValueError as e:
        p.error(str(e))
    if args.lr is not None or args.beta1 is not None:
        set_optimizer(state, lr=args.lr, beta1=args.beta1)
    fidelity_probe = None
    if Path(args.probe).is_file() and "eval" not in Path(args.probe).name:
        fidelity_probe = load_probe(args.probe, device=device).eval().requires_grad_(False)
    result = fit(state, args.out, minutes=args.minutes, max_steps=args.steps,
                 checkpoint_minutes=args.checkpoint_minutes, fidelity_probe=fidelity_probe)
    print(f"stopped by {result.stopped_by} after {result.step} steps, {result.nimg} images, "
          f"{result.minutes:.1f} min; G_ema held-out L1 {result.eval_loss.full:.4f}", flush=True)

    generator_path, json_path = export_model(state, result, args.model_dir or args.out / "model")
    size = generator_path.stat().st_size
    print(f"wrote {generator_path} ({size / 2**20:.1f} MiB) and {json_path}")
    G, _ = load_generator(generator_path)
    sheet = sample_sheet(G, state.config.prior, list(range(16)))
    sheet_path = args.out / "samples.png"
    cv2.imwrite(str(sheet_path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {sheet_path}")
    if size > MAX_MODEL_BYTES:
        print(f"error: {generator_path} is larger than {MAX_MODEL_BYTES / 2**20:.0f} MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
