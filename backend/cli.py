"""Command line: ``python -m backend COMMAND ...``. Errors are one line and a non-zero exit."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .channels import VALUE_LIMIT
from .jobs import Cancelled, ProgressLine, Terminated, sigterm_unwinds

if TYPE_CHECKING:  # imported when used: the command line starts without torch
    from .faces.reading import FaceReaders

# Where the project's own default model lives once it is trained (see models/).
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default" / "generator.safetensors"
DEFAULT_DIRECTIONS = DEFAULT_MODEL.with_name("directions.json")


_MAX_SEEDS = 100_000  # one run's faces; a larger list is a typo, not a job


def _seeds(text: str) -> list[int]:
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


def _number_in(kind: type, lo: float, hi: float, what: str):
    """An argparse type: ``kind`` (int or float) within [lo, hi], else a one-line error."""
    from .files import check_finite

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


def _byte_size(text: str) -> int:
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


_TRUNCATION = _number_in(float, 0.0, 1.0, "--truncation")
_VALUE = _number_in(float, -VALUE_LIMIT, VALUE_LIMIT, "--value")


def _existing(path: Path | None, default: Path, what: str) -> Path:
    if path is not None:
        return path
    if default.is_file():
        return default
    raise ValueError(f"no {what} given and no default at {default}; pass --{what}")


def _load_model(args: argparse.Namespace):
    """``--model`` (or the default) on ``--device``, with CPU threads chosen for its size."""
    from .checkpoints import load_generator
    from .devices import pick_device
    from .threads import use_threads_for

    G, info = load_generator(_existing(args.model, DEFAULT_MODEL, "model"), device=pick_device(args.device))
    if G.device.type == "cpu":
        use_threads_for(G.config)
    return G, info


def _model_and_directions(args: argparse.Namespace):
    """The generator (``--model`` or the default) on ``--device``, and ``--directions`` made for it."""
    from .directions import load_directions

    G, info = _load_model(args)
    directions = load_directions(_existing(args.directions, DEFAULT_DIRECTIONS, "directions"),
                                 expect_fingerprint=info.fingerprint, num_ws=info.num_ws, w_dim=info.w_dim)
    return G, info, directions


_PROGRESS: ProgressLine | None = None


def _progress_line() -> ProgressLine:
    """The command's progress display on stderr (one per run, so that ``main`` can end its line)."""
    global _PROGRESS
    if _PROGRESS is None:
        _PROGRESS = ProgressLine()
    return _PROGRESS


def _face_readers(crop_size: int = 256) -> FaceReaders:
    """The face readers on the CPU, with the threads their small nets run best on."""
    from .faces.reading import READ_FLOPS, FaceReaders
    from .threads import use_threads

    use_threads(READ_FLOPS)
    return FaceReaders(crop_size=crop_size)


def cmd_info(args: argparse.Namespace) -> None:
    if args.model.is_dir():
        raise ValueError(f"{args.model}: a folder; pass a checkpoint or directions file")
    if args.model.exists() and not args.model.is_file():  # a FIFO would wait for a writer forever
        raise ValueError(f"{args.model}: not a regular file (a pipe, a device or a socket)")
    with open(args.model, "rb") as f:
        head = f.read(64).lstrip()
    if head.startswith(b"{"):
        from .directions import load_directions

        d = load_directions(args.model)
        print(f"file:         {args.model}\nformat:       directions\ngenerator:    {d.generator_fingerprint}\n"
              f"num_ws:       {d.num_ws}\nw_dim:        {d.w_dim}")
        for x in d.directions:
            acc = f"{x.accuracy:.3f}" if x.accuracy is not None else "-"
            print(f"  {x.name:12s} rows {x.layers[0]}-{x.layers[1] - 1}  strength {x.strength:.4g}  "
                  f"({x.calibration})  {x.method}  accuracy {acc}")
        return
    from .checkpoints import checkpoint_info

    info = checkpoint_info(args.model)
    cfg = info.config
    print(f"file:         {info.path}\nformat:       {info.format}\nresolution:   {cfg.img_resolution}\n"
          f"num_ws:       {cfg.num_ws}\nw_dim:        {cfg.w_dim}\nz_dim:        {cfg.z_dim}\n"
          f"c_dim:        {cfg.c_dim}\narchitecture: {cfg.architecture}\nfingerprint:  {info.fingerprint}")


