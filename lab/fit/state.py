"""A fit in progress and one training step: Adam on G, then the EMA update of G_ema (and, with the
adversarial term, an Adam step on its discriminator)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
from dataclasses import dataclass

import torch

from backend.model.checkpoints import CheckpointError, generator_metadata, load_generator
from backend.model.generator import Generator
from backend.readers.probe import FaceProbe, load_probe
from lab.fit.adversarial import PatchDiscriminator, discriminator_loss, generator_adversarial_loss
from lab.fit.config import FitConfig, LossWeights
from lab.fit.face_features import FaceFeatures, load_face_features
from lab.fit.loss import LossParts, fit_loss


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
    precision: str = "fp32"  # "bf16": forward and loss under autocast (GPU runs); not part of the config
    _probe: FaceProbe | None = dataclasses.field(default=None, repr=False)
    _faces: dict[str, FaceFeatures] = dataclasses.field(default_factory=dict, repr=False)
    # the adversarial term's discriminator and its optimizer (``discriminator``), kept in checkpoints
    D: PatchDiscriminator | None = None
    D_optimizer: torch.optim.Adam | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def device(self) -> torch.device:
        return self.G.device

    @property
    def probe(self) -> FaceProbe | None:
        """The frozen features probe of the probe loss term (loaded once), or None."""
        if self.config.probe is None or self.config.loss.probe <= 0:
            return None
        if self._probe is None:
            self._probe = load_probe(self.config.probe, device=self.device).eval().requires_grad_(False)
        return self._probe

    @property
    def faces(self) -> dict[str, FaceFeatures]:
        """The frozen face-api nets of the feature loss terms with a positive weight (each loaded once)."""
        for name in self.config.loss.face_nets:
            if name not in self._faces:
                self._faces[name] = load_face_features(name, self.device)
        return {name: self._faces[name] for name in self.config.loss.face_nets}

    @property
    def discriminator(self) -> PatchDiscriminator | None:
        """The adversarial term's discriminator (made from ``init_seed`` when the term is first on), or None."""
        if self.config.loss.adversarial <= 0:
            return None
        if self.D is None:
            self.new_discriminator()
        return self.D

    def new_discriminator(self) -> tuple[PatchDiscriminator, torch.optim.Adam]:
        """A fresh discriminator from ``init_seed`` and its Adam (the fit's rate and betas), kept and returned."""
        with torch.random.fork_rng():
            torch.manual_seed(self.config.init_seed + 1)
            self.D = PatchDiscriminator().to(self.device)
        self.D_optimizer = _optimizer(self.D, self.config)
        return self.D, self.D_optimizer

    def to(self, device: str | torch.device) -> FitState:
        """Move the generators, the discriminator, the optimizers' moments and the frozen nets to ``device``; returns self."""
        device = torch.device(device)
        for net, optimizer in ((self.G, self.optimizer), (self.D, self.D_optimizer)):
            if net is None or optimizer is None:
                continue
            net.to(device)
            for moments in optimizer.state.values():
                for k, v in moments.items():
                    if isinstance(v, torch.Tensor) and k != "step":
                        moments[k] = v.to(device)
        self.G_ema.to(device)
        if self._probe is not None:
            self._probe.to(device)
        for net in self._faces.values():
            net.to(device)
        return self

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """The forward pass's precision: nothing for fp32, bfloat16 autocast for bf16."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)


PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class FitResult:
    """How a call to ``fit`` ended."""

    step: int
    nimg: int
    minutes: float
    stopped_by: str  # "steps", "minutes" or "signal"
    train_loss: LossParts | None  # mean over the last log interval
    eval_loss: LossParts  # G_ema on the held-out batch


def generate(G: Generator, z: torch.Tensor) -> torch.Tensor:
    """G(z) as trained: constant noise, unfused modulated convolutions (faster for training on a CPU)."""
    return G.synthesis(G.mapping(z), noise_mode="const", fused=False)


def new_fit(config: FitConfig) -> FitState:
    """A fresh fit: weights initialised from ``init_seed``, the synthesis network's taken from
    ``synthesis_init`` where the config names one."""
    with torch.random.fork_rng():
        torch.manual_seed(config.init_seed)
        G = Generator(config.generator).train().requires_grad_(True)
    if config.synthesis_init:
        source, _ = load_generator(config.synthesis_init)
        if dataclasses.replace(source.config, mapping_layers=config.generator.mapping_layers) != config.generator:
            raise CheckpointError(config.synthesis_init, "its synthesis network differs from the fit's "
                                  "(only the mapping depth may)")
        G.synthesis.load_state_dict(source.synthesis.state_dict())
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


def _optimizer(net: torch.nn.Module, config: FitConfig) -> torch.optim.Adam:
    return torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas, eps=1e-8)


def set_optimizer(state: FitState, lr: float | None = None, beta1: float | None = None) -> None:
    """Change Adam's learning rate or first-moment decay, in the config and the running optimizer."""
    lr = state.config.lr if lr is None else lr
    betas = state.config.betas if beta1 is None else (beta1, state.config.betas[1])
    state.config = dataclasses.replace(state.config, lr=lr, betas=betas)
    for optimizer in (state.optimizer, state.D_optimizer):
        for group in optimizer.param_groups if optimizer is not None else ():
            group["lr"], group["betas"] = state.config.lr, state.config.betas


def train_step(state: FitState, z: torch.Tensor, target: torch.Tensor,
               regions: torch.Tensor | None = None) -> LossParts:
    """One Adam step on (z, target), then the EMA update; advances ``step`` and ``nimg``. The
    tensors may live on the CPU: they are moved to the state's device. With the paired loss terms
    the batch must hold pairs as ``batch_latents`` draws them. With the adversarial term, G's step
    sees the discriminator frozen, then the discriminator takes its step on the same fakes."""
    z, target, regions = _on(state.device, z, target, regions)
    with state.autocast():
        fake = generate(state.G, z)
        loss, parts = fit_loss(fake.float(), target, state.config.loss, state.probe, regions, paired=True,
                               faces=state.faces)
    D = state.discriminator
    if D is not None:
        D.requires_grad_(False)
        adversarial = generator_adversarial_loss(D, fake.float())
        loss = loss + state.config.loss.adversarial * adversarial
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    if D is not None and state.D_optimizer is not None:
        D.requires_grad_(True)
        d_loss, r1 = discriminator_loss(D, fake.float(), target, state.config.r1_gamma)
        state.D_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        state.D_optimizer.step()
        parts = dataclasses.replace(parts, total=float(loss.detach()), adversarial=float(adversarial.detach()),
                                    discriminator=float(d_loss.detach()), r1=float(r1.detach()))
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


def _on(device: torch.device, *tensors: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    return tuple(None if t is None else t.to(device, non_blocking=True) for t in tensors)


@torch.no_grad()
def evaluate(G: Generator, z: torch.Tensor, target: torch.Tensor, weights: LossWeights,
             batch: int = 16, probe: FaceProbe | None = None, regions: torch.Tensor | None = None,
             faces: dict[str, FaceFeatures] | None = None) -> LossParts:
    """The loss of G on a fixed batch, without training, in fp32 on G's device."""
    parts = []
    for i in range(0, z.shape[0], batch):
        zb, tb, rb = _on(G.device, z[i:i + batch], target[i:i + batch],
                         None if regions is None else regions[i:i + batch])
        _, p = fit_loss(generate(G, zb), tb, weights, probe, rb, faces=faces)
        parts.append(p)
    return LossParts.mean(parts)
