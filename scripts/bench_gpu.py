#!/usr/bin/env python3
"""The prepared run for a lent GPU machine (issue 31): one table of what a user waits for.

    python3 scripts/bench_gpu.py [--device cuda] [--budget 480] [--out DIR]
    python3 scripts/bench_gpu.py --quick --device cpu          # the script itself, in a minute on a CPU

1. **synthesis**, ms/frame (best of ``--repeat``): config-F 1024 (FFHQ) and stylegan2-ada's 256 px
   config, fp32 (every layer) and fp16 (NVIDIA's four highest resolutions, ``num_fp16_res=4`` with
   ``conv_clamp=256``), batch 1 and 8, eager and ``torch.compile``d (the compile's own seconds
   beside it). Random weights: speed does not depend on them.
2. **learn-directions**, samples/s: the recipe's sampling stage as ``learn-directions`` runs it on
   a 1024 px generator — draw a batch of 8 at fp16, read each face with the labeller (face-api's
   nets on ``--device``; random weights draw no face, so this times the detector's full scan, the
   most a frame costs when no face is found; a face adds the landmark/expression/identity nets).
3. **invert**, seconds: ``python -m backend invert`` of a 1024 px photo into the 1024 px
   generator with the CLI's defaults (face-api features), wall time including start-up; and with
   ``--coarse-to-fine``.
4. **capture**, frames/s: ``python -m backend capture`` of a 512 px clip of a moving face (the
   default model's, upscaled), as a user runs it (its readers run on the CPU).

Each row prints as it is measured, with the load average; eager rows come first, and compiled rows
past ``--budget`` seconds are skipped and say so, so the run fits the machine's ~9 minutes. ``--out`` (default ``$OUT``, else the
current folder) receives ``bench_gpu.json`` with every figure and the device's name.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.model.generator import Generator, GeneratorConfig, synthesize_frames  # noqa: E402

# name: (resolution, channel_base, mapping layers); quick: a 64 px network to check the script.
SIZES = {"f1024": (1024, 32768, 8), "p256": (256, 16384, 8)}
QUICK_SIZES = {"s64": (64, 2048, 2)}


def config(name: str, fp16: bool, quick: bool) -> GeneratorConfig:
    res, base, mapping = (QUICK_SIZES if quick else SIZES)[name]
    small = dict(z_dim=64, w_dim=64, channel_max=64) if quick else dict(channel_max=512)
    return GeneratorConfig(img_resolution=res, channel_base=base, mapping_layers=mapping,
                           num_fp16_res=4 if fp16 else 0, conv_clamp=256 if fp16 else None, **small)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.perf_counter(), seconds

    def left(self) -> bool:
        return time.perf_counter() - self.start < self.seconds


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def ms_per_frame(fn, ws: torch.Tensor, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        sync(ws.device)
        t0 = time.perf_counter()
        fn(ws)
        sync(ws.device)
        best = min(best, time.perf_counter() - t0)
    return best / len(ws) * 1000


def synthesis_rows(device: torch.device, names: list[str], repeat: int, budget: Budget, quick: bool, log) -> list[dict]:
    """Every eager row first, then the compiled ones while the budget lasts (a compile takes a minute
    or more at 1024 px, once per batch size)."""
    keys = [(name, fp16, batch) for name in names for fp16 in (False, True) for batch in (1, 8)]
    rows = {k: {"config": k[0], "precision": "fp16" if k[1] else "fp32", "batch": k[2]} for k in keys}
    log(f"{'config':>6} {'precision':>9} {'batch':>5} {'ms/frame':>9} {'compile s':>9} {'load':>5}")
    for compiled in (False, True):
        log("compiled (torch.compile)" if compiled else "eager")
        for name in names:
            for fp16 in (False, True):
                torch.manual_seed(0)
                G = Generator(config(name, fp16, quick)).eval().requires_grad_(False).to(device)
                synthesis = torch.compile(G.synthesis) if compiled else G.synthesis
                for batch in (1, 8):
                    row = rows[(name, fp16, batch)]
                    head = f"{name:>6} {row['precision']:>9} {batch:>5}"
                    if compiled and not budget.left():
                        log(f"{head}  skipped: past the budget")
                        row["compiled_skipped"] = True
                        continue
                    with torch.inference_mode():
                        ws = G.mapping(torch.randn(batch, G.config.z_dim, device=device), truncation_psi=0.7)
                        t0 = time.perf_counter()
                        synthesis(ws)  # warm-up; compiled: the compile
                        sync(device)
                        first = time.perf_counter() - t0
                        ms = ms_per_frame(synthesis, ws, repeat)
                    load = os.getloadavg()[0]
                    if compiled:
                        row.update(compiled_ms=ms, compile_s=first, compiled_load=load)
                        log(f"{head} {ms:9.2f} {first:9.1f} {load:5.2f}")
                    else:
                        row.update(eager_ms=ms, load=load)
                        log(f"{head} {ms:9.2f} {'':>9} {load:5.2f}")
                del G, synthesis
                if device.type == "cuda":
                    torch.cuda.empty_cache()
    return list(rows.values())


def learn_rate(device: torch.device, samples: int, quick: bool, log) -> dict:
    from backend.learning.readers import face_reader

    torch.manual_seed(0)
    G = Generator(config("s64" if quick else "f1024", True, quick)).eval().requires_grad_(False).to(device)
    reader = face_reader("labeller", device=str(device))
    z = torch.randn(samples, G.config.z_dim, device=device)
    with torch.inference_mode():
        ws = G.mapping(z[:8]).cpu().numpy()
        reader.read(synthesize_frames(G, ws, 8))  # warm-up: cuDNN's choices, the readers' first call
        sync(device)
        t0 = time.perf_counter()
        drawn = read = 0.0
        for start in range(0, samples, 8):
            a = time.perf_counter()
            frames = synthesize_frames(G, G.mapping(z[start:start + 8]).cpu().numpy(), 8)
            b = time.perf_counter()
            reader.read(frames)
            drawn, read = drawn + b - a, read + time.perf_counter() - b
        total = time.perf_counter() - t0
    row = {"samples": samples, "samples_per_s": samples / total, "draw_ms": drawn / samples * 1000,
           "read_ms": read / samples * 1000, "load": os.getloadavg()[0]}
    log(f"learn-directions sampling: {row['samples_per_s']:.1f} samples/s ({row['draw_ms']:.1f} ms drawing, "
        f"{row['read_ms']:.1f} ms reading a sample; {samples} samples, load {row['load']:.2f})")
    return row


def cli(args: list[str]) -> float:
    """Wall seconds of one CLI command (it must succeed)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"backend {' '.join(args[:1])} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - t0