def cmd_sample(args: argparse.Namespace) -> None:
    from .files import check_output, write_atomic
    from .generator import images_to_uint8
    from .video import encode_png

    check_output(args.out, (args.model,), folder=True)
    G, _ = _load_model(args)
    for seed in args.seeds:
        ws = G.w_from_seed(seed, truncation_psi=args.truncation)
        path = args.out / f"seed{seed:04d}.png"
        write_atomic(path, encode_png(images_to_uint8(G.synthesize(ws))[0]))
        print(path)


def cmd_sheet(args: argparse.Namespace) -> None:
    import numpy as np

    from .files import write_atomic
    from .sheet import channel_sheet
    from .video import encode_png

    if args.cell < 8:
        raise ValueError(f"--cell must be at least 8 pixels, got {args.cell}")
    from .files import check_output

    check_output(args.out, (args.model, args.directions))
    G, info, directions = _model_and_directions(args)
    faces = np.concatenate([G.w_from_seed(s, truncation_psi=args.truncation).cpu().numpy() for s in args.seeds])
    write_atomic(args.out, encode_png(channel_sheet(G, faces, directions, args.value, args.cell)))
    print(f"{args.out}: {len(args.seeds)} faces x (neutral + {len(directions)} channels at {args.value:g})")


def cmd_convert(args: argparse.Namespace) -> None:
    from .checkpoints import load_generator, save_generator
    from .files import check_output

    check_output(args.out, (args.model,))
    G, info = load_generator(args.model)
    save_generator(G, args.out, half=args.half, metadata={"source_format": info.format,
                                                          "source_fingerprint": info.fingerprint})
    print(f"{args.out} (fingerprint of the source: {info.fingerprint})")


def cmd_render(args: argparse.Namespace) -> None:

    from .channels import CHANNEL_NAMES
    from .frame_cache import FrameCache
    from .render import compile_synthesis, default_cache_dir, render_frames_cached, write_frames
    from .script import load_script, parse_script
    from .timeline import iter_latents, load_values, timeline_from_clip

    from .files import check_output

    inputs = (args.model, args.directions, args.script, args.values, args.w)
    check_output(args.out, inputs, folder=not args.out.suffix or args.out.is_dir())
    G, info, directions = _model_and_directions(args)
    if args.script is not None or args.text is not None:
        extra = [n for n in directions.names if n not in CHANNEL_NAMES]
        if args.text is not None:
            script = parse_script(_description(args, args.fps).script, extra_channels=extra)
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
        from .photo import load_face_code

        w_face = load_face_code(args.w, expect_fingerprint=info.fingerprint, num_ws=info.num_ws, w_dim=info.w_dim)
    else:
        w_face = G.w_from_seed(args.seed, truncation_psi=args.truncation).cpu().numpy()
    cache = FrameCache(args.cache or default_cache_dir())
    if args.compile:
        compile_synthesis(G, cache.root)
    latents = iter_latents(w_face, timeline, directions, stacking=args.stacking)
    frames = render_frames_cached(G, info.fingerprint, latents, cache, size=args.size, progress=_progress_line(),
                                  total=len(timeline), compiled=args.compile)
    n = write_frames(frames, args.out, args.fps, first=timeline.first)
    computed = cache.writes
    print(f"{args.out}: {n} frames ({timeline.first}-{timeline.last}) at {args.fps:g} fps "
          f"({computed} computed, {n - computed} from cache)")


def _description(args: argparse.Namespace, fps: float):
    """The description (``--text``, or ``--text-file``, '-' for stdin) read into a Description; the
    report of words not understood goes to stderr."""
    from .language import describe
    from .language.embedding import load_phrase_reader
    from .language.rules import read_text

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
    print(_description(args, args.fps).script, end="")


