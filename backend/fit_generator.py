"""Fitting the default generator to the procedural renderer: a supervised fit, not a GAN.

The StyleGAN2 generator learns ``G(z) ≈ render_face(prior.decode(z))`` for z ~ N(0, I), with
``FacePrior`` (``backend.face_prior``) the fixed map from z to renderer parameters. The loss is
an L1 pyramid (full, 1/2 and 1/4 resolution, average-pooled) plus an L1 on the image's finite
differences, which keeps edges sharp. Adam with StyleGAN2's betas (0, 0.99) and an exponential
moving average of the weights (``G_ema``, half-life ``ema_nimg`` images with StyleGAN2-ADA's
ramp-up) as in Karras et al. (2020); ``G_ema`` is what is exported, with ``w_avg`` set to the
mean of mapping(z) so that truncation pulls towards the average face.

Resuming is exact: a step's z are drawn from ``(data_seed, step)`` and nothing else is random,
so a run that is stopped and resumed gives the same weights as one that was not.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoints import CheckpointError, generator_metadata, load_generator, save_generator
from .face_prior import FacePrior
from .files import replacing, write_atomic
from .generator import Generator, GeneratorConfig, images_to_uint8
from .procedural import render_face

CHECKPOINT_FORMAT = "latent-emotion.fit-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.jsonl"
EVAL_SEED = 2**32 - 1  # the held-out batch's z come from default_rng([EVAL_SEED])

# Chosen by measurement on a 2-core CPU (scripts/bench_fit_generator.py): 31-38 images/s for a
# whole training step (33 in a real run), so ~200k images in 100 minutes. Channels 256 at 4-8 px, 128 at 16, 64 at 32,
# 32 at 64 and 16 at 128 px; no noise inputs (the targets have no stochastic detail). The mapping
# learns at the full rate: GAN training slows it (0.01) for stability, but in this regression a
# trial reached a held-out L1 of 0.286 at 1.0 against 0.334 at 0.1 after 900 steps (after 300:
# 0.341 at 1.0, 0.352 at 0.1, 0.356 at 0.01).
DEFAULT_GENERATOR = GeneratorConfig(
    img_resolution=128, z_dim=256, w_dim=256, mapping_layers=8, mapping_lr_multiplier=1.0,
    channel_base=2048, channel_max=256, use_noise=False,
)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (all L1 on images in [-1, 1])."""

    full: float = 1.0
    half: float = 1.0
    quarter: float = 1.0
    gradient: float = 1.0