@functools.cache
def _default_face() -> np.ndarray:
    """The default model's seed-0 face at ψ 0.7 (128 px), drawn once for the invert and capture rows."""
    from backend.model.checkpoints import load_generator

    G, _ = load_generator(ROOT / "models" / "default" / "generator.safetensors")
    return synthesize_frames(G.eval(), G.w_from_seed(0, truncation_psi=0.7).numpy())[0]


def face_photo(size: int) -> np.ndarray:
    """A face the detector finds: the default model's face, upscaled."""
    import cv2

    return cv2.resize(_default_face(), (size, size), interpolation=cv2.INTER_LANCZOS4)


def invert_rows(device: torch.device, work: Path, quick: bool, log) -> list[dict]:
    import imageio.v3 as iio

    from backend.model.checkpoints import save_generator

    torch.manual_seed(0)
    G = Generator(config("s64" if quick else "f1024", True, quick)).eval()
    model = work / "g.safetensors"
    save_generator(G, model)
    photo = work / "photo.png"
    iio.imwrite(photo, face_photo(256 if quick else 1024))
    rows = []
    for extra in ([], ["--coarse-to-fine"]):
        steps = ["--steps", "4"] if quick else []
        seconds = cli(["invert", str(photo), "--model", str(model), "--device", str(device), "--out",
                       str(work / "me.npz"), *steps, *extra])
        row = {"options": " ".join(extra) or "defaults", "seconds": seconds, "load": os.getloadavg()[0]}
        log(f"invert ({row['options']}): {seconds:.1f} s wall, load {row['load']:.2f}")
        rows.append(row)
    return rows


def capture_row(work: Path, frames: int, log) -> dict:
    import cv2

    from backend.rendering.video import write_video

    face = face_photo(512)
    h, w = face.shape[:2]

    def frame(i: int) -> np.ndarray:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 4 * np.sin(i / 6), 1 + 0.1 * np.sin(i / 9))
        m[:, 2] += (w / 15 * np.sin(i / 7), h / 30 * np.sin(i / 11))
        return cv2.warpAffine(face, m, (w, h), borderMode=cv2.BORDER_REFLECT)

    clip = work / "clip.mp4"
    write_video((frame(i) for i in range(frames)), clip, 25)
    seconds = cli(["capture", str(clip), "--out", str(work / "clip.csv")])
    row = {"frames": frames, "frames_per_s": frames / seconds, "seconds": seconds, "load": os.getloadavg()[0]}
    log(f"capture: {row['frames_per_s']:.1f} frames/s ({frames} frames of 512 px in {seconds:.1f} s wall, "
        f"start-up included; load {row['load']:.2f})")
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--budget", type=float, default=360.0, help="seconds after which compiled rows are skipped")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    p.add_argument("--quick", action="store_true", help="tiny sizes: check the script, measure nothing")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("no CUDA device here (use --device cpu --quick to check the script)")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    log(f"device {name}, torch {torch.__version__}, {os.cpu_count()} CPUs")
    budget = Budget(args.budget)
    report: dict[str, object] = {"device": name, "torch": torch.__version__, "quick": args.quick}
    report["synthesis"] = synthesis_rows(device, list(QUICK_SIZES if args.quick else SIZES), args.repeat, budget,
                                         args.quick, log)
    report["learn_directions"] = learn_rate(device, 16 if args.quick else 64, args.quick, log)
    with tempfile.TemporaryDirectory() as tmp:
        report["invert"] = invert_rows(device, Path(tmp), args.quick, log)
        report["capture"] = capture_row(Path(tmp), 20 if args.quick else 250, log)
    report["seconds"] = time.perf_counter() - budget.start
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_gpu.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "bench_gpu.txt").write_text("\n".join(lines) + "\n")
    log(f"{report['seconds']:.0f} s; wrote {args.out / 'bench_gpu.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