def cmd_train_directions(args: argparse.Namespace) -> None:
    import numpy as np

    from .checkpoints import checkpoint_info
    from .direction_training import train_directions
    from .directions import save_directions

    from .files import check_output, load_array, read_text

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


def cmd_acd(args: argparse.Namespace) -> None:
    from .acd import acd_result, pixel_embedding

    if args.probe is not None and args.embedder != "pixel":
        raise ValueError("--probe and --embedder face are two embedders; pass one")
    if args.probe is not None:
        from .probe import load_probe, probe_predict

        probe = load_probe(args.probe)
        embed, embedder = (lambda frames: probe_predict(probe, frames).embedding), f"identity embedding of {args.probe}"
    elif args.embedder == "face":
        embed, embedder = _face_readers().identities, "face-api identity of the largest face"
    else:
        embed, embedder = pixel_embedding, "placeholder pixel embedding"
    result = acd_result([str(v) for v in args.videos], embed=embed, variant=args.variant)
    for video, value, skipped in zip(args.videos, result.per_video, result.skipped):
        print(f"{video}: {value:.6f}" + (f"  ({skipped} frames without a face skipped)" if skipped else ""))
    print(f"ACD ({result.variant}, {embedder}): {result.value:.6f}")


def cmd_faces(args: argparse.Namespace) -> None:
    from .capture import reading_channels
    from .faces.images import open_media
    from .faces.report import face_line, face_record, no_face_note
    from .files import check_output, json_text, write_atomic
    from .video import encode_png

    if args.json is not None:
        check_output(args.json, (args.source,))
    if args.crops is not None:
        check_output(args.crops, folder=True)
    media = open_media(args.source)
    readers = _face_readers(args.crop_size)
    frames, empty = [], []
    for i, frame in enumerate(media.frames):
        faces = readers.read(frame)
        values = [reading_channels(f) for f in faces]
        where = f"frame {i} " if media.is_video else ""
        for k, (face, v) in enumerate(zip(faces, values)):
            print(where + face_line(k, face, v))
            if args.crops is not None:
                name = f"frame{i:05d}_face{k}.png" if media.is_video else f"face{k}.png"
                write_atomic(args.crops / name, encode_png(face.aligned.image), keep=(args.source,))
        if not faces:
            empty.append(i)
            if not media.is_video:
                print(f"{args.source}: no face found{no_face_note(frame.shape, readers.detector.min_face_size)}")
        frames.append({"frame": i, "faces": [face_record(f, v, args.identity) for f, v in zip(faces, values)]})
    if media.is_video and empty:
        print(f"{args.source}: no face in {len(empty)} of {len(frames)} frames")
    if args.json is not None:
        write_atomic(args.json, json_text({"source": str(args.source), "video": media.is_video, "fps": media.fps,
                                           "frames": frames}, indent=1), keep=(args.source,))


def cmd_capture(args: argparse.Namespace) -> None:
    from .capture import capture, capture_csv
    from .faces.images import open_media
    from .files import check_output, write_atomic
    from .smoothing import OneEuro

    check_output(args.out, (args.video,))
    media = open_media(args.video, constant_rate=True, fps=args.fps)
    if not media.is_video:
        raise ValueError(f"{args.video}: a still image; capture takes a video or a folder of PNG frames")
    fps = media.fps
    if fps is None:
        raise ValueError(f"{args.video}: PNG frames have no frame rate; pass --fps")
    smoothing = None if args.min_cutoff == 0 else OneEuro(args.min_cutoff, args.beta)
    result = capture(media.frames, fps, _face_readers(), face=args.face, gap_fill=args.gaps, smoothing=smoothing,
                     rest_frame=args.rest_frame, progress=_progress_line(), total=media.n_frames)
    n = len(result.values)
    if n != media.n_frames:  # ffmpeg counted otherwise (a damaged tail)
        _progress_line().close()
        print(f"{n} frames read of {media.n_frames} announced", file=sys.stderr)
    filled = {"interpolate": "interpolated", "hold": "holding the last values"}[result.gap_fill]
    for a, b in result.gaps:
        print(f"warning: face {args.face} missing in frames {a}-{b} ({b - a + 1}), {filled}", file=sys.stderr)
    text, rows = capture_csv(result, args.keyframes_tolerance)
    write_atomic(args.out, text)
    several = int((result.face_counts > 1).sum())
    gaps = ", ".join(f"{a}-{b}" for a, b in result.gaps) or "none"
    print(f"{args.out}: {rows} rows for {n} frames at {fps:g} fps; face {args.face} read in {int(result.found.sum())} "
          f"of {n} frames (gaps: {gaps}; {several} frames with several faces)")


