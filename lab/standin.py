"""A photoreal stand-in generator for the real-face path (issue 32): a 64-px DCGAN teacher distilled
into one of our StyleGAN2 generators.

The teacher is the generator of the PyPI package ``gan-face-generate`` 1.1.1 (MIT; trained on
DigiFace-1M, whose licence is non-commercial research only, so everything made from it is
research-only). Only its weight file is used: ``weights.tar``, a plain state dict read with
``torch.load(weights_only=True)``, loaded into ``TeacherDCGAN`` — our own module, written from the
state dict's tensor shapes (no code from the package): transposed convolutions 4 × 4 (the first
from 1 to 4 px, stride 1, then stride 2 and padding 1, doubling to 64 px), batch norm with the
stored running statistics and ReLU between them, tanh at the end; z ∈ R^100, images in [-1, 1].

The distillation is ``lab.fit``'s supervised fit with the teacher in place of the procedural
renderer (``TeacherTargets``): G(z) ≈ teacher(ẑ) for the same z, where ẑ = z · sqrt(100) / |z|.
Our mapping network normalises z the same way, so G sees only z's direction; feeding the teacher
the normalised z makes the pairing exactly learnable (the teacher's samples at |z| = 10 are its
typical ones: |z| of a 100-d Gaussian is 10 ± 0.7).
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from backend.model.generator import Generator, GeneratorConfig, images_from_uint8, images_to_uint8
from lab.fit.config import FitConfig, LossWeights
from lab.fit.data import Targets, batch_latents, eval_latents
from lab.fit.fidelity import laplacian_variance

TEACHER_Z_DIM = 100
TEACHER_RESOLUTION = 64

# Our student: 64 px, z 100 (the teacher's), 2 mapping layers (the depth that let the default
# model's supervised fit learn what z means, model card), channels 256 at 4-8 px, 128 at 16, 64 at
# 32 and 32 at 64 px (channel_base 4096 was 3x slower a step on the shared CPU), no noise inputs
# (the teacher's image is a function of z alone).
STANDIN_GENERATOR = GeneratorConfig(
    img_resolution=TEACHER_RESOLUTION, z_dim=TEACHER_Z_DIM, w_dim=256, mapping_layers=2, mapping_lr_multiplier=1.0,
    channel_base=2048, channel_max=256, use_noise=False,
)
STANDIN_FIT = FitConfig(generator=STANDIN_GENERATOR, loss=LossWeights())


class TeacherFormatError(ValueError):
    """The weight file is not the DCGAN generator state dict this module reads."""


class TeacherDCGAN(nn.Module):
    """A DCGAN generator: z (N, z_dim) → images (N, 3, H, W) in [-1, 1], H = 4 · 2^len(widths)-1."""

    def __init__(self, z_dim: int, widths: tuple[int, ...], channels: int = 3) -> None:
        super().__init__()
        self.z_dim = z_dim
        ins = (z_dim, *widths)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False)
            for i, (c_in, c_out) in enumerate(zip(ins, (*widths, channels), strict=True)))
        self.norms = nn.ModuleList(nn.BatchNorm2d(c) for c in widths)

    @property
    def resolution(self) -> int:
        return 4 * 2 ** (len(self.ups) - 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], self.z_dim, 1, 1)
        for up, norm in zip(self.ups[:-1], self.norms, strict=True):
            x = torch.relu(norm(up(x)))
        return torch.tanh(self.ups[-1](x))

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor]) -> TeacherDCGAN:
        """Build from a ``main.<i>.*`` state dict: 4-d ``weight`` tensors are the transposed
        convolutions, the 1-d groups between them batch norms; refuses anything else."""
        layers: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in state.items():
            m = re.fullmatch(r"main\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)", key)
            if m is None or not isinstance(value, torch.Tensor):
                raise TeacherFormatError(f"unexpected entry {key!r} in the teacher's state dict")
            layers.setdefault(int(m.group(1)), {})[m.group(2)] = value
        order = sorted(layers)
        convs = [layers[i]["weight"] for i in order if layers[i]["weight"].ndim == 4]
        norms = [layers[i] for i in order if layers[i]["weight"].ndim == 1]
        if len(convs) < 2 or len(norms) != len(convs) - 1:
            raise TeacherFormatError(f"expected n transposed convolutions and n-1 batch norms, got {len(convs)} "
                                     f"and {len(norms)}")
        widths = tuple(int(w.shape[1]) for w in convs[:-1])
        net = cls(int(convs[0].shape[0]), widths, int(convs[-1].shape[1]))
        ours: dict[str, torch.Tensor] = {}
        for k, w in enumerate(convs):
            ours[f"ups.{k}.weight"] = w
        for k, n in enumerate(norms):
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                if name not in n:
                    raise TeacherFormatError(f"batch norm {k} lacks {name}")
                ours[f"norms.{k}.{name}"] = n[name]
        try:
            net.load_state_dict(ours)
        except RuntimeError as e:
            raise TeacherFormatError(f"the teacher's tensors do not fit a DCGAN generator ({str(e).splitlines()[0]})")
        return net.eval().requires_grad_(False)


def load_teacher(source: bytes | str | os.PathLike[str]) -> TeacherDCGAN:
    """The teacher from ``weights.tar`` (its bytes or path): ``torch.load(weights_only=True)``, no code runs."""
    data = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    try:
        checkpoint = torch.load(data, map_location="cpu", weights_only=True)
    except Exception as e:  # refused or corrupt pickles raise many types
        raise TeacherFormatError(f"cannot read the teacher's weights ({str(e).strip().splitlines()[0][:200]})") from None
    if not isinstance(checkpoint, dict) or "netG_state_dict" not in checkpoint:
        raise TeacherFormatError("the teacher's weight file has no netG_state_dict")
    return TeacherDCGAN.from_state_dict(checkpoint["netG_state_dict"])


def normalized(z: np.ndarray) -> np.ndarray:
    """z · sqrt(z_dim) / |z| row by row: what our mapping network sees of z."""
    z = np.asarray(z, dtype=np.float64)
    return z * np.sqrt(z.shape[1]) / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-8)


@torch.no_grad()
def teacher_images(teacher: TeacherDCGAN, z: np.ndarray, batch: int = 64) -> np.ndarray:
    """The teacher's images (N, 64, 64, 3) uint8 of normalised z."""
    zn = torch.from_numpy(normalized(z).astype(np.float32))
    return np.concatenate([images_to_uint8(teacher(zn[i:i + batch])) for i in range(0, len(zn), batch)])


