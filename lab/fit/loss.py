"""The fit's loss: an L1 pyramid (full, 1/2 and 1/4 resolution), an L1 on finite differences and,
optionally, an L1 on the stage outputs of the features probe and of face-api's landmark and
recognition nets (``stage_l1``) and an L1 inside the brows, eyes and mouth (``lab.procedural.regions``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from lab.fit.config import LossWeights


class StageFeatures(Protocol):
    """A frozen net that lists its stages' outputs for images in [-1, 1]: ``FaceProbe``, ``FaceFeatures``."""

    def features(self, x: torch.Tensor) -> list[torch.Tensor]: ...


@dataclass(frozen=True)
class LossParts:
    """One loss evaluation: the weighted total and each unweighted term (in a training step with
    the adversarial term also G's adversarial loss, D's loss and its R1 penalty)."""

    total: float
    full: float
    half: float
    quarter: float
    gradient: float
    probe: float = 0.0
    region: float = 0.0
    delta: float = 0.0
    still: float = 0.0
    face_landmark: float = 0.0
    face_identity: float = 0.0
    adversarial: float = 0.0
    discriminator: float = 0.0
    r1: float = 0.0

    @staticmethod
    def mean(parts: list[LossParts]) -> LossParts:
        return LossParts(*(float(np.mean([getattr(p, f.name) for p in parts])) for f in dataclasses.fields(LossParts)))


def fit_loss(fake: torch.Tensor, real: torch.Tensor, weights: LossWeights,
             probe: StageFeatures | None = None, regions: torch.Tensor | None = None,
             paired: bool = False, faces: Mapping[str, StageFeatures] | None = None) -> tuple[torch.Tensor, LossParts]:
    """L1 at full, 1/2 and 1/4 resolution plus L1 on horizontal and vertical finite differences,
    plus (with ``probe`` and ``weights.probe``) the mean L1 between its stage outputs, and so for
    each face-api net of ``faces`` (``weights.face_nets``' names: ``lab.fit.face_features``), plus (with
    ``regions``, (B, H, W) masks in [0, 1], and ``weights.region``) the L1 per unit of mask, so that
    the few pixels that show an expression weigh as much as the whole image does in ``full``;
    plus (``paired``: the batch's second half pairs with its first, and ``weights.delta``) the L1
    between the pairs' differences per unit of where the render changed (``delta_loss``), and
    (``weights.still``) G's change per unit of where it did not (``still_loss``)."""
    full = (fake - real).abs().mean()
    fake2, real2 = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
    half = (fake2 - real2).abs().mean()
    quarter = (F.avg_pool2d(fake2, 2) - F.avg_pool2d(real2, 2)).abs().mean()
    d = fake - real
    gradient = 0.5 * ((d[..., :, 1:] - d[..., :, :-1]).abs().mean() + (d[..., 1:, :] - d[..., :-1, :]).abs().mean())
    total = weights.full * full + weights.half * half + weights.quarter * quarter + weights.gradient * gradient
    features = torch.zeros(())
    if probe is not None and weights.probe > 0:
        features = stage_l1(probe, fake, real)
        total = total + weights.probe * features
    face = {"landmark": torch.zeros(()), "identity": torch.zeros(())}
    for name, w in weights.face_nets.items():
        if faces is None or name not in faces:
            raise ValueError(f"the face_{name} loss term needs face-api's {name} net (faces)")
        face[name] = stage_l1(faces[name], fake, real)
        total = total + w * face[name]
    region = torch.zeros(())
    if regions is not None and weights.region > 0:
        m = regions.unsqueeze(1)
        region = ((fake - real).abs() * m).sum() / (m.sum() * fake.shape[1]).clamp_min(1.0)
        total = total + weights.region * region
    delta = torch.zeros(())
    if paired and weights.delta > 0:
        delta = delta_loss(fake, real)
        total = total + weights.delta * delta
    still = torch.zeros(())
    if paired and weights.still > 0:
        still = still_loss(fake, real)
        total = total + weights.still * still
    parts = LossParts(*(float(t) for t in (total.detach(), full.detach(), half.detach(), quarter.detach(),
                                            gradient.detach(), features.detach(), region.detach(), delta.detach(),
                                            still.detach(), face["landmark"].detach(),
                                            face["identity"].detach())))
    return total, parts


def stage_l1(net: StageFeatures, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The mean over ``net``'s stages of the L1 between its outputs for ``fake`` and for ``real``
    (the target's without gradients)."""
    with torch.no_grad():
        want = net.features(real)
    return torch.stack([(a - b).abs().mean() for a, b in zip(net.features(fake), want, strict=True)]).mean()


def delta_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L1 between G's change and the render's change from each face of the first half of the
    batch to its partner in the second, per unit of the pixels the render changed (widened); the
    person's own errors cancel."""
    d_fake, d_real, m = _pair_changes(fake, real)
    return ((d_fake - d_real).abs() * m).sum() / (m.sum() * fake.shape[1]).clamp_min(1.0)


def still_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """G's change from each face to its partner where the render did not change (outside the
    widened mask of ``delta_loss``), per unit of those pixels: a new expression must leave the
    rest of the person as it was, which the pixel loss alone barely asks while G's own error on
    the person is large."""
    d_fake, _, m = _pair_changes(fake, real)
    rest = 1.0 - m
    return (d_fake.abs() * rest).sum() / (rest.sum() * fake.shape[1]).clamp_min(1.0)


def _pair_changes(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """G's and the render's change from the batch's first half to its second, and where the
    render changed (B/2, 1, H, W), widened by two pixels so that a feature drawn a little off still counts."""
    h = fake.shape[0] // 2
    d_fake, d_real = fake[:h] - fake[h:2 * h], real[:h] - real[h:2 * h]
    changed = (d_real.abs().amax(dim=1, keepdim=True) > 1.0 / 255).float()
    return d_fake, d_real, F.max_pool2d(changed, 5, stride=1, padding=2)