def cmd_cache(args: argparse.Namespace) -> None:
    from .frame_cache import FrameCache
    from .render import default_cache_dir

    cache = FrameCache(args.cache or default_cache_dir())
    if args.action == "prune":
        removed = cache.prune(args.max_size)
        print(f"removed {removed} least recently used frames")
    n, size = cache.count_and_size()
    print(f"{cache.root}: {n} frames, {size / 2**20:.1f} MiB")


def cmd_learn_directions(args: argparse.Namespace) -> None:
    from .channel_readers import reader_from_spec
    from .direction_learning import Shares
    from .directions import save_directions
    from .files import check_output, json_text, write_atomic
    from .generator_directions import (LearnSettings, learn_generator_directions, learn_photo_directions,
                                       learning_report)

    report_path = args.out.with_name(args.out.name.removesuffix(".json") + ".report.json")
    for out in (args.out, report_path):
        check_output(out, (args.model,))  # before hours of sampling, not after
    G, info = _load_model(args)
    reader = reader_from_spec(args.reader, "labeller", str(G.device))
    work = args.work or args.out.with_name(args.out.name.removesuffix(".json") + ".work")
    settings = LearnSettings(samples=args.samples, truncation=args.truncation, method=args.method,
                             shares=Shares(args.top, args.bottom, turn_by_rank=True),
                             target_quantile=args.target_quantile, faces=args.faces,
                             orthogonalise=not args.no_orthogonalise, batch=args.batch, seed=args.seed,
                             min_examples=args.min_examples)
    what = f"photos in {args.photos}" if args.photos else "samples"
    print(f"learning directions for {info.path} ({info.resolution} px, {info.num_ws} W+ rows) on {G.device}; "
          f"reader: {reader.description}; {what} stored in {work}", file=sys.stderr)
    if args.photos is not None:
        result = learn_photo_directions(G, info.fingerprint, args.photos, reader.read, work, settings,
                                        steps=args.steps, aligned=args.aligned, features=args.features == "faces",
                                        reader_name=args.reader, progress=_progress_line())
    else:
        result = learn_generator_directions(G, info.fingerprint, reader.read, reader.key, work, settings,
                                            reader_name=args.reader, progress=_progress_line())
    save_directions(result.directions, args.out)
    report = learning_report(result, settings, model=str(info.path), generator_fingerprint=info.fingerprint,
                             reader=reader.description, device=str(G.device), work=str(work))
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


def cmd_eval_directions(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    import numpy as np

    from .channel_readers import reader_from_spec
    from .channels import CHANNEL_NAMES
    from .direction_eval import between_faces, evaluate, print_table, summary
    from .direction_learning import MEASURE_BATCH
    from .files import check_output, json_text, write_atomic
    from .generator import synthesize_frames
    from .generator_directions import EVALUATION_STREAM, held_out_faces

    if args.json is not None:
        check_output(args.json, (args.model, args.directions))
    G, info, directions = _model_and_directions(args)
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
               "directions": str(_existing(args.directions, DEFAULT_DIRECTIONS, "directions")),
               "reader": reader.description, "protocol": {"faces": args.faces, "frames": args.frames,
               "extra_frames": args.extra_frames, "truncation": args.truncation, "seed": args.seed},
               "channels": [asdict(s) for s in scores], "summary": totals}
        write_atomic(args.json, json_text(doc))  # NaN (e.g. one face: no distance between faces) -> null
        print(f"wrote {args.json}")


