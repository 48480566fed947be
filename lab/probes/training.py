"""Training a probe: the loss, the learning-rate schedule and the loop.

The loss is binary cross-entropy on the AU intensities and the eight [0, 1] channels, squared
error on head turn, and the supervised contrastive loss (Khosla et al. 2020) on the identity
embedding with the two drawings of an identity as positives, so the embedding ignores expression
and pose. The ``eval`` probe must share no weights or data with anything used to train the
generator or its directions, so each role draws its faces from its own seed (``PROBE_ROLES``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from backend.model.generator import images_from_uint8
from backend.readers.probe import FaceProbe, ProbeConfig, ProbeOutput
from lab.probes.data import ProbeBatch, augment, training_batch

# Different seeds: different initial weights and different training faces. The feature net runs
# inside every inversion step, so it is small and reads a 64-pixel copy of the image.
PROBE_ROLES: Mapping[str, ProbeConfig] = MappingProxyType({
    "eval": ProbeConfig(seed=1001),
    "features": ProbeConfig(input_size=64, width=16, depth=4, seed=2002),
})


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
        loss, parts = probe_loss(probe(augment(images_from_uint8(data.images), aug_gen)), data)
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
