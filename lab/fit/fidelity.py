"""Does G(z) draw what its render shows? Quick checks of a fit, minutes before its directions.

The directions can only find expressions the generator draws. For held-out z the face prior
gives the exact channel values of the render; the *features* probe reads both the render and
G(z). Per channel, the correlation of the exact values with the reading of G(z), beside the same
for the render (what a perfect fit would reach), says how much of each channel the fit has
learned; the identity embeddings say how close the person is. Seconds on a CPU, where remaking
directions and evaluating takes half an hour. The eval probe is never used here.

``channel_response`` needs no probe: it turns each channel from off to full on neutral faces,
through the prior's coordinates, and compares the change G draws with the change of the render
pixel by pixel (cosine of the two differences, and the ratio of their sizes). A fit that has not
learned a channel changes other things, or nothing (cosine near 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from backend.animation.channels import CHANNEL_NAMES
from backend.model.generator import Generator, images_to_uint8
from backend.readers.probe import FaceProbe, probe_predict
from lab.face_prior import CHANNEL_COORDINATES, FacePrior
from lab.fit.data import render_batch


@dataclass(frozen=True)
class Fidelity:
    """Per channel (``CHANNEL_NAMES`` order): Pearson r of the exact values with the features
    probe's reading of G(z) and of the render, and how many of the z show the channel at all;
    and the mean cosine between the identity embeddings of G(z) and its render."""

    r_generated: tuple[float, ...]
    r_rendered: tuple[float, ...]
    shown: tuple[int, ...]
    identity_cosine: float
    n: int

    def table(self) -> str:
        lines = [f"{'channel':<11} {'shown':>6} {'r G(z)':>7} {'r render':>9} {'share':>6}"]
        for name, g, r, k in zip(CHANNEL_NAMES, self.r_generated, self.r_rendered, self.shown):
            share = g / r if r > 0 else float("nan")
            lines.append(f"{name:<11} {k:>6} {g:>7.3f} {r:>9.3f} {share:>6.2f}")
        lines.append(f"identity cosine G(z) vs render: {self.identity_cosine:.3f} over {self.n} z")
        return "\n".join(lines)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else 0.0


@torch.no_grad()
def expression_fidelity(G: Generator, prior: FacePrior, probe: FaceProbe, z: np.ndarray,
                        batch: int = 32, rendered: np.ndarray | None = None) -> Fidelity:
    """Measure ``G`` on the latents ``z`` (N, z_dim) against ``prior``'s renders (see the module);
    ``rendered``: those renders when the caller has them already."""
    z = np.asarray(z, np.float32)
    return fidelity_of_images(_draw(G, z, batch), prior, probe, z, rendered)


@torch.no_grad()
def _draw(G: Generator, z: np.ndarray, batch: int) -> np.ndarray:
    """G(z) as uint8 images (N, H, W, 3), ``batch`` latents at a time, constant noise."""
    z = np.asarray(z, np.float32)
    return np.concatenate([images_to_uint8(G(torch.from_numpy(z[i:i + batch]).to(G.device), noise_mode="const"))
                           for i in range(0, len(z), batch)])


def fidelity_of_images(generated: np.ndarray, prior: FacePrior, probe: FaceProbe, z: np.ndarray,
                       rendered: np.ndarray | None = None) -> Fidelity:
    """``Fidelity`` of images (N, H, W, 3) uint8 meant to draw ``z``'s faces."""
    exact = prior.channels(z)
    if rendered is None:
        rendered = render_batch(prior, z, generated.shape[1])
    read_g, read_r = probe_predict(probe, generated), probe_predict(probe, rendered)
    channels = range(len(CHANNEL_NAMES))
    return Fidelity(
        r_generated=tuple(_pearson(exact[:, c], read_g.emotions[:, c]) for c in channels),
        r_rendered=tuple(_pearson(exact[:, c], read_r.emotions[:, c]) for c in channels),
        shown=tuple(int((np.abs(exact[:, c]) > 0).sum()) for c in channels),
        identity_cosine=float(np.mean(np.sum(read_g.embedding * read_r.embedding, axis=1))),
        n=len(z),
    )


