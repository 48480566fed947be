"""Command line: ``python -m backend COMMAND ...``. Errors are one line and a non-zero exit.

One module per command family (models, rendering, words, learning, faces); ``common`` holds what they share."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from ..jobs import Cancelled, Terminated, sigterm_unwinds
from . import faces, learning, models, rendering, words
from .common import end_progress


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backend", description="Latent Emotion backend")
    sub = p.add_subparsers(dest="command", required=True)
    models.add_parsers(sub)
    rendering.add_parsers(sub)
    words.add_parsers(sub)
    learning.add_parsers(sub)
    faces.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from ..animation.directions import DirectionsError
    from ..animation.script import ScriptError
    from ..files import FileError
    from ..model.checkpoints import CheckpointError
    from ..photos.face_code import FaceCodeError

    args = build_parser().parse_args(argv)
    end_progress()
    try:
        with sigterm_unwinds():
            try:
                args.func(args)
            finally:
                end_progress()  # an error message starts on a line of its own
    except ScriptError as e:
        print(f"error: {getattr(args, 'script', '')}: {e}", file=sys.stderr)
        return 2
    except (CheckpointError, DirectionsError, FaceCodeError, FileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled):
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0
