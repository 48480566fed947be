"""Probe training data, rendered on the fly.

A batch holds ``batch // 2`` identities from ``sample_identity``, each drawn twice with
independent expressions and head turns from ``sample_emotions``. Light blur, noise, shifts and
colour jitter (``augment``) make the probe robust to the softer images a generator draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from backend.readers.probe import ProbeConfig
from lab.procedural import face_params_from_emotions, render_face, sample_emotions, sample_identity

VIEWS = 2  # drawings of each identity in a batch

# Entropy tags of the random streams: probe training batches and the held-out set. Other
# modules' streams (lab.fit: default_rng([data_seed, step])) never start with these.
_TRAIN_STREAM = 0x50524F42  # "PROB"
_HELDOUT_STREAM = 0x48454C44  # "HELD"
HELDOUT_SEED = 7


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
