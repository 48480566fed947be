"""The fit's optional adversarial term: a small patch discriminator of our own, trained alongside G
with the non-saturating logistic loss and an R1 penalty on the targets (Goodfellow et al. 2014;
Mescheder et al. 2018, as StyleGAN2 uses them). A supervised fit's pixel loss settles for the
blurred mean of what z leaves open; a discriminator that scores each patch's realism asks for
the edges and texture the targets have.

    G:  softplus(-D(G(z)))                    (``LossWeights.adversarial`` weighs it)
    D:  softplus(D(G(z))) + softplus(-D(x)) + γ/2 · |∇ₓ D(x)|²     (γ = ``FitConfig.r1_gamma``)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchDiscriminator(nn.Module):
    """Images (N, 3, H, W) in [-1, 1] → realism logits (N, 1, H/2^len(widths), same): 4 × 4
    stride-2 convolutions with leaky ReLU, then a 3 × 3 convolution to one logit per patch."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128), channels: int = 3) -> None:
        super().__init__()
        ins = (channels, *widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 4, 2, 1) for a, b in zip(ins, widths, strict=True))
        self.out = nn.Conv2d(widths[-1], 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.downs[0].in_channels:
            raise ValueError(f"the discriminator takes [N, {self.downs[0].in_channels}, H, W] images, "
                             f"got {list(x.shape)}")
        for down in self.downs:
            x = F.leaky_relu(down(x), 0.2)
        return self.out(x)


def generator_adversarial_loss(D: PatchDiscriminator, fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating loss of G: mean softplus(-D(fake)) over the patches."""
    return F.softplus(-D(fake)).mean()


def discriminator_loss(D: PatchDiscriminator, fake: torch.Tensor, real: torch.Tensor,
                       r1_gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """D's logistic loss on detached fakes and real images plus the R1 penalty γ/2 · E|∇ₓ D(x)|²
    on the real ones; returns (the total, the unweighted penalty)."""
    real = real.detach().requires_grad_(r1_gamma > 0)
    real_logits = D(real)
    loss = F.softplus(D(fake.detach())).mean() + F.softplus(-real_logits).mean()
    penalty = torch.zeros(())
    if r1_gamma > 0:
        grad, = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        penalty = grad.square().sum(dim=(1, 2, 3)).mean()
        loss = loss + 0.5 * r1_gamma * penalty
    return loss, penalty
