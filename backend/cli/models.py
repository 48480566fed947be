"""Commands about generator files: info, convert."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_info(args: argparse.Namespace) -> None:
    if args.model.is_dir():
        raise ValueError(f"{args.model}: a folder; pass a checkpoint or directions file")
    if args.model.exists() and not args.model.is_file():  # a FIFO would wait for a writer forever
        raise ValueError(f"{args.model}: not a regular file (a pipe, a device or a socket)")
    with open(args.model, "rb") as f:
        head = f.read(64).lstrip()
    if head.startswith(b"{"):
        from ..animation.directions import load_directions

        d = load_directions(args.model)
        print(f"file:         {args.model}\nformat:       directions\ngenerator:    {d.generator_fingerprint}\n"
              f"num_ws:       {d.num_ws}\nw_dim:        {d.w_dim}")
        for x in d.directions:
            acc = f"{x.accuracy:.3f}" if x.accuracy is not None else "-"
            print(f"  {x.name:12s} rows {x.layers[0]}-{x.layers[1] - 1}  strength {x.strength:.4g}  "
                  f"({x.calibration})  {x.method}  accuracy {acc}")
        return
    from ..model.checkpoints import checkpoint_info

    info = checkpoint_info(args.model)
    cfg = info.config
    print(f"file:         {info.path}\nformat:       {info.format}\nresolution:   {cfg.img_resolution}\n"
          f"num_ws:       {cfg.num_ws}\nw_dim:        {cfg.w_dim}\nz_dim:        {cfg.z_dim}\n"
          f"c_dim:        {cfg.c_dim}\narchitecture: {cfg.architecture}\nfingerprint:  {info.fingerprint}")


def cmd_convert(args: argparse.Namespace) -> None:
    from ..files import check_output
    from ..model.checkpoints import load_generator, save_generator

    check_output(args.out, (args.model,))
    G, info = load_generator(args.model)
    save_generator(G, args.out, half=args.half, metadata={"source_format": info.format,
                                                          "source_fingerprint": info.fingerprint})
    print(f"{args.out} (fingerprint of the source: {info.fingerprint})")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("info", help="what a checkpoint or directions file is")
    s.add_argument("model", type=Path)
    s.set_defaults(func=cmd_info)
    s = sub.add_parser("convert", help="save any supported checkpoint in our safetensors format")
    s.add_argument("model", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--half", action="store_true", help="store weights as fp16 (half the size)")
    s.set_defaults(func=cmd_convert)
