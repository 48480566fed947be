"""Probes: small CNNs that read a face's AUs, emotions and identity.

Two uses, two independently trained probes (made by ``lab.probes``, shipped with the default model):

- ``eval``: measures what the model draws — AU and emotion intensities of edited faces, and an
  identity embedding for the ACD identity-consistency score (Zhang & Pollett 2021, Sec. 4.5,
  where OpenFace plays this part).
- ``features``: its feature maps are the perceptual loss of GAN inversion (``backend.photos.inversion``),
  standing in for the VGG16 features of LPIPS.

This module holds the network, reading images with it, and its files: safetensors with the
``ProbeConfig`` in the metadata (format ``latent-emotion.probe``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..animation.channels import CHANNEL_NAMES
from ..files import parse_json
from ..model.checkpoints import CheckpointError, read_tagged_safetensors, write_tagged_safetensors
from ..model.generator import images_from_uint8, reject_unknown_keys

PROBE_FORMAT = "latent-emotion.probe"
PROBE_FORMAT_VERSION = "1"
N_AUS = 14  # the FACS action units of lab.procedural.AU_NAMES, in that order (tests pin the match)
N_CHANNELS = len(CHANNEL_NAMES)  # the last one, head_turn, is in [-1, 1]; the others in [0, 1]


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
        # Bounded: a config comes from a file, and a few bytes must not ask for gigabytes of weights.
        for name, top in (("input_size", 1024), ("width", 1024), ("convs_per_stage", 16), ("embed_dim", 4096)):
            if not 1 <= getattr(self, name) <= top:
                raise ValueError(f"{name} must be within [1, {top}], got {getattr(self, name)}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")

    def channels(self, stage: int) -> int:
        return self.width * 2 ** min(stage, 3)

    def weight_count(self) -> int:
        """How many numbers ``FaceProbe(self)`` holds, without building it: a file whose config
        claims more than its tensors hold is refused before that is allocated (tests hold the two
        together)."""
        count, c_in = 0, 3
        for i in range(self.depth):
            c = self.channels(i)
            convs = 1 + (self.convs_per_stage - 1 if i else 0)
            count += (9 * c_in * c + 2 * c) + (convs - 1) * (9 * c * c + 2 * c)  # conv + GroupNorm
            c_in = c
        hidden, side = 2 * c_in, self.input_size >> self.depth
        return count + (c_in * side * side + 1) * hidden + (hidden + 1) * (N_AUS + N_CHANNELS + self.embed_dim)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProbeConfig:
        reject_unknown_keys(cls, d, "probe config")
        return cls(**{k: int(v) for k, v in d.items()})


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
            parts.append(probe(images_from_uint8(chunk).to(device)))
    finally:
        probe.train(was_training)
    if not parts:
        empty = np.zeros((0, 1), np.float32)
        return ProbePrediction(np.zeros((0, N_AUS), np.float32), np.zeros((0, N_CHANNELS), np.float32),
                               empty.repeat(probe.config.embed_dim, 1))
    cat = lambda name: torch.cat([getattr(p, name) for p in parts]).cpu().numpy().astype(np.float32)  # noqa: E731
    return ProbePrediction(cat("aus"), cat("emotions"), cat("embedding"))


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
        config = ProbeConfig.from_dict(parse_json(meta["config"], path, error=CheckpointError))
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(path, f"bad probe config in metadata ({e})") from None
    if config.weight_count() != sum(t.numel() for t in tensors.values()):
        raise CheckpointError(path, "weights do not match the probe architecture in its metadata")
    probe = FaceProbe(config)
    expected = probe.state_dict()
    if set(tensors) != set(expected) or any(tensors[k].shape != v.shape for k, v in expected.items()):
        raise CheckpointError(path, "weights do not match the probe architecture in its metadata")
    if not all(t.is_floating_point() and torch.isfinite(t).all() for t in tensors.values()):
        raise CheckpointError(path, "weights hold non-float or non-finite values")
    probe.load_state_dict({k: t.to(torch.float32) for k, t in tensors.items()})
    return probe.to(device).eval().requires_grad_(False)
