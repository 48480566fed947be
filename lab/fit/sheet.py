"""A sheet to look at a fit: target renders beside G(z) and G at a truncation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from backend.model.generator import Generator, images_to_uint8
from lab.face_prior import FacePrior
from lab.fit.data import render_batch


@torch.no_grad()
def sample_sheet(G: Generator, prior: FacePrior | None, seeds: list[int], columns: int = 8,
                 truncation_psi: float | None = 0.7,
                 targets: tuple[str, Callable[[np.ndarray], np.ndarray]] | None = None) -> np.ndarray:
    """RGB sheet: for each band of ``columns`` seeds, the target renders, G(z) and (if given) G at ψ.
    ``targets`` (a label and z (N, z_dim) → uint8 images (N, H, W, 3)) replaces the renders of
    ``prior``, e.g. a teacher generator's images."""
    import cv2

    size = G.config.img_resolution
    if targets is None:
        if prior is None:
            raise ValueError("sample_sheet needs a prior or targets")
        targets = ("render", lambda z: render_batch(prior, z, size))
    rows = []
    labels = [targets[0], "G(z)"] + ([f"G psi={truncation_psi}"] if truncation_psi is not None else [])
    for start in range(0, len(seeds), columns):
        band = seeds[start:start + columns]
        # each seed's z as Generator.z_from_seed (and FacePrior.z_from_seed) draws it, in float64
        z = np.concatenate([np.random.RandomState(s).randn(1, G.config.z_dim) for s in band])
        zt = torch.from_numpy(z.astype(np.float32))
        images = [targets[1](z), images_to_uint8(G(zt, noise_mode="const"))]
        if truncation_psi is not None:
            images.append(images_to_uint8(G(zt, truncation_psi=truncation_psi, noise_mode="const")))
        for imgs in images:
            row = np.full((size, columns * size, 3), 255, np.uint8)
            row[:, :len(band) * size] = np.concatenate(list(imgs), axis=1)
            rows.append(row)
    label_w = 90
    sheet = np.full((len(rows) * size, label_w + columns * size, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        sheet[i * size:(i + 1) * size, label_w:] = row
        cv2.putText(sheet, labels[i % len(labels)], (4, i * size + size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
    for k, s in enumerate(seeds):
        band, col = divmod(k, columns)
        cv2.putText(sheet, f"seed {s}", (label_w + col * size + 3, band * len(labels) * size + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return sheet