class TeacherTargets:
    """``lab.fit``'s target source with the teacher as the renderer (``fit(..., source=...)``)."""

    def __init__(self, teacher: TeacherDCGAN, config: FitConfig) -> None:
        if config.generator.z_dim != teacher.z_dim or config.generator.img_resolution != teacher.resolution:
            raise ValueError(f"the fit's generator ({config.generator.z_dim}-d z, {config.generator.img_resolution} "
                             f"px) does not match the teacher ({teacher.z_dim}-d, {teacher.resolution} px)")
        if config.loss.region > 0 or config.loss.paired or config.identities or config.mix_share or config.loss.probe:
            raise ValueError("the region, paired, probe, identities and mix terms need procedural renders, "
                             "not a teacher")
        self.teacher, self.config = teacher, config

    def __enter__(self) -> TeacherTargets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def render(self, z: np.ndarray) -> tuple[np.ndarray, None]:
        return teacher_images(self.teacher, z), None

    def batch(self, step: int) -> Targets:
        z = batch_latents(self.config, step)
        return Targets(torch.from_numpy(z), images_from_uint8(self.render(z)[0]), None)

    def measure(self, G: Generator) -> tuple[str, dict[str, object]]:
        """``standin_quality`` of G on the fit's held-out z, as ``fit(measure=...)`` logs it at each checkpoint."""
        quality = standin_quality(G, self.teacher, eval_latents(self.config))
        return quality.line(), quality.to_dict()


def upscaled(images: np.ndarray, size: int = 256, border: float = 0.25) -> np.ndarray:
    """64-px faces enlarged for the face readers (MTCNN misses faces that fill a small image):
    ``border`` of the side added on each side by replicating the edge, then resized to ``size``."""
    out = []
    for img in images:
        pad = int(round(border * img.shape[0]))
        big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        out.append(cv2.resize(big, (size, size), interpolation=cv2.INTER_CUBIC))
    return np.stack(out)


@dataclass(frozen=True)
class StandinQuality:
    """Ours against the teacher on held-out z: L1 (images in [-1, 1]), sharpness (mean Laplacian
    variance, ``lab.fit.fidelity.laplacian_variance``) of both and, when measured, face-api
    identity distances between the two images of each z (upscaled, ``upscaled``; 0.6 = another
    person) over the z where MTCNN found a face in both, and in how many."""

    n: int
    l1: float
    sharpness_ours: float
    sharpness_teacher: float
    identity_distances: tuple[float, ...] | None = None
    faces_found_teacher: int | None = None
    faces_found_ours: int | None = None

    def line(self) -> str:
        text = (f"held-out L1 teacher-ours {self.l1:.4f} ({self.n} z); Laplacian variance ours "
                f"{self.sharpness_ours:.1f} / teacher {self.sharpness_teacher:.1f} = "
                f"{self.sharpness_ours / self.sharpness_teacher:.3f}")
        if self.identity_distances is not None:
            d = np.array(self.identity_distances)
            text += (f"; face-api identity distance mean {d.mean():.3f}, median {np.median(d):.3f} over {len(d)} z "
                     f"(faces found: teacher {self.faces_found_teacher}, ours {self.faces_found_ours} of {self.n})"
                     if len(d) else "; no z with a face found in both")
        return text

    def to_dict(self) -> dict[str, object]:
        d = dataclasses.asdict(self)
        d["sharpness_ratio"] = self.sharpness_ours / self.sharpness_teacher
        if self.identity_distances is not None and self.identity_distances:
            d["identity_distance_mean"] = float(np.mean(self.identity_distances))
            d["identity_distance_median"] = float(np.median(self.identity_distances))
        return d


@torch.no_grad()
def standin_quality(G: Generator, teacher: TeacherDCGAN, z: np.ndarray, identity: bool = False,
                    batch: int = 16) -> StandinQuality:
    """``StandinQuality`` of G on z (N, 100); ``identity`` loads the face readers (~seconds) and
    reads 2N upscaled images."""
    ours = np.concatenate([images_to_uint8(G(torch.from_numpy(z[i:i + batch].astype(np.float32)), noise_mode="const"))
                           for i in range(0, len(z), batch)])
    theirs = teacher_images(teacher, z)
    l1 = float(np.abs(ours.astype(np.float64) - theirs).mean() / 127.5)
    distances = found_t = found_o = None
    if identity:
        from backend.readers.reading import FaceReaders

        readers = FaceReaders()
        a, b = readers.identities(upscaled(theirs)), readers.identities(upscaled(ours))
        found_t, found_o = int(np.isfinite(a[:, 0]).sum()), int(np.isfinite(b[:, 0]).sum())
        both = np.isfinite(a[:, 0]) & np.isfinite(b[:, 0])
        distances = tuple(float(v) for v in np.linalg.norm(a[both] - b[both], axis=1))
    return StandinQuality(len(z), l1, float(laplacian_variance(ours).mean()), float(laplacian_variance(theirs).mean()),
                          distances, found_t, found_o)