@dataclass(frozen=True)
class FitConfig:
    """Everything that decides what a fit computes (``render_workers`` only changes its speed)."""

    generator: GeneratorConfig = DEFAULT_GENERATOR
    prior_seed: int = 0
    data_seed: int = 0
    init_seed: int = 0
    batch_size: int = 16
    lr: float = 2e-3
    betas: tuple[float, float] = (0.0, 0.99)
    ema_nimg: float = 10_000.0
    ema_rampup: float | None = 0.05
    loss: LossWeights = LossWeights()
    render_workers: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.lr <= 0 or self.ema_nimg < 0:
            raise ValueError("lr must be positive and ema_nimg non-negative")
        if self.render_workers < 0:
            raise ValueError(f"render_workers must be >= 0, got {self.render_workers}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        FacePrior(z_dim=self.generator.z_dim, seed=self.prior_seed)  # raises if z_dim is too small

    @property
    def prior(self) -> FacePrior:
        return FacePrior(z_dim=self.generator.z_dim, seed=self.prior_seed)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["generator"] = self.generator.to_dict()
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitConfig:
        d = dict(d)
        d["generator"] = GeneratorConfig.from_dict(d["generator"])
        d["loss"] = LossWeights(**d.get("loss", {}))
        d["betas"] = tuple(d.get("betas", (0.0, 0.99)))
        return cls(**d)


@dataclass(frozen=True)
class LossParts:
    """One loss evaluation: the weighted total and each unweighted term."""

    total: float
    full: float
    half: float
    quarter: float
    gradient: float

    @staticmethod
    def mean(parts: list[LossParts]) -> LossParts:
        return LossParts(*(float(np.mean([getattr(p, f.name) for p in parts])) for f in dataclasses.fields(LossParts)))


@dataclass
class FitState:
    """A fit in progress: the trained and averaged generators, the optimizer and the counters."""

    config: FitConfig
    G: Generator
    G_ema: Generator
    optimizer: torch.optim.Adam
    step: int = 0
    nimg: int = 0
    seconds: float = 0.0  # training time over all sessions


@dataclass(frozen=True)
class FitResult:
    """How a call to ``fit`` ended."""

    step: int
    nimg: int
    minutes: float
    stopped_by: str  # "steps", "minutes" or "signal"
    train_loss: LossParts | None  # mean over the last log interval
    eval_loss: LossParts  # G_ema on the held-out batch


# --- data ------------------------------------------------------------------------------------------

def batch_latents(config: FitConfig, step: int) -> np.ndarray:
    """The z (batch_size, z_dim) of a step: a pure function of ``(data_seed, step)``."""
    rng = np.random.default_rng([config.data_seed, step])
    return rng.standard_normal((config.batch_size, config.generator.z_dim)).astype(np.float32)


def eval_latents(config: FitConfig, n: int = 64) -> np.ndarray:
    """A fixed held-out batch, never drawn by ``batch_latents``."""
    return np.random.default_rng([EVAL_SEED]).standard_normal((n, config.generator.z_dim)).astype(np.float32)


def render_batch(prior: FacePrior, z: np.ndarray, size: int) -> np.ndarray:
    """Renders (N, size, size, 3) uint8 of ``prior.decode(z)``."""
    return np.stack([render_face(p, size) for p in prior.decode(z)])


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 → (N, 3, H, W) float32 in [-1, 1], the generator's range."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32).div_(127.5).sub_(1.0).contiguous()


_WORKER_PRIORS: dict[tuple[int, int], FacePrior] = {}


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _worker_render(args: tuple[int, int, np.ndarray, int]) -> np.ndarray:
    z_dim, seed, z, size = args
    prior = _WORKER_PRIORS.get((z_dim, seed))
    if prior is None:
        prior = _WORKER_PRIORS[(z_dim, seed)] = FacePrior(z_dim=z_dim, seed=seed)
    return render_batch(prior, z, size)


class TargetSource:
    """The (z, target images) of each step, rendered in-process or by a pool that works a step ahead."""

    def __init__(self, config: FitConfig) -> None:
        self.config = config
        self.prior = config.prior
        self.size = config.generator.img_resolution
        self._pool: Any = None
        self._pending: dict[int, Any] = {}
        if config.render_workers > 0:
            # spawn, not fork: forking a process that runs torch's thread pool can deadlock.
            ctx = multiprocessing.get_context("spawn")
            self._pool = ctx.Pool(config.render_workers, initializer=_worker_init)

    def __enter__(self) -> TargetSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """z (B, z_dim) and targets (B, 3, H, W) in [-1, 1] for ``step``."""
        z = batch_latents(self.config, step)
        if self._pool is None:
            images = render_batch(self.prior, z, self.size)
        else:
            pending = self._pending.pop(step, None) or self._submit(step, z)
            self._pending = {step + 1: self._submit(step + 1, batch_latents(self.config, step + 1))}
            images = np.concatenate(pending.get())
        return torch.from_numpy(z), images_to_tensor(images)

    def _submit(self, step: int, z: np.ndarray) -> Any:
        chunks = np.array_split(z, self.config.render_workers)
        args = [(self.prior.z_dim, self.prior.seed, c, self.size) for c in chunks if len(c)]
        return self._pool.map_async(_worker_render, args)


# --- the step --------------------------------------------------------------------------------------

def fit_loss(fake: torch.Tensor, real: torch.Tensor, weights: LossWeights) -> tuple[torch.Tensor, LossParts]:
    """L1 at full, 1/2 and 1/4 resolution plus L1 on horizontal and vertical finite differences."""
    full = (fake - real).abs().mean()
    fake2, real2 = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
    half = (fake2 - real2).abs().mean()
    quarter = (F.avg_pool2d(fake2, 2) - F.avg_pool2d(real2, 2)).abs().mean()
    d = fake - real
    gradient = 0.5 * ((d[..., :, 1:] - d[..., :, :-1]).abs().mean() + (d[..., 1:, :] - d[..., :-1, :]).abs().mean())
    total = weights.full * full + weights.half * half + weights.quarter * quarter + weights.gradient * gradient
    parts = LossParts(*(float(t) for t in (total.detach(), full.detach(), half.detach(), quarter.detach(),
                                            gradient.detach())))
    return total, parts


def generate(G: Generator, z: torch.Tensor) -> torch.Tensor:
    """G(z) as trained: constant noise, unfused modulated convolutions (faster for training on a CPU)."""
    return G.synthesis(G.mapping(z), noise_mode="const", fused=False)


def new_fit(config: FitConfig) -> FitState:
    """A fresh fit: weights initialised from ``init_seed``."""
    with torch.random.fork_rng():
        torch.manual_seed(config.init_seed)
        G = Generator(config.generator).train().requires_grad_(True)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    return FitState(config, G, G_ema, _optimizer(G, config))


def warm_start(path: str | os.PathLike[str], render_workers: int | None = None) -> FitState:
    """A fit that continues an exported model (``export_model``) when its run's checkpoint is gone:
    its weights as both G and G_ema, the config and counters its metadata records (so the next
    steps draw new z and a minutes budget counts the earlier time), and a fresh optimizer."""
    G, _ = load_generator(path)
    try:
        facts = json.loads(generator_metadata(path)["training"])
        config = FitConfig.from_dict(facts["config"])
        step, nimg, seconds = int(facts["steps"]), int(facts["images_seen"]), 60.0 * float(facts["training_minutes"])
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(os.fspath(path), f"not a model exported by a fit, cannot continue it ({e!r})") from None
    if render_workers is not None:
        config = dataclasses.replace(config, render_workers=render_workers)
    if G.config != config.generator:
        raise CheckpointError(os.fspath(path), "its weights do not match the generator config of its fit")
    G = G.to(torch.float32).train().requires_grad_(True)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    return FitState(config, G, G_ema, _optimizer(G, config), step=step, nimg=nimg, seconds=seconds)


def _optimizer(G: Generator, config: FitConfig) -> torch.optim.Adam:
    return torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas, eps=1e-8)