def cmd_invert(args: argparse.Namespace) -> None:
    from .photo import (FaceFeatures, central_box, fit_to_resolution, invert_aligned, photo_face, read_photo,
                        save_face_code)

    if args.features not in ("faces", "none") and not args.features.startswith("probe:"):
        raise ValueError(f"--features is 'faces', 'none' or 'probe:PATH', got {args.features!r}")
    from .files import check_output

    check_output(args.out, (args.photo, args.model))  # before minutes of inversion, not after
    G, info = _load_model(args)
    res = G.config.img_resolution
    image, sha256 = read_photo(args.photo)
    if args.aligned:
        aligned, box, index, found = fit_to_resolution(image, res), central_box(res), 0, 1
    else:
        from .faces.reading import FaceReaders

        face = photo_face(image, res, args.face, FaceReaders(crop_size=res, device=str(G.device)))
        aligned, box, index, found = face.aligned, face.box, face.index, face.found
    faces = FaceFeatures(box, G.device)
    features = {"faces": faces, "none": None}.get(args.features)
    if args.features.startswith("probe:"):
        from .probe import load_probe

        features = load_probe(args.features[len("probe:"):], G.device).features
    print(f"face {index} of {found} in {args.photo}, aligned to {res} px; inverting: {args.steps} steps in W, "
          f"{args.steps // 2} in W+ on {G.device}", file=sys.stderr)
    result = invert_aligned(G, aligned, steps=args.steps, features=features, embedding=faces.embedding,
                            seed=args.seed, progress=_progress_line())
    save_face_code(args.out, result, fingerprint=info.fingerprint, photo_sha256=sha256, face_index=index)
    print(f"{args.out}: pixel error {result.pixel_mae:.1f} (W only: {result.pixel_mae_w:.1f}) of 255, identity "
          f"distance photo <-> reconstruction {result.identity_distance:.3f} (unit face-api descriptors), "
          f"{result.seconds:.1f} s")


def _start_values(text: str) -> dict[str, float]:
    """'joy:1 head_turn:-0.5' (or comma-separated): the values of a script line keyed at frame 0."""
    from .script import ScriptError, parse_script

    try:
        return dict(parse_script(text.replace(",", " ") + " @0").clips[0].keyframes[0].values)
    except ScriptError as e:
        raise argparse.ArgumentTypeError(f"--from {text!r}: {e.reason}") from None


