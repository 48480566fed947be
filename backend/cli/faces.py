"""Commands about real faces: faces, invert, capture, acd."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..animation.channels import VALUE_LIMIT
from .common import (
    face_readers,
    load_model_arg,
    model_options,
    number_in,
    progress_line,
)


def cmd_acd(args: argparse.Namespace) -> None:
    from ..metrics.acd import acd_result, pixel_embedding

    if args.probe is not None and args.embedder != "pixel":
        raise ValueError("--probe and --embedder face are two embedders; pass one")
    if args.probe is not None:
        from ..readers.probe import load_probe, probe_predict

        probe = load_probe(args.probe)
        embed, embedder = (lambda frames: probe_predict(probe, frames).embedding), f"identity embedding of {args.probe}"
    elif args.embedder == "face":
        embed, embedder = face_readers().identities, "face-api identity of the largest face"
    else:
        embed, embedder = pixel_embedding, "placeholder pixel embedding"
    result = acd_result([str(v) for v in args.videos], embed=embed, variant=args.variant)
    for video, value, skipped in zip(args.videos, result.per_video, result.skipped):
        print(f"{video}: {value:.6f}" + (f"  ({skipped} frames without a face skipped)" if skipped else ""))
    print(f"ACD ({result.variant}, {embedder}): {result.value:.6f}")


def cmd_faces(args: argparse.Namespace) -> None:
    from ..files import check_output, json_text, write_atomic
    from ..readers.capture import reading_channels
    from ..readers.images import open_media
    from ..readers.report import face_line, face_record, no_face_note
    from ..rendering.video import encode_png

    if args.json is not None:
        check_output(args.json, (args.source,))
    if args.crops is not None:
        check_output(args.crops, folder=True)
    media = open_media(args.source)
    readers = face_readers(args.crop_size)
    frames, empty = [], []
    for i, frame in enumerate(media.frames):
        refused: list = []
        faces = readers.read(frame, refused=refused)
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
                print(f"{args.source}: no face found"
                      f"{no_face_note(frame.shape, readers.detector.min_face_size, refused)}")
        frames.append({"frame": i, "faces": [face_record(f, v, args.identity) for f, v in zip(faces, values)]})
    if media.is_video and empty:
        print(f"{args.source}: no face in {len(empty)} of {len(frames)} frames")
    if args.json is not None:
        write_atomic(args.json, json_text({"source": str(args.source), "video": media.is_video, "fps": media.fps,
                                           "frames": frames}, indent=1), keep=(args.source,))


def cmd_capture(args: argparse.Namespace) -> None:
    from ..files import check_output, write_atomic
    from ..readers.capture import DETECT_EVERY, capture, capture_csv
    from ..readers.images import open_media
    from ..readers.smoothing import OneEuro

    check_output(args.out, (args.video,))
    media = open_media(args.video, constant_rate=True, fps=args.fps)
    if not media.is_video:
        raise ValueError(f"{args.video}: a still image; capture takes a video or a folder of PNG frames")
    fps = media.fps
    if fps is None:
        raise ValueError(f"{args.video}: PNG frames have no frame rate; pass --fps")
    smoothing = None if args.min_cutoff == 0 else OneEuro(args.min_cutoff, args.beta)
    result = capture(media.frames, fps, face_readers(), face=args.face, gap_fill=args.gaps, smoothing=smoothing,
                     rest_frame=args.rest_frame, progress=progress_line(), total=media.n_frames,
                     detect_every=args.detect_every or DETECT_EVERY)
    n = len(result.values)
    if n != media.n_frames:  # ffmpeg counted otherwise (a damaged tail)
        progress_line().close()
        print(f"{n} frames read of {media.n_frames} announced", file=sys.stderr)
    filled = {"interpolate": "interpolated", "hold": "holding the last values"}[result.gap_fill]
    for a, b in result.gaps:
        print(f"warning: face {args.face} missing in frames {a}-{b} ({b - a + 1}), {filled}", file=sys.stderr)
    text, rows = capture_csv(result, args.keyframes_tolerance)
    write_atomic(args.out, text)
    several = int((result.face_counts > 1).sum())
    gaps = ", ".join(f"{a}-{b}" for a, b in result.gaps) or "none"
    print(f"{args.out}: {rows} rows for {n} frames at {fps:g} fps; face {args.face} read in {int(result.found.sum())} "
          f"of {n} frames (gaps: {gaps}; {several} frames with several faces; "
          f"{result.detector_runs} detector scans)")


def cmd_invert(args: argparse.Namespace) -> None:
    import math

    from ..photos.face_code import (
        COARSE_SIZE,
        FER_DISTANCE_LIMIT,
        FINE_SHARE,
        FaceFeatures,
        central_box,
        coarse_resolution,
        fit_to_resolution,
        invert_aligned,
        likeness_warning,
        photo_face,
        read_photo,
        save_face_code,
    )

    if args.features not in ("faces", "none") and not args.features.startswith("probe:"):
        raise ValueError(f"--features is 'faces', 'none' or 'probe:PATH', got {args.features!r}")
    from ..files import check_output

    check_output(args.out, (args.photo, args.model))  # before minutes of inversion, not after
    G, info = load_model_arg(args)
    res = G.config.img_resolution
    image, sha256 = read_photo(args.photo)
    if args.aligned:
        aligned, box, index, found = fit_to_resolution(image, res), central_box(res), 0, 1
    else:
        from ..readers.reading import FaceReaders

        face = photo_face(image, res, args.face, FaceReaders(crop_size=res, device=str(G.device)))
        aligned, box, index, found = face.aligned, face.box, face.index, face.found
    faces = FaceFeatures(box, G.device, size=res)
    features, need = {"faces": faces, "none": None}.get(args.features), COARSE_SIZE
    if args.features.startswith("probe:"):
        from ..readers.probe import load_probe

        probe = load_probe(args.features[len("probe:"):], G.device)
        features, need = probe.features, probe.config.input_size
    coarse = coarse_resolution(G, need) if args.coarse_to_fine else None
    how = (f"all at {res} px" if coarse is None else
           f"at {coarse} px but the last {math.ceil(args.steps // 2 * FINE_SHARE)} W+ steps at {res} px")
    print(f"face {index} of {found} in {args.photo}, aligned to {res} px; inverting: {args.steps} steps in W, "
          f"{args.steps // 2} in W+ on {G.device}, {how}", file=sys.stderr)
    result = invert_aligned(G, aligned, steps=args.steps, features=features, embedding=faces.embedding, box=box,
                            seed=args.seed, coarse=coarse, progress=progress_line())
    save_face_code(args.out, result, fingerprint=info.fingerprint, photo_sha256=sha256, face_index=index)
    print(f"{args.out}: pixel error {result.pixel_mae:.1f} (W only: {result.pixel_mae_w:.1f}) of 255, identity "
          f"distance photo <-> reconstruction {result.identity_distance:.3f} (unit face-api descriptors; both "
          f"minimised by the inversion), fer distance {result.fer_distance:.2f} (an independent net; above "
          f"{FER_DISTANCE_LIMIT:g}: not the photo's face), {result.seconds:.1f} s")
    warning = likeness_warning(result)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("faces", help="read the faces of a photo or video: boxes, landmarks, expressions, channels")
    s.add_argument("source", type=Path, help="an image file, a video file or a folder of PNG frames")
    s.add_argument("--json", type=Path, help="write every reading to this JSON file")
    s.add_argument("--identity", action="store_true", help="include the 128-D identity descriptor in the JSON")
    s.add_argument("--crops", type=Path, help="write each face's FFHQ-aligned crop (PNG) into this folder")
    s.add_argument("--crop-size", type=number_in(int, 8, 4096, "--crop-size"), default=256)
    s.set_defaults(func=cmd_faces)
    s = sub.add_parser("invert", help="a face from a photo: detect, FFHQ-align, invert into W then W+ (.npz for "
                       "render --w)")
    s.add_argument("photo", type=Path)
    model_options(s)
    s.add_argument("--out", type=Path, required=True, help="the face code file (.npz)")
    s.add_argument("--face", type=number_in(int, 0, 10_000, "--face"), help="which face, 0 = the largest (default)")
    s.add_argument("--steps", type=number_in(int, 1, 100_000, "--steps"), default=300,
                   help="steps in W (half as many follow in W+)")
    s.add_argument("--features", default="faces", help="feature loss: 'faces' (face-api identity, expression, "
                   "landmarks), 'none' (pixels only) or 'probe:PATH' (a probe's feature maps, for cartoon models)")
    s.add_argument("--aligned", action="store_true", help="the image is already an aligned face: no detection")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--coarse-to-fine", action="store_true",
                   help="experimental, faster on big generators: the W steps and the first W+ steps stop synthesis "
                   "at the features' resolution (256 px for faces), the last third of the W+ steps draw the full "
                   "frame; reconstructions measured worse (docs/speed.md), so off unless asked")
    s.set_defaults(func=cmd_invert)
    s = sub.add_parser("capture", help="performance capture: a video of a face -> per-frame channel values (CSV)")
    s.add_argument("video", type=Path, help="a video file or a folder of PNG frames")
    s.add_argument("--out", type=Path, required=True, help="CSV for render --values (frame,joy,...)")
    s.add_argument("--face", type=number_in(int, 0, 1000, "--face"), default=0,
                   help="which face to follow: its index (largest first) in the first frame with that many faces")
    s.add_argument("--gaps", choices=("interpolate", "hold"), default="interpolate",
                   help="frames without the face: interpolated between the frames around them, or the last values held")
    s.add_argument("--keyframes-tolerance", type=number_in(float, 0.0, VALUE_LIMIT, "--keyframes-tolerance"),
                   help="write only keyframes: straight lines between them stay within this of every frame's value")
    s.add_argument("--fps", type=number_in(float, 0.01, 1000, "--fps"),
                   help="read the video at this constant rate (default: its own; needed for PNG frames)")
    s.add_argument("--rest-frame", type=number_in(int, 0, 10**9, "--rest-frame"),
                   help="a frame where the actor is at rest (eyes open, mouth closed, facing the camera): its "
                   "eye_close, mouth_open and head_turn read 0")
    s.add_argument("--min-cutoff", type=number_in(float, 0.0, 1000, "--min-cutoff"), default=1.0,
                   help="One-Euro smoothing at rest, Hz: lower is smoother (0: no smoothing)")
    s.add_argument("--beta", type=number_in(float, 0.0, 1000, "--beta"), default=1.0,
                   help="One-Euro speed coefficient: higher follows fast moves (onsets) more closely")
    s.add_argument("--detect-every", type=number_in(int, 1, 10**6, "--detect-every"),
                   help="run the face detector every N frames (and when the face is lost); between them the face "
                   "is tracked from the last frame's box (default: capture.DETECT_EVERY, 10; 1: every frame)")
    s.set_defaults(func=cmd_capture)
    s = sub.add_parser("acd", help="Average Content Distance of videos or PNG folders")
    s.add_argument("videos", type=Path, nargs="+")
    s.add_argument("--variant", choices=("pairwise", "consecutive"), default="pairwise")
    s.add_argument("--probe", type=Path, help="embed frames with a face probe's identity embedding (e.g. the default "
                   "model's models/default/probe_eval.safetensors; cartoon faces only) instead of grey levels")
    s.add_argument("--embedder", choices=("pixel", "face"), default="pixel",
                   help="pixel: grey levels (placeholder); face: face-api's identity descriptor of the largest face "
                   "in each frame (real faces; frames without one are skipped and counted)")
    s.set_defaults(func=cmd_acd)
