#!/usr/bin/env python3
"""Train a probe (``backend.readers.probe``, made by ``lab.probes``) on procedural renders and save it.

    python scripts/train_probe.py --role eval --out models/default/probe_eval.safetensors --minutes 60
    python scripts/train_probe.py --role features --out models/default/probe_features.safetensors --minutes 20

``--role`` picks the architecture and seed from ``PROBE_ROLES``: the ``eval`` probe (measures
edits and identity for the evaluation) and the ``features`` net (perceptual loss of inversion)
are trained from different seeds on different faces. Training stops after ``--minutes`` or
``--steps``, whichever comes first, or on Ctrl-C / SIGTERM (the probe trained so far is kept).
Then the probe is scored on held-out renders and written with its config, role, training
length and scores in the file's metadata.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.readers.probe import save_probe  # noqa: E402
from lab.budget import add_budget_options, apply_budget_options  # noqa: E402
from lab.probes import PROBE_ROLES, ProbeTrainLog, evaluate_probe, train_probe  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", choices=sorted(PROBE_ROLES), required=True)
    p.add_argument("--out", type=Path, required=True, help="the .safetensors file to write")
    add_budget_options(p)
    p.add_argument("--batch", type=int, default=32, help="faces per step (even: two drawings per identity)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--eval-faces", type=int, default=512, help="held-out faces scored at the end")
    p.add_argument("--half", action="store_true", help="store fp16 weights (half the file size)")
    args = p.parse_args(argv)
    apply_budget_options(p, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)

    config = PROBE_ROLES[args.role]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    last: list[ProbeTrainLog] = []

    def log(r: ProbeTrainLog) -> None:
        last[:] = [r]
        print(f"step {r.step:6d}  {r.images / max(r.elapsed_s, 1e-9):6.1f} img/s  lr {r.lr:.2e}  "
              f"loss {r.loss.total:.4f} (aus {r.loss.aus:.4f}, emotions {r.loss.emotions:.4f}, "
              f"identity {r.loss.identity:.4f})", flush=True)

    start = time.perf_counter()
    probe = train_probe(config, steps=args.steps, time_limit_s=args.minutes * 60 if args.minutes else None,
                        batch=args.batch, lr=args.lr, log=log, cancel=stop.is_set)
    minutes = (time.perf_counter() - start) / 60
    trained = last[0] if last else None
    scores = evaluate_probe(probe, n=args.eval_faces)
    print(f"held-out ({scores.n} faces): AU MAE {scores.au_mae:.4f} (constant guess {scores.au_mae_baseline:.4f}), "
          f"emotion MAE {scores.emotion_mae:.4f} ({scores.emotion_mae_baseline:.4f}), head-turn MAE "
          f"{scores.head_turn_mae:.4f} ({scores.head_turn_mae_baseline:.4f}), identity top-1 "
          f"{scores.identity_top1:.3f}", flush=True)
    metadata = {
        "role": args.role,
        "steps": str(trained.step if trained else 0),
        "images": str(trained.images if trained else 0),
        "minutes": f"{minutes:.2f}",
        "batch": str(args.batch),
        "lr": str(args.lr),
        "stopped_by": "signal" if stop.is_set() else "budget",
        "heldout_scores": json.dumps(dataclasses.asdict(scores), sort_keys=True),
    }
    save_probe(probe, args.out, half=args.half, metadata=metadata)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