@dataclass(frozen=True)
class Response:
    """Per channel (``CHANNEL_NAMES`` order), turning it from off to full: mean cosine between
    G's change and the render's change, and the ratio of their sizes (L2 over the image)."""

    cosine: tuple[float, ...]
    gain: tuple[float, ...]
    n: int

    def line(self) -> str:
        return " ".join(f"{name} {c:.2f}/{g:.2f}" for name, c, g in zip(CHANNEL_NAMES, self.cosine, self.gain))


FULL = 3.5  # a rotated coordinate this far out turns any channel fully on (or off, negated)


@torch.no_grad()
def channel_response(G: Generator, prior: FacePrior, z: np.ndarray, batch: int = 32) -> Response:
    """``Response`` of ``G`` for the faces of ``z`` (N, z_dim), neutral and frontal first."""
    return response_of(lambda zs: _draw(G, zs, batch), prior, z)


def response_of(draw: Callable[[np.ndarray], np.ndarray], prior: FacePrior, z: np.ndarray) -> Response:
    """``Response`` of any ``draw`` (z (N, z_dim) → (N, H, W, 3) uint8) against ``prior``'s renders."""
    off = np.array([-FULL] * (len(CHANNEL_COORDINATES) - 1) + [0.0])  # head turn: frontal
    base = prior.with_coordinates(z, list(CHANNEL_COORDINATES), off)

    def both(zs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = draw(zs)
        return (g.reshape(len(zs), -1).astype(np.float64),
                render_batch(prior, zs.astype(np.float32), g.shape[1]).reshape(len(zs), -1).astype(np.float64))

    g0, r0 = both(base)
    cosine, gain = [], []
    for k in CHANNEL_COORDINATES:
        g1, r1 = both(prior.with_coordinates(base, k, FULL))
        dg, dr = g1 - g0, r1 - r0
        norm_g, norm_r = np.linalg.norm(dg, axis=1), np.linalg.norm(dr, axis=1)
        cosine.append(float(np.mean(np.sum(dg * dr, axis=1) / np.maximum(norm_g * norm_r, 1e-9))))
        gain.append(float(np.mean(norm_g) / max(float(np.mean(norm_r)), 1e-9)))
    return Response(tuple(cosine), tuple(gain), len(z))


def laplacian_variance(images: np.ndarray) -> np.ndarray:
    """Sharpness of each uint8 RGB image (N, H, W, 3): the variance of the Laplacian of its grey
    image (blur lowers it; compare images of one size only)."""
    import cv2

    return np.array([cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for img in images])


STACKED_SEED = 2**32 - 4  # the stacked expressions of ``image_quality``'s second set


@dataclass(frozen=True)
class ImageQuality:
    """G against the renders on held-out z: L1 (images in [-1, 1]) on the fit's held-out z and on
    the same people with two or three channels stacked (``FacePrior.mixed``), and sharpness, the
    mean Laplacian variance of G(z) and of the renders (``laplacian_variance``) and their ratio."""

    n: int
    l1: float
    l1_stacked: float
    sharpness_generated: float
    sharpness_rendered: float

    @property
    def sharpness_ratio(self) -> float:
        return self.sharpness_generated / self.sharpness_rendered

    def line(self) -> str:
        return (f"held-out L1 {self.l1:.4f}, stacked L1 {self.l1_stacked:.4f} ({self.n} z); Laplacian variance "
                f"G {self.sharpness_generated:.1f} / renders {self.sharpness_rendered:.1f} = {self.sharpness_ratio:.3f}")


@torch.no_grad()
def image_quality(G: Generator, prior: FacePrior, z: np.ndarray, batch: int = 16) -> ImageQuality:
    """``ImageQuality`` of G on the held-out z (the stacked set from ``STACKED_SEED``)."""
    size = G.config.img_resolution
    stacked = prior.mixed(z, np.random.default_rng([STACKED_SEED]))
    l1, sharp_g, sharp_r = [], [], []
    for latents in (z, stacked):
        rendered = render_batch(prior, latents, size)
        drawn = np.concatenate([images_to_uint8(G(torch.from_numpy(latents[i:i + batch].astype(np.float32)),
                                                  noise_mode="const")) for i in range(0, len(latents), batch)])
        l1.append(float(np.abs(drawn.astype(np.float64) - rendered).mean() / 127.5))
        sharp_g.append(laplacian_variance(drawn))
        sharp_r.append(laplacian_variance(rendered))
    return ImageQuality(len(z), l1[0], l1[1], float(np.mean(sharp_g[0])), float(np.mean(sharp_r[0])))