def _text_model_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--text-model", type=Path, help="folder of the sentence model for free phrasing "
                   "(default: models/text)")
    s.add_argument("--no-text-model", action="store_true", help="read the description with the word tables only")
    s.add_argument("--from", dest="start_values", type=_start_values, metavar="VALUES",
                   help="channel values the description starts from, as on a script line, e.g. 'joy:1 "
                        "head_turn:-0.5' (missing channels 0): 'her smile fades' then fades from there")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backend", description="Latent Emotion backend")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("info", help="what a checkpoint or directions file is")
    s.add_argument("model", type=Path)
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("sample", help="faces from seeds, as PNG files")
    s.add_argument("--model", type=Path)
    s.add_argument("--seeds", type=_seeds, default=[0])
    s.add_argument("--truncation", type=_TRUNCATION, default=0.7)
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.add_argument("--out", type=Path, default=Path("faces"))
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("sheet", help="faces x channels PNG: each face neutral and with each channel at --value")
    s.add_argument("--model", type=Path, help="generator checkpoint (default: the project's default model)")
    s.add_argument("--directions", type=Path, help="directions file for that generator")
    s.add_argument("--seeds", type=_seeds, default=list(range(8)))
    s.add_argument("--truncation", type=_TRUNCATION, default=0.7)
    s.add_argument("--value", type=_VALUE, default=1.0, help="channel value in each column (paper: 1.0)")
    s.add_argument("--cell", type=int, default=96, help="pixels per face in the sheet")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.add_argument("--out", type=Path, default=Path("sheet.png"))
    s.set_defaults(func=cmd_sheet)

    s = sub.add_parser("convert", help="save any supported checkpoint in our safetensors format")
    s.add_argument("model", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--half", action="store_true", help="store weights as fp16 (half the size)")
    s.set_defaults(func=cmd_convert)

    s = sub.add_parser("render", help="a face performing an emotion script (or per-frame values) → mp4 or PNGs")
    s.add_argument("--model", type=Path, help="generator checkpoint (default: the project's default model)")
    s.add_argument("--directions", type=Path, help="directions file for that generator")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--script", type=Path, help="emotion script (the paper's text format)")
    src.add_argument("--values", type=Path, help="per-frame values: CSV (frame,joy,...) or JSON")
    src.add_argument("--text", help="a description in words, e.g. 'She smiles, then looks shocked' (see the text "
                     "command)")
    s.add_argument("--clip", type=int, help="which '# Video N:' clip of the script (default: the first)")
    s.add_argument("--frames-between", type=_number_in(int, 0, 100_000, "--frames-between"), default=32,
                   help="in-between frames per keyframe (paper: 32)")
    s.add_argument("--interpolation", choices=("linear", "slerp", "constant"), default="linear")
    s.add_argument("--stacking", choices=("cap", "add"), default="cap",
                   help="channels moving the same W+ rows: their summed offset capped at the largest single one "
                        "(default), or plainly added (the paper's rig; off the generator's range when strong)")
    s.add_argument("--seed", type=int, default=0, help="the face: a seed of the generator")
    s.add_argument("--truncation", type=_TRUNCATION, default=0.7)
    s.add_argument("--w", type=Path, help="the face as a W or W+ code (.npy), or a face code from invert "
                   "(.npz), instead of a seed")
    s.add_argument("--size", type=_number_in(int, 8, 8192, "--size"), help="output size in pixels (default: the model's)")
    s.add_argument("--fps", type=_number_in(float, 0.01, 1000, "--fps"), default=25.0)
    s.add_argument("--frames", type=_frame_range, metavar="A-B",
                   help="render only frames A to B of the timeline (as a farm splits a shot into chunks); PNG "
                        "frames keep their numbers, so chunks rendered apart fill one folder")
    s.add_argument("--cache", type=Path, help="frame cache folder (default: the user cache)")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.add_argument("--compile", action="store_true",
                   help="torch.compile the generator: faster frames after ~30 s of compiling (cached on disk); "
                        "for long renders. Its frames are cached apart from plain ones")
    s.add_argument("--out", type=Path, required=True,
                   help="a video file (.mp4, .mov, .mkv, .avi, .webm, .gif), or a folder for PNG frames")
    _text_model_options(s)
    s.set_defaults(func=cmd_render, text_file=None)

    s = sub.add_parser("text", help="a description in words → an emotion script (printed; words not understood "
                       "go to stderr)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("text", nargs="?", help="the description, e.g. 'She smiles slightly, then suddenly looks "
                     "shocked and turns to the left.'")
    src.add_argument("--text-file", type=Path, help="read the description from a UTF-8 file ('-': stdin)")
    s.add_argument("--fps", type=_number_in(float, 1, 1000, "--fps"), default=25.0,
                   help="frames per second, for turning seconds into frames")
    _text_model_options(s)
    s.set_defaults(func=cmd_text)

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
    s.add_argument("--model", type=Path, help="generator checkpoint (default: the project's default model)")
    s.add_argument("--out", type=Path, required=True, help="the directions file to write (a .report.json goes beside)")
    s.add_argument("--samples", type=_number_in(int, 20, 10_000_000, "--samples"), default=2000,
                   help="generated faces to label")
    s.add_argument("--truncation", type=_TRUNCATION, default=1.0,
                   help="ψ of the sampled and calibration faces (1: the generator's whole range)")
    s.add_argument("--method", choices=("logistic", "svm"), default="logistic",
                   help="logistic regression (the paper) or a linear SVM (InterFaceGAN)")
    s.add_argument("--reader", default="faces", help="'faces' (face-api expression + landmark measures) or "
                   "'probe:PATH' (e.g. probe:models/default/probe_features.safetensors for the default model)")
    s.add_argument("--top", type=_number_in(float, 0.01, 0.49, "--top"), default=0.15,
                   help="share of the faces, by reading, that are a channel's positives")
    s.add_argument("--bottom", type=_number_in(float, 0.01, 0.98, "--bottom"), default=0.5,
                   help="share of the faces, by reading, that are its negatives")
    s.add_argument("--faces", type=_number_in(int, 1, 10_000, "--faces"), default=8,
                   help="held-out faces for calibration")
    s.add_argument("--target-quantile", type=_number_in(float, 0.5, 1.0, "--target-quantile"), default=0.98,
                   help="value 1.0 reads as this quantile of the samples' readings (the strongest faces drawn)")
    s.add_argument("--no-orthogonalise", action="store_true", help="keep the fitted directions as they are")
    s.add_argument("--min-examples", type=_number_in(int, 1, 1_000_000, "--min-examples"), default=10,
                   help="positives and negatives a channel needs to get a direction")
    s.add_argument("--photos", type=Path, help="the paper's way: a folder of labelled photos, one sub-folder per "
                   "label (joy/, sadness/, ..., head_turn/ (right), head_turn_left/, neutral/), each photo "
                   "inverted into W, instead of self-labelled samples")
    s.add_argument("--steps", type=_number_in(int, 1, 100_000, "--steps"), default=100,
                   help="--photos: inversion steps per photo")
    s.add_argument("--aligned", action="store_true", help="--photos: the photos are aligned faces already")
    s.add_argument("--features", choices=("faces", "none"), default="faces",
                   help="--photos: inversion loss of pixels and face-api features, or pixels only")
    s.add_argument("--batch", type=_number_in(int, 1, 4096, "--batch"), default=16, help="faces per generator call")
    s.add_argument("--work", type=Path, help="where samples are stored as they are made (default: OUT.work)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.set_defaults(func=cmd_learn_directions)

    s = sub.add_parser("eval-directions", help="score directions with an independent reader (Spearman, dominance, "
                       "identity drift)")
    s.add_argument("--model", type=Path, help="generator checkpoint (default: the project's default model)")
    s.add_argument("--directions", type=Path, help="directions file for that generator")
    s.add_argument("--reader", default="faces", help="'faces' (fer expression + landmark measures, identity net) "
                   "or 'probe:PATH' (e.g. probe:models/default/probe_eval.safetensors)")
    s.add_argument("--faces", type=_number_in(int, 1, 100_000, "--faces"), default=16, help="held-out start faces")
    s.add_argument("--frames", type=_number_in(int, 2, 1000, "--frames"), default=16, help="frames per emotion video")
    s.add_argument("--extra-frames", type=_number_in(int, 2, 1000, "--extra-frames"), default=8,
                   help="frames per eye-close/mouth-open/head-turn video")
    s.add_argument("--truncation", type=_TRUNCATION, default=0.7)
    s.add_argument("--seed", type=int, default=0, help="which held-out faces")
    s.add_argument("--json", type=Path, help="write the numbers here")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.set_defaults(func=cmd_eval_directions)

    s = sub.add_parser("invert", help="a face from a photo: detect, FFHQ-align, invert into W then W+ (.npz for "
                       "render --w)")
    s.add_argument("photo", type=Path)
    s.add_argument("--model", type=Path, help="generator checkpoint (default: the project's default model)")
    s.add_argument("--out", type=Path, required=True, help="the face code file (.npz)")
    s.add_argument("--face", type=_number_in(int, 0, 10_000, "--face"), help="which face, 0 = the largest (default)")
    s.add_argument("--steps", type=_number_in(int, 1, 100_000, "--steps"), default=300,
                   help="steps in W (half as many follow in W+)")
    s.add_argument("--features", default="faces", help="feature loss: 'faces' (face-api identity, expression, "
                   "landmarks), 'none' (pixels only) or 'probe:PATH' (a probe's feature maps, for cartoon models)")
    s.add_argument("--aligned", action="store_true", help="the image is already an aligned face: no detection")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    s.set_defaults(func=cmd_invert)

    s = sub.add_parser("acd", help="Average Content Distance of videos or PNG folders")
    s.add_argument("videos", type=Path, nargs="+")
    s.add_argument("--variant", choices=("pairwise", "consecutive"), default="pairwise")
    s.add_argument("--probe", type=Path, help="embed frames with a face probe's identity embedding (e.g. the default "
                   "model's models/default/probe_eval.safetensors; cartoon faces only) instead of grey levels")
    s.add_argument("--embedder", choices=("pixel", "face"), default="pixel",
                   help="pixel: grey levels (placeholder); face: face-api's identity descriptor of the largest face "
                   "in each frame (real faces; frames without one are skipped and counted)")
    s.set_defaults(func=cmd_acd)

    s = sub.add_parser("faces", help="read the faces of a photo or video: boxes, landmarks, expressions, channels")
    s.add_argument("source", type=Path, help="an image file, a video file or a folder of PNG frames")
    s.add_argument("--json", type=Path, help="write every reading to this JSON file")
    s.add_argument("--identity", action="store_true", help="include the 128-D identity descriptor in the JSON")
    s.add_argument("--crops", type=Path, help="write each face's FFHQ-aligned crop (PNG) into this folder")
    s.add_argument("--crop-size", type=_number_in(int, 8, 4096, "--crop-size"), default=256)
    s.set_defaults(func=cmd_faces)

    s = sub.add_parser("capture", help="performance capture: a video of a face -> per-frame channel values (CSV)")
    s.add_argument("video", type=Path, help="a video file or a folder of PNG frames")
    s.add_argument("--out", type=Path, required=True, help="CSV for render --values (frame,joy,...)")
    s.add_argument("--face", type=_number_in(int, 0, 1000, "--face"), default=0,
                   help="which face to follow: its index (largest first) in the first frame with that many faces")
    s.add_argument("--gaps", choices=("interpolate", "hold"), default="interpolate",
                   help="frames without the face: interpolated between the frames around them, or the last values held")
    s.add_argument("--keyframes-tolerance", type=_number_in(float, 0.0, VALUE_LIMIT, "--keyframes-tolerance"),
                   help="write only keyframes: straight lines between them stay within this of every frame's value")
    s.add_argument("--fps", type=_number_in(float, 0.01, 1000, "--fps"),
                   help="read the video at this constant rate (default: its own; needed for PNG frames)")
    s.add_argument("--rest-frame", type=_number_in(int, 0, 10**9, "--rest-frame"),
                   help="a frame where the actor is at rest (eyes open, mouth closed, facing the camera): its "
                   "eye_close, mouth_open and head_turn read 0")
    s.add_argument("--min-cutoff", type=_number_in(float, 0.0, 1000, "--min-cutoff"), default=1.0,
                   help="One-Euro smoothing at rest, Hz: lower is smoother (0: no smoothing)")
    s.add_argument("--beta", type=_number_in(float, 0.0, 1000, "--beta"), default=1.0,
                   help="One-Euro speed coefficient: higher follows fast moves (onsets) more closely")
    s.set_defaults(func=cmd_capture)

    s = sub.add_parser("cache", help="the frame cache: how big it is, or prune it to a size (least recently used first)")
    s.add_argument("action", choices=("info", "prune"))
    s.add_argument("--max-size", type=_byte_size, default=2 * 2**30, help="prune: keep at most this much, e.g. 500M, 2G")
    s.add_argument("--cache", type=Path, help="frame cache folder (default: the user cache)")
    s.set_defaults(func=cmd_cache)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .checkpoints import CheckpointError
    from .directions import DirectionsError
    from .files import FileError
    from .photo import FaceCodeError
    from .script import ScriptError

    global _PROGRESS
    args = build_parser().parse_args(argv)
    _PROGRESS = None
    try:
        with sigterm_unwinds():
            try:
                args.func(args)
            finally:
                if _PROGRESS is not None:
                    _PROGRESS.close()  # an error message starts on a line of its own
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