def train_step(state: FitState, z: torch.Tensor, target: torch.Tensor) -> LossParts:
    """One Adam step on (z, target), then the EMA update; advances ``step`` and ``nimg``."""
    fake = generate(state.G, z)
    loss, parts = fit_loss(fake, target, state.config.loss)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    update_ema(state, batch=z.shape[0])
    state.step += 1
    state.nimg += z.shape[0]
    return parts


@torch.no_grad()
def update_ema(state: FitState, batch: int) -> None:
    """G_ema ← lerp toward G with StyleGAN2-ADA's half-life in images and ramp-up."""
    cfg = state.config
    ema_nimg = cfg.ema_nimg
    if cfg.ema_rampup is not None:
        ema_nimg = min(ema_nimg, state.nimg * cfg.ema_rampup)
    beta = 0.5 ** (batch / ema_nimg) if ema_nimg > 0 else 0.0
    for p_ema, p in zip(state.G_ema.parameters(), state.G.parameters(), strict=True):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(state.G_ema.buffers(), state.G.buffers(), strict=True):
        b_ema.copy_(b)


@torch.no_grad()
def evaluate(G: Generator, z: torch.Tensor, target: torch.Tensor, weights: LossWeights,
             batch: int = 16) -> LossParts:
    """The loss of G on a fixed batch, without training."""
    parts = []
    for i in range(0, z.shape[0], batch):
        _, p = fit_loss(generate(G, z[i:i + batch]), target[i:i + batch], weights)
        parts.append(p)
    return LossParts.mean(parts)


# --- checkpoints and export ----------------------------------------------------------------------

def save_checkpoint(state: FitState, path: str | os.PathLike[str]) -> str:
    """Write the whole fit (weights, EMA, optimizer, counters) atomically; plain tensors and numbers only."""
    data = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": json.dumps(state.config.to_dict(), sort_keys=True),
        "step": state.step,
        "nimg": state.nimg,
        "seconds": state.seconds,
        "G": state.G.state_dict(),
        "G_ema": state.G_ema.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    path = os.fspath(path)
    with replacing(path) as tmp:
        torch.save(data, tmp)
    return path


