"""The fit's loss: an L1 pyramid (full, 1/2 and 1/4 resolution) plus an L1 on finite differences."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lab.fit.config import LossWeights


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
