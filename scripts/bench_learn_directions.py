#!/usr/bin/env python3
"""Time per self-labelled sample of ``learn-directions``, measured on this machine.

    .venv/bin/python scripts/bench_learn_directions.py [--samples 64] [--threads 1]
    .venv/bin/python scripts/bench_learn_directions.py --per-frame MODEL|config-f [--size N]
    .venv/bin/python scripts/bench_learn_directions.py --recipe MODEL [--reader probe:PATH] [--samples 2000] [--faces 8]

Default: the default model (128 px) drawing a sample (batch 16) and the features probe reading
it; the face readers (the ``faces`` labeller) reading a 1024 px face (the fixtures' astronaut
photo, upscaled); the upstream 1024 px slim fixture drawing a frame. ``--per-frame``: one
generator's face drawn and read, at full and at the reader's resolution, and the default recipe's
time projected from it (``config-f``: FFHQ's 1024 px architecture with random weights, what the
README's estimate for a 1024 px model comes from). Least CPU time of three rounds: with one thread,
the time on an idle core (the wall time on a shared machine is longer by its load).

``--recipe``: the whole recipe twice on MODEL, faces drawn at the generator's full resolution and
at the reader's (``LearnSettings.draw_size``): wall and CPU time per stage with the load average,
and per channel the cosine between the two directions and their strengths and rows, beside the
cosine between directions fitted on either half of the full-resolution samples (how far the
recipe's own fit moves with the faces it is given); the two directions files are left in
``--work`` (full.json, reader.json) for ``eval-directions``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402
from backend.animation.directions import save_directions  # noqa: E402
from backend.learning.fitting import learn_directions  # noqa: E402
from backend.learning.labels import LabeledLatents, probe_reader  # noqa: E402
from backend.learning.readers import face_reader, reader_from_spec  # noqa: E402
from backend.learning.self_labelled import (  # noqa: E402
    LearnSettings,
    SampleStore,
    learn_generator_directions,
    mapped,
    orthogonalise_where_entangled,
    sample_key,
    sample_readings,
)
from backend.photos.inversion import stop_resolution  # noqa: E402
from backend.model.allocator import keep_freed_memory  # noqa: E402
from backend.model.checkpoints import load_generator  # noqa: E402
from backend.model.generator import GeneratorConfig, synthesize_frames  # noqa: E402
from backend.model.threads import set_threads  # noqa: E402
from backend.readers.probe import load_probe  # noqa: E402

KEPT_FREED = keep_freed_memory()  # as the CLI runs; LATENT_EMOTION_KEEP_FREED=0 for malloc's default

CONFIG_F = GeneratorConfig(img_resolution=1024, z_dim=512, w_dim=512, channel_base=32768, channel_max=512)


def best(fn, rounds: int = 3) -> float:
    """Least CPU time of this process over ``rounds`` calls: on one thread, the wall time of an
    idle core, whatever else the machine runs (wall clocks on a shared machine measure the load)."""
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=64, help="samples per round at 128 px")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--recipe", type=Path, help="time the whole recipe on this generator, full vs reader resolution")
    p.add_argument("--reader", default="probe:" + str(ROOT / "models" / "default" / "probe_features.safetensors"))
    p.add_argument("--faces", type=int, default=8, help="--recipe: calibration faces")
    p.add_argument("--work", type=Path, default=Path("/tmp/bench_learn_directions"),
                   help="--recipe: where samples go (emptied first)")
    p.add_argument("--per-frame", help="CPU time per drawn and read face on this generator (a file, or config-f: "
                   "FFHQ's 1024 px architecture with random weights), full vs reader resolution, and the recipe's "
                   "time projected from it")
    p.add_argument("--size", type=int, help="--per-frame: draw for this many pixels instead of the reader's size")
    args = p.parse_args(argv)
    set_threads(args.threads)
    if args.recipe is not None:
        return recipe(args)
    if args.per_frame is not None:
        return per_frame(args)
    G, _ = load_generator(ROOT / "models" / "default" / "generator.safetensors")
    G.eval().requires_grad_(False)
    ws = mapped(G, np.random.default_rng(0).standard_normal((args.samples, G.config.z_dim)), 0.7)
    draw = best(lambda: synthesize_frames(G, ws, 16)) / args.samples
    images = synthesize_frames(G, ws, 16)
    probe = probe_reader(load_probe(ROOT / "models" / "default" / "probe_features.safetensors"))
    read_probe = best(lambda: probe(images)) / args.samples
    with np.load(ROOT / "tests" / "data" / "face_readers" / "astronaut_inputs.npz") as f:
        face = cv2.resize(f["astronaut_rgb512"], (1024, 1024), interpolation=cv2.INTER_CUBIC)
    labeller = face_reader("labeller").read
    read_faces = best(lambda: labeller(face[None]))
    slim, _ = load_generator(ROOT / "tests" / "data" / "upstream" / "sg2ada-1024-slim.pkl")
    slim.eval().requires_grad_(False)
    w1 = mapped(slim, np.random.default_rng(0).standard_normal((2, slim.config.z_dim)), 0.7)
    slim_frame = best(lambda: synthesize_frames(slim, w1, 2)) / 2
    print(f"{args.threads} thread(s), CPU time, least of 3 rounds; freed memory kept {KEPT_FREED}")
    print(f"128 px default model: draw {draw * 1e3:.1f} ms + probe read {read_probe * 1e3:.1f} ms "
          f"= {(draw + read_probe) * 1e3:.1f} ms per sample")
    print(f"face readers (labeller) on a 1024 px face: {read_faces * 1e3:.0f} ms per sample")
    print(f"1024 px slim fixture: {slim_frame * 1e3:.0f} ms per frame")
    print("a 1024 px FFHQ-sized generator (config-F, random weights), drawn and read: --per-frame config-f")
    return 0


def recipe(args: argparse.Namespace) -> int:
    """The recipe at full and at reader resolution, on the same samples' z (both made afresh)."""
    import os
    import shutil

    G, info = load_generator(args.recipe)
    G.eval().requires_grad_(False)
    reader = reader_from_spec(args.reader, "labeller")
    shutil.rmtree(args.work, ignore_errors=True)
    low = stop_resolution(G, reader.size)
    print(f"{Path(info.path).name}: {info.resolution} px; reader {reader.description} looks at {reader.size} px -> "
          f"drawn at {low or info.resolution} px; {args.samples} samples, {args.faces} calibration faces, "
          f"{args.threads} thread(s)")
    results = {}
    for name, size in (("full resolution", None), ("reader resolution", reader.size)):
        settings = LearnSettings(samples=args.samples, faces=args.faces, draw_size=size)
        load, wall, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
        r = learn_generator_directions(G, info.fingerprint, reader.read, reader.key, args.work / name, settings)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        results[name] = (r, wall, cpu)
        save_directions(r.directions, args.work / f"{name.split()[0]}.json")  # for eval-directions
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
        print(f"{name:18s} wall {wall:7.1f} s, CPU {cpu:7.1f} s (load {load:.2f} -> {os.getloadavg()[0]:.2f}); "
              f"{stages}", flush=True)
    (a, wa, ca), (b, wb, cb) = results.values()
    print(f"reader resolution: {wa / wb:.2f}x less wall time, {ca / cb:.2f}x less CPU time")
    halves = half_cosines(G, info.fingerprint, reader, args.work / "full resolution", args.samples)
    print(f"{'channel':<11}{'cosine':>8}{'halves':>8}{'strength full':>15}{'reader':>8}{'rows full':>11}{'reader':>8}")
    for d in a.directions:
        e = b.directions[d.name] if d.name in b.directions else None
        if e is None:
            print(f"{d.name:<11}  only at full resolution")
            continue
        print(f"{d.name:<11}{cosine(d.vector, e.vector):8.3f}{halves.get(d.name, float('nan')):8.3f}"
              f"{d.strength:15.3f}{e.strength:8.3f}{str(d.layers):>11}{str(e.layers):>8}")
    print("(halves: the cosine between directions fitted on either half of the full-resolution samples)")
    return 0


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def half_cosines(G, fingerprint: str, reader, work: Path, samples: int) -> dict[str, float]:
    """Per channel, the cosine between the directions the recipe fits and orthogonalises (before
    calibration, which leaves them be) on the first and on the second half of the stored
    full-resolution samples."""
    settings = LearnSettings()
    data = sample_readings(G, reader.read, samples, SampleStore(work, sample_key(G, fingerprint, reader.key, settings)))
    half = len(data.latents) // 2
    fits = []
    for part in (slice(None, half), slice(half, None)):
        learned = learn_directions(LabeledLatents(data.latents[part], data.values[part], data.source, None),
                                   generator_fingerprint=fingerprint, num_ws=G.num_ws, thresholds=settings.shares,
                                   min_examples=settings.min_examples)
        fits.append(orthogonalise_where_entangled(learned.directions)[0])
    return {d.name: cosine(d.vector, fits[1][d.name].vector) for d in fits[0] if d.name in fits[1]}


