"""Commands that make pictures: render, sample, sheet, and the frame cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (
    TRUNCATION,
    VALUE,
    _frame_range,
    byte_size,
    engine_words,
    frame_engine,
    load_model_arg,
    model_and_directions,
    model_options,
    number_in,
    parse_seeds,
    progress_line,
)
from .words import description_from_args, text_model_options


def cmd_sample(args: argparse.Namespace) -> None:
    from ..files import check_output, write_atomic
    from ..model.generator import images_to_uint8
    from ..rendering.video import encode_png

    check_output(args.out, (args.model,), folder=True)
    G, _ = load_model_arg(args)
    for seed in args.seeds:
        ws = G.w_from_seed(seed, truncation_psi=args.truncation)
        path = args.out / f"seed{seed:04d}.png"
        write_atomic(path, encode_png(images_to_uint8(G.synthesize(ws))[0]))
        print(path)


def cmd_sheet(args: argparse.Namespace) -> None:
    import numpy as np

    from ..files import write_atomic
    from ..rendering.sheet import channel_sheet
    from ..rendering.video import encode_png

    if args.cell < 8:
        raise ValueError(f"--cell must be at least 8 pixels, got {args.cell}")
    from ..files import check_output

    check_output(args.out, (args.model, args.directions))
    G, info, directions = model_and_directions(args)
    engine = frame_engine(args, G, info.fingerprint)
    faces = np.concatenate([G.w_from_seed(s, truncation_psi=args.truncation).cpu().numpy() for s in args.seeds])
    write_atomic(args.out, encode_png(channel_sheet(G, faces, directions, args.value, args.cell, engine)))
    print(f"{args.out}: {len(args.seeds)} faces x (neutral + {len(directions)} channels at {args.value:g}), "
          f"{engine_words(engine)}")


def cmd_render(args: argparse.Namespace) -> None:

    from ..animation.channels import CHANNEL_NAMES
    from ..animation.script import load_script, parse_script
    from ..animation.timeline import iter_latents, load_values, timeline_from_clip
    from ..files import check_output
    from ..rendering.frame_cache import FrameCache
    from ..rendering.render import compile_synthesis, default_cache_dir, render_frames_cached, write_frames

    inputs = (args.model, args.directions, args.script, args.values, args.w)
    check_output(args.out, inputs, folder=not args.out.suffix or args.out.is_dir())
    G, info, directions = model_and_directions(args)
    if args.script is not None or args.text is not None:
        extra = [n for n in directions.names if n not in CHANNEL_NAMES]
        if args.text is not None:
            script = parse_script(description_from_args(args, args.fps).script, extra_channels=extra)
        else:
            script = load_script(args.script, frames_between=args.frames_between, extra_channels=extra)
        clips = {c.index: c for c in script.clips}
        clip = clips.get(args.clip) if args.clip is not None else script.clips[0]
        if clip is None:
            raise ValueError(f"{args.script} has no clip {args.clip} (it has {', '.join(map(str, clips))})")
        timeline = timeline_from_clip(clip, script.channels, args.interpolation)
    else:
        timeline = load_values(args.values)
    if args.frames is not None:  # one chunk of the shot: the frames (and their numbers) of the whole render
        timeline = timeline.between(*args.frames)
    if args.w is not None:
        from ..photos.face_code import load_face_code

        w_face = load_face_code(args.w, expect_fingerprint=info.fingerprint, num_ws=info.num_ws, w_dim=info.w_dim)
    else:
        w_face = G.w_from_seed(args.seed, truncation_psi=args.truncation).cpu().numpy()
    cache = FrameCache(args.cache or default_cache_dir())
    engine = frame_engine(args, G, info.fingerprint, cache.root)
    if args.compile:
        compile_synthesis(G, cache.root)
    latents = iter_latents(w_face, timeline, directions, stacking=args.stacking)
    frames = render_frames_cached(G, info.fingerprint, latents, cache, size=args.size, progress=progress_line(),
                                  total=len(timeline), compiled=args.compile, engine=engine)
    n = write_frames(frames, args.out, args.fps, first=timeline.first)
    computed = cache.writes
    print(f"{args.out}: {n} frames ({timeline.first}-{timeline.last}) at {args.fps:g} fps "
          f"({computed} computed, {n - computed} from cache), {engine_words(engine)}")


def cmd_cache(args: argparse.Namespace) -> None:
    from ..rendering.frame_cache import FrameCache
    from ..rendering.render import default_cache_dir

    cache = FrameCache(args.cache or default_cache_dir())
    if args.action == "prune":
        removed = cache.prune(args.max_size)
        print(f"removed {removed} least recently used frames")
    n, size = cache.count_and_size()
    print(f"{cache.root}: {n} frames, {size / 2**20:.1f} MiB")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="faces from seeds, as PNG files")
    model_options(s)
    s.add_argument("--seeds", type=parse_seeds, default=[0])
    s.add_argument("--truncation", type=TRUNCATION, default=0.7)
    s.add_argument("--out", type=Path, default=Path("faces"))
    s.set_defaults(func=cmd_sample)
    s = sub.add_parser("sheet", help="faces x channels PNG: each face neutral and with each channel at --value")
    model_options(s, directions=True, engine=True)
    s.add_argument("--seeds", type=parse_seeds, default=list(range(8)))
    s.add_argument("--truncation", type=TRUNCATION, default=0.7)
    s.add_argument("--value", type=VALUE, default=1.0, help="channel value in each column (paper: 1.0)")
    s.add_argument("--cell", type=int, default=96, help="pixels per face in the sheet")
    s.add_argument("--out", type=Path, default=Path("sheet.png"))
    s.set_defaults(func=cmd_sheet)
    s = sub.add_parser("render", help="a face performing an emotion script (or per-frame values) → mp4 or PNGs")
    model_options(s, directions=True, engine=True)
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--script", type=Path, help="emotion script (the paper's text format)")
    src.add_argument("--values", type=Path, help="per-frame values: CSV (frame,joy,...) or JSON")
    src.add_argument("--text", help="a description in words, e.g. 'She smiles, then looks shocked' (see the text "
                     "command)")
    s.add_argument("--clip", type=int, help="which '# Video N:' clip of the script (default: the first)")
    s.add_argument("--frames-between", type=number_in(int, 0, 100_000, "--frames-between"), default=32,
                   help="in-between frames per keyframe (paper: 32)")
    s.add_argument("--interpolation", choices=("linear", "slerp", "constant"), default="linear")
    s.add_argument("--stacking", choices=("cap", "add"), default="cap",
                   help="channels moving the same W+ rows: their summed offset capped at the largest single one "
                        "(default), or plainly added (the paper's rig; off the generator's range when strong)")
    s.add_argument("--seed", type=int, default=0, help="the face: a seed of the generator")
    s.add_argument("--truncation", type=TRUNCATION, default=0.7)
    s.add_argument("--w", type=Path, help="the face as a W or W+ code (.npy), or a face code from invert "
                   "(.npz), instead of a seed")
    s.add_argument("--size", type=number_in(int, 8, 8192, "--size"), help="output size in pixels (default: the model's)")
    s.add_argument("--fps", type=number_in(float, 0.01, 1000, "--fps"), default=25.0)
    s.add_argument("--frames", type=_frame_range, metavar="A-B",
                   help="render only frames A to B of the timeline (as a farm splits a shot into chunks); PNG "
                        "frames keep their numbers, so chunks rendered apart fill one folder")
    s.add_argument("--cache", type=Path, help="frame cache folder (default: the user cache)")
    s.add_argument("--compile", action="store_true",
                   help="torch.compile the generator: faster frames after ~30 s of compiling (cached on disk); "
                        "for long renders. Its frames are cached apart from plain ones")
    s.add_argument("--out", type=Path, required=True,
                   help="a video file (.mp4, .mov, .mkv, .avi, .webm, .gif), or a folder for PNG frames")
    text_model_options(s)
    s.set_defaults(func=cmd_render, text_file=None)
    s = sub.add_parser("cache", help="the frame cache: how big it is, or prune it to a size (least recently used first)")
    s.add_argument("action", choices=("info", "prune"))
    s.add_argument("--max-size", type=byte_size, default=2 * 2**30, help="prune: keep at most this much, e.g. 500M, 2G")
    s.add_argument("--cache", type=Path, help="frame cache folder (default: the user cache)")
    s.set_defaults(func=cmd_cache)
