"""What the command families share: argument types, loading the model, progress."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..animation.channels import VALUE_LIMIT
from ..jobs import ProgressLine

if TYPE_CHECKING:  # imported when used: the command line starts without torch
    from ..model.engines import Engine
    from ..model.generator import Generator
    from ..readers.reading import FaceReaders

# Where the project's own default model lives once it is trained (see models/).
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default" / "generator.safetensors"
DEFAULT_DIRECTIONS = DEFAULT_MODEL.with_name("directions.json")


_MAX_SEEDS = 100_000  # one run's faces; a larger list is a typo, not a job


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' → [0, 1, 2, 3, 7]: seeds within [0, 2**32) (numpy's), at most ``_MAX_SEEDS``."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi) if hi else int(lo)
            if not 0 <= first <= last < 2**32:
                raise argparse.ArgumentTypeError(f"seeds are whole numbers in [0, {2**32 - 1}], low-high ranges "
                                                 f"ascending; got {part!r}")
            if len(out) + last - first + 1 > _MAX_SEEDS:
                raise argparse.ArgumentTypeError(f"at most {_MAX_SEEDS:,} seeds at a time, got {text!r}")
            out += range(first, last + 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like '0-3,7', got {text!r}") from None
    return out


def number_in(kind: type, lo: float, hi: float, what: str):
    """An argparse type: ``kind`` (int or float) within [lo, hi], else a one-line error."""
    from ..files import check_finite

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a {kind.__name__}, got {text!r}") from None
        try:
            check_finite(value, what, lo, hi)  # the one check of user numbers: NaN and inf fail here
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        return value
    return parse


def _frame_range(text: str) -> tuple[int, int]:
    """'A-B' (whole frame numbers, A <= B) → (A, B), else a one-line error."""
    first, sep, last = text.strip().partition("-")
    try:
        a, b = int(first), int(last if sep else first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--frames must look like '0-99', got {text!r}") from None
    if a > b:
        raise argparse.ArgumentTypeError(f"--frames must run forwards (A <= B), got {text!r}")
    return a, b


_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def byte_size(text: str) -> int:
    """'500M', '2G', '1.5g', '1000' → bytes."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _SIZE_UNITS and t[-1:] else ""
    try:
        value = float(t[: len(t) - len(unit)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes look like 500M or 2G, got {text!r}") from None
    if not 0 <= value < 2**60:  # NaN and inf too
        raise argparse.ArgumentTypeError(f"a size must be a finite number of bytes, 0 or more, got {text!r}")
    return int(value * _SIZE_UNITS[unit])


TRUNCATION = number_in(float, 0.0, 1.0, "--truncation")


VALUE = number_in(float, -VALUE_LIMIT, VALUE_LIMIT, "--value")


def existing_or_default(path: Path | None, default: Path, what: str) -> Path:
    if path is not None:
        return path
    if default.is_file():
        return default
    raise ValueError(f"no {what} given and no default at {default}; pass --{what}")


def load_model_arg(args: argparse.Namespace):
    """``--model`` (or the default) on ``--device``, with CPU threads chosen for its size."""
    from ..model.checkpoints import load_generator
    from ..model.devices import pick_device
    from ..model.threads import use_threads_for

    G, info = load_generator(existing_or_default(args.model, DEFAULT_MODEL, "model"), device=pick_device(args.device))
    if G.device.type == "cpu":
        use_threads_for(G.config)
    return G, info


def model_and_directions(args: argparse.Namespace):
    """The generator (``--model`` or the default) on ``--device``, and ``--directions`` made for it."""
    from ..animation.directions import load_directions

    G, info = load_model_arg(args)
    directions = load_directions(existing_or_default(args.directions, DEFAULT_DIRECTIONS, "directions"),
                                 expect_fingerprint=info.fingerprint, num_ws=info.num_ws, w_dim=info.w_dim)
    return G, info, directions


_PROGRESS: ProgressLine | None = None


def end_progress() -> None:
    """End an open progress line and start the next command with a new one."""
    global _PROGRESS
    if _PROGRESS is not None:
        _PROGRESS.close()
    _PROGRESS = None


def progress_line() -> ProgressLine:
    """The command's progress display on stderr (one per run, so that ``main`` can end its line)."""
    global _PROGRESS
    if _PROGRESS is None:
        _PROGRESS = ProgressLine()
    return _PROGRESS


def face_readers(crop_size: int = 256) -> FaceReaders:
    """The face readers on the CPU, with the threads their small nets run best on."""
    from ..model.threads import use_threads
    from ..readers.reading import READ_FLOPS, FaceReaders

    use_threads(READ_FLOPS)
    return FaceReaders(crop_size=crop_size)


def reader_resolution_option(s: argparse.ArgumentParser, what: str) -> None:
    """``--reader-resolution``: draw ``what`` only as large as the readers look at (early exit)."""
    s.add_argument("--reader-resolution", action="store_true",
                   help=f"experimental, faster on big generators: draw {what} at the lowest resolution synthesis "
                   "can stop at that still gives the reader the pixels it looks at, instead of full size; the "
                   "stopped image is not the full frame scaled down (on the default model the directions came "
                   "out worse by eval-directions: docs/speed.md), so off unless asked, and the first 64 faces "
                   "are also read full size to print how the two readings rank (a warning where they part)")


def draw_size(args: argparse.Namespace, size: int | None) -> int | None:
    """The image size to draw at for readers that look at ``size`` pixels: ``size`` with
    ``--reader-resolution``, else None (the full frame)."""
    return size if args.reader_resolution else None


def model_options(s: argparse.ArgumentParser, *, directions: bool = False, engine: bool = False) -> None:
    """``--model`` (``--directions``) and ``--device``: how every command that loads a generator names it;
    ``--engine`` for commands that make frames (``frame_engine``)."""
    s.add_argument("--model", type=Path, help="generator checkpoint (default: the project's default model)")
    if directions:
        s.add_argument("--directions", type=Path, help="directions file for that generator")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    if engine:
        s.add_argument("--engine", choices=("auto", "torch", "onnx"),  # model.engines.ENGINE_CHOICES (no torch here)
                       help="what makes the frames: onnx (ONNX Runtime on the CPU, 0.3-0.6x torch's time a frame on "
                            "the default model; the generator is exported once and cached beside the frame cache), "
                            "torch (the generator itself), auto (onnx on the CPU for models up to 256 px, where it "
                            "loads, else torch). "
                            "Default auto ($LATENT_EMOTION_ENGINE, where set, decides it). Frames of onnx are cached "
                            "apart from torch's")


def frame_engine(args: argparse.Namespace, G: Generator, fingerprint: str, frames_root: Path | None = None) -> Engine:
    """The engine ``--engine`` asks for (``model.engines.pick_engine``), its graphs cached beside the
    frame cache ``frames_root`` (default: the user's); torch when ``--compile`` is given."""
    from ..model.engines import EngineError, pick_engine
    from ..rendering.render import default_cache_dir, graph_dir

    if getattr(args, "compile", False):
        if args.engine == "onnx":
            raise EngineError("--compile runs torch's own kernels: use it with --engine torch or auto")
        return pick_engine(G, fingerprint, "torch")
    return pick_engine(G, fingerprint, args.engine, graphs=graph_dir(frames_root or default_cache_dir()),
                       warn=lambda m: print(f"note: {m}", file=sys.stderr))


def engine_words(engine: Engine) -> str:
    """How a command says which engine made its frames."""
    return f"engine {engine.name}" + (f" ({engine.note})" if engine.note else "")
