"""Probes: small CNNs trained on procedural renders that read a face's AUs, emotions and identity.

Two uses, two independently trained probes (``PROBE_ROLES``):

- ``eval``: measures what the model draws — AU and emotion intensities of edited faces, and an
  identity embedding for the ACD identity-consistency score (Zhang & Pollett 2021, Sec. 4.5,
  where OpenFace plays this part). It must share no weights or data with anything used to train
  the generator or its directions, so it draws its faces from its own random stream.
- ``features``: its feature maps are the perceptual loss of GAN inversion (``backend.inversion``),
  standing in for the VGG16 features of LPIPS.

Training data are rendered on the fly: a batch holds ``batch // 2`` identities from
``sample_identity``, each drawn twice with independent expressions and head turns from
``sample_emotions``. The loss is binary cross-entropy on the AU intensities and the eight [0, 1]
channels, squared error on head turn, and the supervised contrastive loss (Khosla et al. 2020)
on the identity embedding with the two drawings of an identity as positives, so the embedding
ignores expression and pose. Light blur, noise, shifts and colour jitter make the probe robust
to the softer images a generator draws.

Files are safetensors with the ``ProbeConfig`` in the metadata (format ``latent-emotion.probe``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import CheckpointError, read_tagged_safetensors, write_tagged_safetensors
from .procedural import (
    AU_NAMES,
    CHANNEL_NAMES,
    face_params_from_emotions,
    render_face,
    sample_emotions,
    sample_identity,
)

PROBE_FORMAT = "latent-emotion.probe"
PROBE_FORMAT_VERSION = "1"
N_AUS = len(AU_NAMES)
N_CHANNELS = len(CHANNEL_NAMES)  # the last one, head_turn, is in [-1, 1]; the others in [0, 1]
VIEWS = 2  # drawings of each identity in a batch
# Entropy tags of the random streams: probe training batches and the held-out set. Other
# modules' streams (fit_generator: default_rng([data_seed, step])) never start with these.
_TRAIN_STREAM = 0x50524F42  # "PROB"
_HELDOUT_STREAM = 0x48454C44  # "HELD"
HELDOUT_SEED = 7


@dataclass(frozen=True)
class ProbeConfig:
    """A probe's architecture, plus the seed of its weights and of its training data."""

    input_size: int = 128
    width: int = 32  # channels of the first stage; doubled per stage up to 8x
    depth: int = 5  # stride-2 stages
    convs_per_stage: int = 2  # the first stage always has one (it runs at the highest resolution)
    embed_dim: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.input_size < 16 or self.input_size & (self.input_size - 1):
            raise ValueError(f"input_size must be a power of two >= 16, got {self.input_size}")
        if not 1 <= self.depth or self.input_size >> self.depth < 1:
            raise ValueError(f"depth={self.depth} must be at least 1 and leave at least 1 pixel "
                             f"of the {self.input_size}-pixel input")
        for name in ("width", "convs_per_stage", "embed_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")

    def channels(self, stage: int) -> int:
        return self.width * 2 ** min(stage, 3)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProbeConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown probe config keys: {', '.join(unknown)}")
        return cls(**{k: int(v) for k, v in d.items()})


# Different seeds: different initial weights and different training faces. The feature net runs
# inside every inversion step, so it is small and reads a 64-pixel copy of the image.
PROBE_ROLES: Mapping[str, ProbeConfig] = MappingProxyType({
    "eval": ProbeConfig(seed=1001),
    "features": ProbeConfig(input_size=64, width=16, depth=4, seed=2002),
})


@dataclass(frozen=True)
class ProbeOutput:
    """What the network returns for a batch (tensors)."""

    au_logits: torch.Tensor  # (N, 14)
    channel_logits: torch.Tensor  # (N, 9): sigmoid for the first 8, tanh for head_turn
    embedding: torch.Tensor  # (N, embed_dim), unit length

    @property
    def aus(self) -> torch.Tensor:
        return torch.sigmoid(self.au_logits)

    @property
    def emotions(self) -> torch.Tensor:
        return torch.cat([torch.sigmoid(self.channel_logits[:, :-1]), torch.tanh(self.channel_logits[:, -1:])], 1)


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.GroupNorm(min(8, c_out), c_out),
                         nn.ReLU(inplace=True))


