#!/usr/bin/env python3
"""Generator speed on this machine: ms/frame and frames/s, batch 1 and 8, and peak memory.

    .venv/bin/python scripts/bench_generator.py [--configs f1024,p256] [--batches 1,8] [--repeat 3] [--device cpu]
        [--reference DIR]
    .venv/bin/python scripts/bench_generator.py --engines [--configs default,p256] [--threads 1,2] [--repeat 5]
    .venv/bin/python scripts/bench_generator.py --main-job

``--engines``: ms/frame of each frame engine (``backend/model/engines.py``) as renders run them (one
code a call): torch eager, and ONNX Runtime on the graph exported with the fused and the unfused
modulated convolution, at each thread count, rounds interleaved; frames compared with torch's
(largest difference in uint8 steps). "default" is the project's default model. Exported graphs
are cached in the user cache's graphs folder, so a second run does not export again.
``--main-job``: wall time of the main job's two commands (README: the Fig. 7 render and the sample
sheet, as scripts/main_job.py runs them, without its dependency check) with ``--engine torch`` and
``--engine auto``, each into an empty frame cache; auto twice: exporting its graph, and with it cached.

Random weights (speed does not depend on them). Configs: config-F 1024 (FFHQ), the
stylegan2-ada "paper256" 256 config, and ``s64`` (a small 64 px network, to check a set-up). Times the fused and non-fused modulated convolution.
Each config runs in its own process, so peak memory is that config's. Fused and unfused rounds
are interleaved so that changing load affects both alike; best-of-N is the figure least
disturbed by other work on the machine, and the highest load average seen is printed beside it.

``--reference DIR`` times our synthesis against a reference implementation the user has checked
out — NVIDIA's stylegan2-ada-pytorch (``DIR/training/networks.py``) or stylegan3
(``DIR/training/networks_stylegan2.py``) — imported from that folder at run time (nothing of it is
in this repository). Both networks hold the same weights (ours use NVIDIA's parameter names, so
the state dict moves across by name), draw the same W+ codes with constant noise in fp32, run in
interleaved rounds, and the largest pixel difference between their images is printed.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.model.allocator import keep_freed_memory  # noqa: E402
from backend.model.threads import prepare_openmp, set_threads  # noqa: E402

prepare_openmp()  # as the CLI and the add-on run: waiting OpenMP (and ONNX Runtime) threads sleep
KEPT_FREED = keep_freed_memory()  # as the CLI runs; LATENT_EMOTION_KEEP_FREED=0 for malloc's default

import torch  # noqa: E402

from backend.model.generator import Generator, GeneratorConfig  # noqa: E402

CONFIGS = {
    "f1024": GeneratorConfig(img_resolution=1024, channel_base=32768, channel_max=512, mapping_layers=8),
    "p256": GeneratorConfig(img_resolution=256, channel_base=16384, channel_max=512, mapping_layers=8,
                            num_fp16_res=4, conv_clamp=256),
    # A small network for a quick check of the set-up (seconds, not minutes).
    "s64": GeneratorConfig(img_resolution=64, channel_base=2048, channel_max=64, mapping_layers=2,
                           z_dim=64, w_dim=64),
}


def frame_seconds(G: Generator, ws: torch.Tensor, fused: bool) -> float:
    """Seconds per frame of one synthesis call."""
    if G.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    G.synthesis(ws, fused=fused)
    if G.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / ws.shape[0]


def run_config(name: str, batches: list[int], repeat: int, device: str) -> None:
    torch.manual_seed(0)
    G = Generator(CONFIGS[name]).eval().requires_grad_(False).to(device)
    for batch in batches:
        ws = G.mapping(torch.randn(batch, G.config.z_dim, device=G.device), truncation_psi=0.7)
        t: dict[bool, list[float]] = {True: [], False: []}
        loads = []
        with torch.inference_mode():
            for fused in (True, False):
                G.synthesis(ws, fused=fused)  # warm-up
            # Interleaved rounds: a change of load during the run affects both variants alike.
            for _ in range(repeat):
                for fused in (True, False):
                    t[fused].append(frame_seconds(G, ws, fused))
                loads.append(os.getloadavg()[0])
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        for fused in (True, False):
            best, mean = min(t[fused]), sum(t[fused]) / len(t[fused])
            print(f"{name:>6} {batch:>5} {'fused' if fused else 'unfused':>8} {best * 1000:10.1f} {mean * 1000:10.1f} "
                  f"{1 / best:9.2f} {rss:12.0f} {max(loads):6.2f}", flush=True)


def engine_generator(name: str) -> tuple[Generator, str]:
    """The generator a config name stands for, and its fingerprint."""
    from backend.model.checkpoints import fingerprint, load_generator

    if name == "default":
        from backend.cli.common import DEFAULT_MODEL

        G, info = load_generator(DEFAULT_MODEL)
        return G.eval(), info.fingerprint
    torch.manual_seed(0)
    G = Generator(CONFIGS[name]).eval().requires_grad_(False)
    return G, fingerprint(G)


def run_engines(name: str, threads: list[int], repeat: int) -> None:
    import numpy as np

    from backend.model.engines import OnnxEngine, TorchEngine, export_fused
    from backend.model.generator import synthesize_frames
    from backend.rendering.render import default_cache_dir, graph_dir

    G, fp = engine_generator(name)
    ws = np.concatenate([G.w_from_seed(s, truncation_psi=0.7).numpy() for s in range(repeat + 1)])
    engines = {"torch": TorchEngine(G)}
    for fused in (False, True):
        t0 = time.perf_counter()
        e = OnnxEngine(G, fp, graph_dir(default_cache_dir()), fused=fused)
        what = f"exported in {time.perf_counter() - t0:.1f} s" if e.exports else "cached"
        print(f"# {name}: onnx {'fused' if fused else 'unfused'} graph {what} ({e.graph_path(G.config.img_resolution)})",
              flush=True)
        engines[f"onnx-{'fused' if fused else 'unfused'}"] = e
    rule = "onnx-fused" if export_fused(G) else "onnx-unfused"
    for n in threads:
        set_threads(n)
        t: dict[str, list[float]] = {k: [] for k in engines}
        loads = []
        diff = {k: int(np.abs(e.frames(ws[:1]).astype(int) - synthesize_frames(G, ws[:1])).max())
                for k, e in engines.items()}  # also the warm-up (and the sessions for n threads)
        for i in range(1, repeat + 1):
            for k, e in engines.items():  # interleaved: a change of load hits every engine alike
                t0 = time.perf_counter()
                e.frames(ws[i:i + 1])
                t[k].append(time.perf_counter() - t0)
            loads.append(os.getloadavg()[0])
        base = min(t["torch"])
        for k in engines:
            best, mean = min(t[k]), sum(t[k]) / len(t[k])
            print(f"{name:>8} {n:>7} {k + (' *' if k == rule else ''):>14} {best * 1000:10.1f} {mean * 1000:10.1f} "
                  f"{best / base:8.2f} {diff[k]:8d} {max(loads):6.2f}", flush=True)


def run_main_job() -> None:
    """The main job's commands (scripts/main_job.py) timed with each engine, into fresh caches."""
    import shutil
    import tempfile

    root = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix="bench-main-job-"))
    try:
        for label, engine, cache in (("torch", "torch", "torch"), ("auto, exporting", "auto", "auto"),
                                     ("auto, graph cached", "auto", "auto")):
            frames = work / cache / "frames"
            shutil.rmtree(frames, ignore_errors=True)  # every run computes its frames
            env = {**os.environ, "LATENT_EMOTION_CACHE": str(frames)}
            env.pop("LATENT_EMOTION_ENGINE", None)
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            for cmd in (["render", "--script", "examples/fig7.txt", "--seed", "0", "--out", str(work / "fig7.mp4")],
                        ["sheet", "--seeds", "0-7", "--out", str(work / "sheet.png")]):
                r = subprocess.run([sys.executable, "-m", "backend", *cmd, "--engine", engine], cwd=root, env=env,
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise SystemExit(r.stderr)
                last = r.stdout.strip().splitlines()[-1]
            wall = time.perf_counter() - t0
            print(f"main job, engine {label:<20} {wall:7.1f} s   load {load:.2f} → {os.getloadavg()[0]:.2f}   "
                  f"({last.split(': ', 1)[1]})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


REFERENCE_MODULES = ("training.networks", "training.networks_stylegan2")


class ReferenceUnusable(RuntimeError):
    """The reference folder does not hold a usable NVIDIA StyleGAN2 network module."""


def reference_networks(folder: str):
    """The reference checkout's networks module, imported from ``folder`` (first on sys.path)."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise ReferenceUnusable(f"--reference {folder}: no such folder")
    if not any((root / (name.replace(".", "/") + ".py")).is_file() for name in REFERENCE_MODULES):
        raise ReferenceUnusable(f"--reference {folder}: no training/networks.py or training/networks_stylegan2.py "
                              "(a checkout of NVIDIA's stylegan2-ada-pytorch or stylegan3)")
    sys.path.insert(0, str(root))
    for name in REFERENCE_MODULES:
        if (root / (name.replace(".", "/") + ".py")).is_file():
            try:
                return importlib.import_module(name)
            except Exception as e:  # the checkout's own imports (dnnlib, torch_utils) may fail
                raise ReferenceUnusable(f"--reference {folder}: importing {name} failed: "
                                      f"{type(e).__name__}: {e}") from None
    raise AssertionError("unreachable")


def reference_generator(networks, ours: Generator) -> torch.nn.Module:
    """The reference's Generator with our generator's configuration and weights."""
    cfg = ours.config
    synthesis = dict(channel_base=cfg.channel_base, channel_max=cfg.channel_max, num_fp16_res=cfg.num_fp16_res,
                     conv_clamp=cfg.conv_clamp)
    common = dict(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                  img_channels=cfg.img_channels, mapping_kwargs=dict(num_layers=cfg.mapping_layers))
    # stylegan2-ada-pytorch nests the synthesis options; stylegan3's copy takes them flat (**synthesis_kwargs).
    nested = inspect.signature(networks.Generator.__init__).parameters.get("synthesis_kwargs")
    if nested is not None and nested.kind is not inspect.Parameter.VAR_KEYWORD:
        G = networks.Generator(**common, synthesis_kwargs=synthesis)
    else:
        G = networks.Generator(**common, **synthesis)
    result = G.load_state_dict(ours.state_dict(), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ReferenceUnusable(f"the reference network's parameters differ from ours: missing "
                              f"{result.missing_keys[:4]}, unexpected {result.unexpected_keys[:4]}")
    return G.eval().requires_grad_(False).to(ours.device)


def run_reference(name: str, folder: str, batches: list[int], repeat: int, device: str) -> None:
    """Ours against the reference on identical weights and codes: interleaved rounds, outputs compared."""
    networks = reference_networks(folder)
    torch.manual_seed(0)
    G = Generator(CONFIGS[name]).eval().requires_grad_(False).to(device)
    R = reference_generator(networks, G)
    runs = {"ours": lambda ws: G.synthesis(ws, noise_mode="const", force_fp32=True),
            "reference": lambda ws: R.synthesis(ws, noise_mode="const", force_fp32=True)}
    for batch in batches:
        ws = G.mapping(torch.randn(batch, G.config.z_dim, device=G.device), truncation_psi=0.7)
        t: dict[str, list[float]] = {k: [] for k in runs}
        loads = []
        with torch.inference_mode():
            images = {k: run(ws) for k, run in runs.items()}  # warm-up, and the outputs compared
            for _ in range(repeat):
                for k, run in runs.items():
                    t0 = time.perf_counter()
                    run(ws)
                    t[k].append((time.perf_counter() - t0) / batch)
                loads.append(os.getloadavg()[0])
        diff = (images["ours"] - images["reference"]).abs().max().item()
        best = {k: min(v) for k, v in t.items()}
        print(f"{name:>6} {batch:>5} {best['ours'] * 1000:10.1f} {best['reference'] * 1000:12.1f} "
              f"{best['ours'] / best['reference']:7.3f} {diff:12.3g} {max(loads):6.2f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="f1024,p256")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--reference", metavar="DIR",
                   help="time ours against the NVIDIA StyleGAN2 code checked out in DIR (same weights and codes)")
    p.add_argument("--engines", action="store_true", help="time the frame engines (torch, onnx) instead")
    p.add_argument("--threads", default="1,2", help="--engines: thread counts")
    p.add_argument("--main-job", action="store_true", help="time the main job's commands with each engine")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one config in this process
    args = p.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.main_job:
        run_main_job()
        return
    if args.engines:
        threads = [int(n) for n in args.threads.split(",")]
        if args.one:
            run_engines(args.one, threads, args.repeat)
            return
        configs = args.configs if args.configs != p.get_default("configs") else "default,p256"
        print(f"torch {torch.__version__}, freed memory kept {KEPT_FREED}, "
              f"load average at start {os.getloadavg()[0]:.2f}; * the engine 'auto' "
              f"exports; ratio: best / torch's best; diff: largest uint8 difference to torch's frame")
        print(f"{'config':>8} {'threads':>7} {'engine':>14} {'best ms/f':>10} {'mean ms/f':>10} {'ratio':>8} "
              f"{'diff':>8} {'load':>6}", flush=True)
        for name in configs.split(","):
            subprocess.run([sys.executable, __file__, "--engines", "--one", name, "--threads", args.threads,
                            "--repeat", str(args.repeat)], check=True)
        print(f"load average at end {os.getloadavg()[0]:.2f}")
        return
    if args.one:
        try:
            if args.reference:
                run_reference(args.one, args.reference, batches, args.repeat, args.device)
            else:
                run_config(args.one, batches, args.repeat, args.device)
        except ReferenceUnusable as e:
            sys.exit(f"error: {e}")
        return
    if args.reference:
        try:
            reference_networks(args.reference)  # a bad folder fails here, once, with one line
        except ReferenceUnusable as e:
            sys.exit(f"error: {e}")
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"freed memory kept {KEPT_FREED}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    if args.reference:
        print(f"reference: {args.reference}")
        print(f"{'config':>6} {'batch':>5} {'ours ms/f':>10} {'ref. ms/f':>12} {'ratio':>7} {'max |diff|':>12} "
              f"{'load':>6}", flush=True)
    else:
        print(f"{'config':>6} {'batch':>5} {'modconv':>8} {'best ms/f':>10} {'mean ms/f':>10} {'frames/s':>9} "
              f"{'peak RSS MB':>12} {'load':>6}", flush=True)
    for name in args.configs.split(","):
        if name not in CONFIGS:
            sys.exit(f"error: unknown config {name!r} (have: {', '.join(CONFIGS)})")
        extra = ["--reference", args.reference] if args.reference else []
        done = subprocess.run([sys.executable, __file__, "--one", name, "--batches", args.batches, "--repeat",
                               str(args.repeat), "--device", args.device, *extra])
        if done.returncode:
            sys.exit(done.returncode)  # the config's process said why
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