def per_frame(args: argparse.Namespace) -> int:
    """CPU time of drawing and reading one face (batch 16, least of 3 rounds) at full and at the
    reader's resolution; the default recipe's time projected from it (samples + calibration faces)."""
    import os

    from backend.learning.self_labelled import LearnSettings, row_candidates
    from backend.learning.calibration import DEFAULT_STRENGTH_GRID

    from backend.model.generator import Generator

    if args.per_frame == "config-f":
        torch.manual_seed(0)
        G, name = Generator(CONFIG_F), "random config-F"
    else:
        G, info = load_generator(args.per_frame)
        name = Path(info.path).name
    G.eval().requires_grad_(False)
    res = G.config.img_resolution
    reader = reader_from_spec(args.reader, "labeller")
    size = args.size or reader.size
    ws = mapped(G, np.random.default_rng(0).standard_normal((args.samples, G.config.z_dim)), 1.0)
    s = LearnSettings()
    calibration = len(CHANNEL_NAMES) * len(row_candidates(G.num_ws)) * len(DEFAULT_STRENGTH_GRID) * s.faces + s.faces
    print(f"{name}: {res} px; reader {reader.description} ({reader.size} px), drawn for {size} px; "
          f"{args.samples} faces a round, CPU time, least of 3 rounds, {args.threads} thread(s)")
    costs = {}
    for name, stop in (("full resolution", None), ("reader resolution", stop_resolution(G, size))):
        load = os.getloadavg()[0]
        cost = best(lambda: reader.read(synthesize_frames(G, ws, 16, stop_at=stop))) / args.samples
        costs[name] = cost
        print(f"{name:18s} ({stop or res:4d} px): {cost * 1e3:7.1f} ms a face (load {load:.2f}); "
              f"PROJECTED default recipe ({s.samples} samples + {calibration} calibration faces): "
              f"{cost * (s.samples + calibration) / 60:.1f} min", flush=True)
    a, b = costs.values()
    print(f"reader resolution: {a / b:.2f}x less CPU time a face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