class FaceProbe(nn.Module):
    """Stride-2 conv stages with GroupNorm (per image, so a batch never mixes images), a dense
    layer over the final map, and three heads: AUs, emotion channels and a unit identity embedding."""

    def __init__(self, config: ProbeConfig = ProbeConfig()) -> None:
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            stages = []
            c_in = 3
            for i in range(config.depth):
                c = config.channels(i)
                layers = [_block(c_in, c, 2)] + [_block(c, c, 1) for _ in range(config.convs_per_stage - 1 if i else 0)]
                stages.append(nn.Sequential(*layers))
                c_in = c
            self.stages = nn.ModuleList(stages)
            # The head reads the whole final map, not its global average: GroupNorm has just
            # removed each image's mean per group, so an average would keep little between images.
            side = config.input_size >> config.depth
            hidden = 2 * c_in
            self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, hidden), nn.ReLU(inplace=True))
            self.au_head = nn.Linear(hidden, N_AUS)
            self.channel_head = nn.Linear(hidden, N_CHANNELS)
            self.embed_head = nn.Linear(hidden, config.embed_dim)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"probe input must be (N, 3, H, W) in [-1, 1], got {tuple(x.shape)}")
        size = self.config.input_size
        if x.shape[2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=x.shape[2] > size)
        return x

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each stage's output for images (N, 3, H, W) in [-1, 1], resized to the input size."""
        x = self._input(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> ProbeOutput:
        h = self.trunk(self.features(x)[-1])
        return ProbeOutput(self.au_head(h), self.channel_head(h), F.normalize(self.embed_head(h), dim=1))


# --- data -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeBatch:
    """Rendered faces and their labels; rows 2k and 2k+1 are the same identity."""

    images: np.ndarray  # (N, H, W, 3) uint8
    aus: np.ndarray  # (N, 14) float32
    emotions: np.ndarray  # (N, 9) float32, CHANNEL_NAMES order
    identity: np.ndarray  # (N,) int64, equal for the drawings of one identity


def render_probe_batch(rng: np.random.Generator, n: int, size: int) -> ProbeBatch:
    """``n`` faces (``n`` even): ``n // 2`` identities, each with two independent expressions."""
    if n < VIEWS or n % VIEWS:
        raise ValueError(f"a probe batch needs a positive multiple of {VIEWS} faces, got {n}")
    images, aus, emotions, identity = [], [], [], []
    for k in range(n // VIEWS):
        person = sample_identity(rng)
        for _ in range(VIEWS):
            face = face_params_from_emotions(person, sample_emotions(rng))
            images.append(render_face(face, size))
            aus.append(face.aus.as_array())
            emotions.append(face.emotions.as_array())
            identity.append(k)
    return ProbeBatch(np.stack(images), np.stack(aus), np.stack(emotions), np.array(identity, dtype=np.int64))


def training_batch(config: ProbeConfig, step: int, n: int) -> ProbeBatch:
    """The faces of training step ``step``: a pure function of ``(config.seed, step, n)``."""
    return render_probe_batch(np.random.default_rng([_TRAIN_STREAM, config.seed, step]), n, config.input_size)


def heldout_batch(n: int, size: int, seed: int = HELDOUT_SEED) -> ProbeBatch:
    """Faces no probe trains on (a stream of their own), for ``evaluate_probe``."""
    return render_probe_batch(np.random.default_rng([_HELDOUT_STREAM, seed]), n, size)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per image: a shift of up to 1/32 of the size, Gaussian blur (σ up to 1.2 px at 128 px) on
    half the images, contrast/brightness jitter and pixel noise."""
    n, c, h, w = x.shape
    pad = max(1, h // 32)
    padded = F.pad(x, [pad] * 4, mode="replicate")
    dx, dy = torch.randint(0, 2 * pad + 1, (2, n), generator=gen).tolist()
    x = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    sigma = torch.rand(n, generator=gen) * 1.2 * h / 128
    sigma = torch.where(torch.rand(n, generator=gen) < 0.5, sigma, torch.zeros(n))
    taps = torch.arange(-2, 3, dtype=torch.float32)
    kernel = torch.exp(-taps.square()[None] / (2 * sigma.clamp(min=1e-3).square()[:, None]))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (n, 5); σ≈0 gives the identity
    k = kernel.repeat_interleave(c, dim=0)
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, [2, 2, 0, 0], mode="replicate"), k[:, None, None, :], groups=n * c)
    y = F.conv2d(F.pad(y, [0, 0, 2, 2], mode="replicate"), k[:, None, :, None], groups=n * c)
    x = y.reshape(n, c, h, w)
    contrast = 1 + 0.15 * (2 * torch.rand(n, 1, 1, 1, generator=gen) - 1)
    bright = 0.1 * (2 * torch.rand(n, 1, 1, 1, generator=gen) - 1)
    noise = 0.03 * torch.rand(n, 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)
    return (x * contrast + bright + noise).clamp(-1, 1)


# --- training -------------------------------------------------------------------------------------

def supervised_contrastive_loss(embedding: torch.Tensor, labels: torch.Tensor,
                                temperature: float = 0.1) -> torch.Tensor:
    """SupCon (Khosla et al. 2020, L_out): for each anchor, the mean over its positives of
    −log softmax similarity among all other samples; unit-length embeddings."""
    sim = embedding @ embedding.t() / temperature
    self_mask = torch.eye(len(labels), dtype=torch.bool, device=embedding.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    per_anchor = -log_prob.masked_fill(~positives, 0.0).sum(dim=1) / positives.sum(dim=1).clamp(min=1)
    return per_anchor[positives.any(dim=1)].mean()


@dataclass(frozen=True)
class ProbeLoss:
    total: float
    aus: float  # BCE
    emotions: float  # BCE on the 8 [0, 1] channels + squared error on head turn
    identity: float  # SupCon


def probe_loss(out: ProbeOutput, batch: ProbeBatch, expression_weight: float = 1.0,
               identity_weight: float = 0.1) -> tuple[torch.Tensor, ProbeLoss]:
    aus = torch.from_numpy(batch.aus)
    emotions = torch.from_numpy(batch.emotions)
    l_aus = F.binary_cross_entropy_with_logits(out.au_logits, aus)
    l_emotions = (F.binary_cross_entropy_with_logits(out.channel_logits[:, :-1], emotions[:, :-1])
                  + F.mse_loss(torch.tanh(out.channel_logits[:, -1]), emotions[:, -1]))
    l_identity = supervised_contrastive_loss(out.embedding, torch.from_numpy(batch.identity))
    total = expression_weight * (l_aus + l_emotions) + identity_weight * l_identity
    return total, ProbeLoss(total.item(), l_aus.item(), l_emotions.item(), l_identity.item())


@dataclass(frozen=True)
class ProbeTrainLog:
    """One logged training step (losses averaged since the previous log)."""

    step: int
    images: int
    elapsed_s: float
    lr: float
    loss: ProbeLoss


def probe_learning_rate(t: float, lr: float, warmup: float = 0.02) -> float:
    """Linear warm-up over the first 2 %, then cosine decay to 5 % of ``lr`` at t = 1."""
    if t < warmup:
        return lr * (t + 1e-3) / warmup
    t = min(1.0, (t - warmup) / (1 - warmup))
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def train_probe(config: ProbeConfig, *, steps: int | None = None, time_limit_s: float | None = None,
                batch: int = 32, lr: float = 2e-3, weight_decay: float = 1e-4,
                log: Callable[[ProbeTrainLog], None] | None = None, log_every: int = 50,
                cancel: Callable[[], bool] | None = None) -> FaceProbe:
    """Train a probe from ``config.seed`` on faces rendered on the fly (see the module docstring).

    Stops after ``steps`` or ``time_limit_s`` seconds, whichever comes first (at least one is
    needed; the learning-rate schedule follows the nearer one), or when ``cancel()`` is True.
    ``log`` gets the mean losses every ``log_every`` steps and after the last step. Returns the
    trained probe in eval mode with gradients off.
    """
    if steps is None and time_limit_s is None:
        raise ValueError("give steps, time_limit_s or both")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    if time_limit_s is not None and not time_limit_s > 0:
        raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
    probe = FaceProbe(config).train()
    optimizer = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=weight_decay)
    aug_gen = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    pending: list[ProbeLoss] = []
    step = 0

    def flush(lr_now: float) -> None:
        fields = dataclasses.fields(ProbeLoss)
        mean = ProbeLoss(*(float(np.mean([getattr(p, f.name) for p in pending])) for f in fields))
        log(ProbeTrainLog(step, step * batch, time.perf_counter() - start, lr_now, mean))
        pending.clear()

    while True:
        elapsed = time.perf_counter() - start
        t = max(step / steps if steps else 0.0, elapsed / time_limit_s if time_limit_s else 0.0)
        if t >= 1.0 or (cancel is not None and cancel()):
            break
        data = training_batch(config, step, batch)
        for group in optimizer.param_groups:
            group["lr"] = probe_learning_rate(t, lr)
        loss, parts = probe_loss(probe(augment(images_to_tensor(data.images), aug_gen)), data)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        pending.append(parts)
        if log is not None and step % log_every == 0:
            flush(optimizer.param_groups[0]["lr"])
    if log is not None and pending:  # the last step is always logged
        flush(optimizer.param_groups[0]["lr"])
    return probe.eval().requires_grad_(False)


# --- use ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbePrediction:
    """A probe's reading of N images (numpy float32)."""

    aus: np.ndarray  # (N, 14) in [0, 1], AU_NAMES order
    emotions: np.ndarray  # (N, 9), CHANNEL_NAMES order: [0, 1] except head_turn in [-1, 1]
    embedding: np.ndarray  # (N, embed_dim), unit length


@torch.no_grad()
def probe_predict(probe: FaceProbe, images: np.ndarray, batch_size: int = 64) -> ProbePrediction:
    """Read uint8 images (N, H, W, 3) or one (H, W, 3); other sizes are resized (INTER_AREA)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be square, got {images.shape[1]}x{images.shape[2]}")
    size = probe.config.input_size
    device = next(probe.parameters()).device
    was_training = probe.training
    probe.eval()
    parts: list[ProbeOutput] = []
    try:
        for i in range(0, len(images), batch_size):
            chunk = images[i:i + batch_size]
            if chunk.shape[1] != size:
                chunk = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in chunk])
            parts.append(probe(images_to_tensor(chunk).to(device)))
    finally:
        probe.train(was_training)
    if not parts:
        empty = np.zeros((0, 1), np.float32)
        return ProbePrediction(np.zeros((0, N_AUS), np.float32), np.zeros((0, N_CHANNELS), np.float32),
                               empty.repeat(probe.config.embed_dim, 1))
    cat = lambda name: torch.cat([getattr(p, name) for p in parts]).cpu().numpy().astype(np.float32)  # noqa: E731
    return ProbePrediction(cat("aus"), cat("emotions"), cat("embedding"))


@dataclass(frozen=True)
class ProbeScores:
    """Accuracy on held-out renders."""

    au_mae: float  # mean |predicted − true| AU intensity
    emotion_mae: float  # over the six emotions, eye_close and mouth_open
    head_turn_mae: float
    identity_top1: float  # share of faces whose nearest other face (cosine) is the same identity
    n: int
    # The same errors for a constant guess, the held-out mean: what a probe that learned nothing scores.
    au_mae_baseline: float
    emotion_mae_baseline: float
    head_turn_mae_baseline: float


def evaluate_probe(probe: FaceProbe, n: int = 256, seed: int = HELDOUT_SEED) -> ProbeScores:
    """Scores on ``n`` held-out faces (``n // 2`` identities drawn twice), rendered at the probe's size."""
    data = heldout_batch(n, probe.config.input_size, seed)
    pred = probe_predict(probe, data.images)
    sim = pred.embedding @ pred.embedding.T
    np.fill_diagonal(sim, -np.inf)
    top1 = float(np.mean(data.identity[sim.argmax(axis=1)] == data.identity))
    err = np.abs(pred.emotions - data.emotions)
    base = np.abs(data.emotions - data.emotions.mean(axis=0))
    return ProbeScores(float(np.abs(pred.aus - data.aus).mean()), float(err[:, :-1].mean()), float(err[:, -1].mean()),
                       top1, n, float(np.abs(data.aus - data.aus.mean(axis=0)).mean()), float(base[:, :-1].mean()),
                       float(base[:, -1].mean()))


# --- files ----------------------------------------------------------------------------------------

def save_probe(probe: FaceProbe, path: str | os.PathLike[str], *, half: bool = False,
               metadata: Mapping[str, str] | None = None) -> str:
    """Write ``probe`` as safetensors with its config (atomically: a temporary file, then a rename).

    ``half`` stores the weights as fp16 to halve the file; they are fp32 again once loaded.
    """
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in probe.state_dict().items()}
    return write_tagged_safetensors(path, tensors, PROBE_FORMAT, PROBE_FORMAT_VERSION, probe.config.to_dict(),
                                    metadata)


def load_probe(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> FaceProbe:
    """Read a probe written by ``save_probe`` (eval mode, gradients off); anything else raises
    ``CheckpointError`` naming the file and the reason."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    meta, tensors = read_tagged_safetensors(path, PROBE_FORMAT, PROBE_FORMAT_VERSION, "probe")
    try:
        config = ProbeConfig.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(path, f"bad probe config in metadata ({e})") from None
    probe = FaceProbe(config)
    expected = probe.state_dict()
    if set(tensors) != set(expected) or any(tensors[k].shape != v.shape for k, v in expected.items()):
        raise CheckpointError(path, "weights do not match the probe architecture in its metadata")
    if not all(t.is_floating_point() and torch.isfinite(t).all() for t in tensors.values()):
        raise CheckpointError(path, "weights hold non-float or non-finite values")
    probe.load_state_dict({k: t.to(torch.float32) for k, t in tensors.items()})
    return probe.to(device).eval().requires_grad_(False)
