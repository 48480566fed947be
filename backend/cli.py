"""Command line: ``python -m backend COMMAND ...``. Errors are one line and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _seeds(text: str) -> list[int]:
    """'0-3,7' → [0, 1, 2, 3, 7]."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like '0-3,7', got {text!r}") from None
    return out


def cmd_info(args: argparse.Namespace) -> None:
    from .checkpoints import checkpoint_info

    info = checkpoint_info(args.model)
    cfg = info.config
    print(f"file:         {info.path}\nformat:       {info.format}\nresolution:   {cfg.img_resolution}\n"
          f"num_ws:       {cfg.num_ws}\nw_dim:        {cfg.w_dim}\nz_dim:        {cfg.z_dim}\n"
          f"c_dim:        {cfg.c_dim}\narchitecture: {cfg.architecture}\nfingerprint:  {info.fingerprint}")


def cmd_sample(args: argparse.Namespace) -> None:
    import imageio.v3 as iio

    from .checkpoints import load_generator
    from .devices import pick_device
    from .generator import images_to_uint8

    G, _ = load_generator(args.model, device=pick_device(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        ws = G.w_from_seed(seed, truncation_psi=args.truncation)
        path = args.out / f"seed{seed:04d}.png"
        iio.imwrite(path, images_to_uint8(G.synthesize(ws))[0])
        print(path)


def cmd_convert(args: argparse.Namespace) -> None:
    from .checkpoints import load_generator, save_generator

    G, info = load_generator(args.model)
    save_generator(G, args.out, half=args.half, metadata={"source_format": info.format,
                                                          "source_fingerprint": info.fingerprint})
    print(f"{args.out} (fingerprint of the source: {info.fingerprint})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backend", description="Latent Emotion backend")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("info", help="what a checkpoint is")
    s.add_argument("model", type=Path)
    s.set_defaults(func=cmd_info)
    s = sub.add_parser("sample", help="faces from seeds, as PNG files")
    s.add_argument("--model", type=Path, required=True)
    s.add_argument("--seeds", type=_seeds, default=[0])
    s.add_argument("--truncation", type=float, default=0.7)
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.add_argument("--out", type=Path, default=Path("faces"))
    s.set_defaults(func=cmd_sample)
    s = sub.add_parser("convert", help="save any supported checkpoint in our safetensors format")
    s.add_argument("model", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--half", action="store_true", help="store weights as fp16 (half the size)")
    s.set_defaults(func=cmd_convert)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .checkpoints import CheckpointError

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (CheckpointError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
