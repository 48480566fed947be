"""The text command: a description in words -> an emotion script."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import number_in


def description_from_args(args: argparse.Namespace, fps: float):
    """The description (``--text``, or ``--text-file``, '-' for stdin) read into a Description; the
    report of words not understood goes to stderr."""
    from ..language import describe
    from ..language.embedding import load_phrase_reader
    from ..language.rules import read_text

    text = args.text
    if text is None:
        stream = sys.stdin if str(args.text_file) == "-" else open(args.text_file, encoding="utf-8")
        with stream:
            text = read_text(stream)  # keeps at most what is read; a longer one is refused with its length
    interpret, note = (None, "sentence model not used (--no-text-model)") if args.no_text_model \
        else load_phrase_reader(args.text_model)
    description = describe(text, fps=fps, interpret=interpret, model_note=note, start=args.start_values)
    if description.report():
        print(description.report(), file=sys.stderr)
    return description


def cmd_text(args: argparse.Namespace) -> None:
    print(description_from_args(args, args.fps).script, end="")


def start_values(text: str) -> dict[str, float]:
    """'joy:1 head_turn:-0.5' (or comma-separated): the values of a script line keyed at frame 0."""
    from ..animation.script import ScriptError, parse_script

    try:
        return dict(parse_script(text.replace(",", " ") + " @0").clips[0].keyframes[0].values)
    except ScriptError as e:
        raise argparse.ArgumentTypeError(f"--from {text!r}: {e.reason}") from None


def text_model_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--text-model", type=Path, help="folder of the sentence model for free phrasing "
                   "(default: models/text)")
    s.add_argument("--no-text-model", action="store_true", help="read the description with the word tables only")
    s.add_argument("--from", dest="start_values", type=start_values, metavar="VALUES",
                   help="channel values the description starts from, as on a script line, e.g. 'joy:1 "
                        "head_turn:-0.5' (missing channels 0): 'her smile fades' then fades from there")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("text", help="a description in words → an emotion script (printed; words not understood "
                       "go to stderr)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("text", nargs="?", help="the description, e.g. 'She smiles slightly, then suddenly looks "
                     "shocked and turns to the left.'")
    src.add_argument("--text-file", type=Path, help="read the description from a UTF-8 file ('-': stdin)")
    s.add_argument("--fps", type=number_in(float, 1, 1000, "--fps"), default=25.0,
                   help="frames per second, for turning seconds into frames")
    text_model_options(s)
    s.set_defaults(func=cmd_text)
