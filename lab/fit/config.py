"""What a fit computes: the generator architecture, seeds, optimiser settings and loss weights."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from backend.model.generator import GeneratorConfig
from lab.face_prior import FacePrior

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


# the face-api nets of the feature loss terms (``LossWeights.face_<name>``, ``lab.fit.face_features``)
FACE_NET_NAMES = ("landmark", "identity")


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms: L1 on images in [-1, 1], and ``probe``, L1 between the features
    probe's stage outputs for G(z) and the target (``FitConfig.probe``), which weighs the eyes,
    brows and mouth that the probe reads expressions from, where pixel L1 weighs hair and
    background most; ``region``, L1 per unit of the brows/eyes/mouth mask
    (``lab.procedural.regions``), which weighs those pixels directly; ``delta`` and ``still``,
    on pairs (one person, two expressions), G's change where the render changed and where it did
    not (``lab.fit.loss``); ``face_landmark`` and ``face_identity``, L1 between the stage outputs
    of face-api's landmark and recognition nets for G(z) and the target (``lab.fit.face_features``),
    which weigh the edges and parts a face is read by, where pixel L1 settles for a blurred average;
    ``adversarial``, the non-saturating loss of a patch discriminator trained alongside G
    (``lab.fit.adversarial``; its R1 penalty is ``FitConfig.r1_gamma``)."""

    full: float = 1.0
    half: float = 1.0
    quarter: float = 1.0
    gradient: float = 1.0
    probe: float = 0.0
    region: float = 0.0
    delta: float = 0.0
    still: float = 0.0
    face_landmark: float = 0.0
    face_identity: float = 0.0
    adversarial: float = 0.0

    @property
    def face_nets(self) -> dict[str, float]:
        """The face-api nets of the feature terms with a positive weight, by name (``FACE_NET_NAMES``)."""
        return {name: w for name in FACE_NET_NAMES if (w := getattr(self, f"face_{name}")) > 0}

    @property
    def paired(self) -> bool:
        """Whether the batch holds pairs (the terms that compare a face with its partner)."""
        return self.delta > 0 or self.still > 0


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
    probe: str | None = None  # the *features* probe for the probe loss term (never the eval probe)
    # > 0: a share (identity_share) of each batch takes the identity of one of this many fixed
    # people (expression and head turn stay their own): with the person fixed, expression and pose
    # are what the loss can learn, where across many people the fit draws none (model card).
    identities: int = 0
    identity_share: float = 1.0
    # > 0: the fixed people are drawn anew every this many steps, so that no one person's way of
    # turning or smiling is all the fit sees (0: the same people for the whole run)
    identity_period: int = 0
    # an exported generator whose synthesis weights a new fit starts from, its mapping network
    # fresh from init_seed (to try a shallower mapping without starting the faces from nothing)
    synthesis_init: str | None = None
    # > 0: this share of each batch (of each half, with pairs) stacks two or three channels at
    # 0.5-1 each, as the rig asks in every keyframe of Figure 7 (``FacePrior.mixed``; the map from
    # z to faces is unchanged, only how often such faces are drawn)
    mix_share: float = 0.0
    # the R1 penalty of the discriminator of the adversarial loss term (``lab.fit.adversarial``)
    r1_gamma: float = 1.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.lr <= 0 or self.ema_nimg < 0:
            raise ValueError("lr must be positive and ema_nimg non-negative")
        if self.loss.paired and self.batch_size % 2:
            raise ValueError(f"the delta and still loss terms need an even batch_size (pairs), got {self.batch_size}")
        if self.identities < 0:
            raise ValueError(f"identities must be >= 0, got {self.identities}")
        if self.identity_period < 0:
            raise ValueError(f"identity_period must be >= 0, got {self.identity_period}")
        if not 0.0 < self.identity_share <= 1.0:
            raise ValueError(f"identity_share must be in (0, 1], got {self.identity_share}")
        if not 0.0 <= self.mix_share <= 1.0:
            raise ValueError(f"mix_share must be in [0, 1], got {self.mix_share}")
        for name, value in (("r1_gamma", self.r1_gamma), ("the adversarial weight", self.loss.adversarial),
                            *((f"the face_{n} weight", getattr(self.loss, f"face_{n}")) for n in FACE_NET_NAMES)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.render_workers < 0:
            raise ValueError(f"render_workers must be >= 0, got {self.render_workers}")
        if self.loss.probe > 0 and not self.probe:
            raise ValueError("a probe loss weight needs a features probe file (probe)")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        FacePrior(z_dim=self.generator.z_dim, seed=self.prior_seed)  # raises if z_dim is too small

    @cached_property
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