def load_checkpoint(path: str | os.PathLike[str], render_workers: int | None = None) -> FitState:
    """Read a checkpoint written by ``save_checkpoint`` (``torch.load(weights_only=True)``: no code runs).

    ``render_workers`` overrides the stored one (it changes speed, not results). Also restores
    torch's global RNG state as it was saved.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError... for refused or corrupt files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise CheckpointError(path, f"refused or corrupt training checkpoint ({first})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, "not a Latent Emotion training checkpoint")
    if data.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(path, f"training checkpoint version {data.get('version')!r} is not supported")
    try:
        config = FitConfig.from_dict(json.loads(data["config"]))
        if render_workers is not None:
            config = dataclasses.replace(config, render_workers=render_workers)
        state = new_fit(config)
        state.G.load_state_dict(data["G"])
        state.G_ema.load_state_dict(data["G_ema"])
        state.optimizer.load_state_dict(data["optimizer"])
        state.step, state.nimg, state.seconds = int(data["step"]), int(data["nimg"]), float(data["seconds"])
        torch.set_rng_state(data["torch_rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(path, f"training checkpoint does not match this code ({e})") from None
    return state


@torch.no_grad()
def mean_w(G: Generator, n: int = 20_000, seed: int = 0, batch: int = 1000) -> torch.Tensor:
    """The mean of mapping(z) over n z ~ N(0, I), accumulated in float64: the truncation centre."""
    rng = np.random.default_rng(seed)
    total = torch.zeros(G.config.w_dim, dtype=torch.float64)
    for i in range(0, n, batch):
        z = torch.from_numpy(rng.standard_normal((min(batch, n - i), G.config.z_dim)).astype(np.float32))
        total += G.mapping(z)[:, 0].to(torch.float64).sum(0)
    return (total / n).to(torch.float32)


def export_generator(state: FitState, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None,
                     w_avg_samples: int = 20_000) -> Generator:
    """Write G_ema (fp16, our safetensors format) with w_avg set to the mean of mapping(z); returns it."""
    G = copy.deepcopy(state.G_ema).eval().requires_grad_(False)
    G.mapping.w_avg.copy_(mean_w(G, w_avg_samples))
    meta = {"face_prior": json.dumps(state.config.prior.to_dict(), sort_keys=True),
            "w_avg_samples": str(w_avg_samples)}
    meta.update(metadata or {})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_generator(G, path, half=True, metadata=meta)
    return G


def export_model(state: FitState, result: FitResult, model_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``model_dir/generator.safetensors`` (G_ema, fp16) and ``model_dir/training.json`` (the facts
    of the fit); the generator is read back to check that it loads and to record its fingerprint."""
    model_dir = Path(model_dir)
    facts = {
        "method": "supervised fit of a StyleGAN2 generator to procedural renders, G(z) = render(decode(z)); not a GAN",
        "config": state.config.to_dict(),
        "face_prior": state.config.prior.to_dict(),
        "steps": state.step,
        "images_seen": state.nimg,
        "training_minutes": round(state.seconds / 60, 2),
        "stopped_by": result.stopped_by,
        "final_train_loss": dataclasses.asdict(result.train_loss) if result.train_loss else None,
        "final_eval_loss": dataclasses.asdict(result.eval_loss),
        "eval_set": f"{len(eval_latents(state.config))} held-out z from default_rng([{EVAL_SEED}]), G_ema",
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    generator_path = model_dir / "generator.safetensors"
    export_generator(state, generator_path, metadata={"training": json.dumps(facts, sort_keys=True)})
    _, info = load_generator(generator_path)
    facts["generator_fingerprint"] = info.fingerprint
    facts["generator_bytes"] = generator_path.stat().st_size
    json_path = model_dir / "training.json"
    write_atomic(json_path, json.dumps(facts, indent=2, sort_keys=True) + "\n")
    return generator_path, json_path


# --- the loop --------------------------------------------------------------------------------------

@dataclass
class _Log:
    """Progress lines to a stream and, as JSON objects, to a JSONL file."""

    path: Path | None
    stream: TextIO | None = field(default_factory=lambda: sys.stdout)

    def write(self, event: str, text: str, **values: Any) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"event": event, "time": round(time.time(), 3), **values}) + "\n")


@contextlib.contextmanager
def _stop_on_signals(enabled: bool) -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM while inside, so that the loop stops between steps."""
    stop = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def fit(state: FitState, run_dir: str | os.PathLike[str], *, minutes: float | None = None,
        max_steps: int | None = None, checkpoint_minutes: float = 5.0, log_seconds: float = 30.0,
        handle_signals: bool = True, stream: TextIO | None = sys.stdout,
        on_step: Callable[[FitState, LossParts], None] | None = None) -> FitResult:
    """Train until ``minutes`` of training time or ``max_steps`` steps (both counted over all
    sessions of the run) or SIGINT/SIGTERM; checkpoints to ``run_dir`` every ``checkpoint_minutes``
    and at the end, and logs to ``run_dir/log.jsonl``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = _Log(run_dir / LOG_NAME, stream)
    cfg = state.config
    z_eval = torch.from_numpy(eval_latents(cfg))
    target_eval = images_to_tensor(render_batch(cfg.prior, z_eval.numpy(), cfg.generator.img_resolution))
    log.write("start", f"start at step {state.step} ({state.nimg} images, {state.seconds / 60:.1f} min trained)",
              step=state.step, nimg=state.nimg, minutes=state.seconds / 60, config=cfg.to_dict())

    def done() -> str | None:
        if max_steps is not None and state.step >= max_steps:
            return "steps"
        if minutes is not None and state.seconds >= minutes * 60:
            return "minutes"
        return None

    def checkpoint() -> LossParts:
        ev = evaluate(state.G_ema, z_eval, target_eval, cfg.loss)
        save_checkpoint(state, run_dir / CHECKPOINT_NAME)
        log.write("checkpoint", f"checkpoint at step {state.step}: G_ema held-out loss {ev.total:.4f} "
                                f"(L1 {ev.full:.4f})", step=state.step, nimg=state.nimg,
                  eval=dataclasses.asdict(ev))
        return ev

    window: list[LossParts] = []
    last_window: LossParts | None = None
    stopped_by = done()
    with _stop_on_signals(handle_signals) as stop, TargetSource(cfg) as source:
        t_log = t_ckpt = time.monotonic()
        window_start_nimg, window_seconds = state.nimg, 0.0
        while stopped_by is None:
            t0 = time.monotonic()
            z, target = source.batch(state.step)
            parts = train_step(state, z, target)
            dt = time.monotonic() - t0
            state.seconds += dt
            window_seconds += dt
            window.append(parts)
            if on_step is not None:
                on_step(state, parts)
            stopped_by = done() or ("signal" if stop.is_set() else None)
            now = time.monotonic()
            if now - t_log >= log_seconds or stopped_by is not None:
                last_window = LossParts.mean(window)
                rate = (state.nimg - window_start_nimg) / max(window_seconds, 1e-9)
                log.write("train", f"step {state.step:7d}  images {state.nimg:9d}  loss {last_window.total:.4f}  "
                                   f"L1 {last_window.full:.4f}  grad {last_window.gradient:.4f}  {rate:5.1f} img/s  "
                                   f"{state.seconds / 60:6.1f} min",
                          step=state.step, nimg=state.nimg, minutes=state.seconds / 60, img_per_s=rate,
                          loss=dataclasses.asdict(last_window))
                window, window_start_nimg, window_seconds, t_log = [], state.nimg, 0.0, now
            if now - t_ckpt >= checkpoint_minutes * 60 and stopped_by is None:
                checkpoint()
                t_ckpt = time.monotonic()
        ev = checkpoint()
    log.write("stop", f"stopped by {stopped_by} at step {state.step}", step=state.step, stopped_by=stopped_by)
    return FitResult(state.step, state.nimg, state.seconds / 60, stopped_by, last_window, ev)


# --- looking at it -----------------------------------------------------------------------------------

@torch.no_grad()
def sample_sheet(G: Generator, prior: FacePrior, seeds: list[int], columns: int = 8,
                 truncation_psi: float | None = 0.7) -> np.ndarray:
    """RGB sheet: for each band of ``columns`` seeds, the target renders, G(z) and (if given) G at ψ."""
    import cv2

    size = G.config.img_resolution
    rows = []
    labels = ["render", "G(z)"] + ([f"G psi={truncation_psi}"] if truncation_psi is not None else [])
    for start in range(0, len(seeds), columns):
        band = seeds[start:start + columns]
        z = np.concatenate([prior.z_from_seed(s) for s in band])
        zt = torch.from_numpy(z.astype(np.float32))
        images = [render_batch(prior, z, size), images_to_uint8(G(zt, noise_mode="const"))]
        if truncation_psi is not None:
            images.append(images_to_uint8(G(zt, truncation_psi=truncation_psi, noise_mode="const")))
        for imgs in images:
            row = np.full((size, columns * size, 3), 255, np.uint8)
            row[:, :len(band) * size] = np.concatenate(list(imgs), axis=1)
            rows.append(row)
    label_w = 90
    sheet = np.full((len(rows) * size, label_w + columns * size, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        sheet[i * size:(i + 1) * size, label_w:] = row
        cv2.putText(sheet, labels[i % len(labels)], (4, i * size + size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
    for k, s in enumerate(seeds):
        band, col = divmod(k, columns)
        cv2.putText(sheet, f"seed {s}", (label_w + col * size + 3, band * len(labels) * size + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return sheet
