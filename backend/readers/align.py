"""FFHQ-style face alignment: the eye/mouth quad of Karras et al. 2019 ("A Style-Based Generator
Architecture for GANs", FFHQ dataset recipe), warped to a square crop of any size.

The recipe, from the two eye centres and two mouth corners: ``e`` = eye-to-eye vector, ``m`` = eye
midpoint to mouth midpoint; the crop's x axis is ``e - rot90(m)`` normalised to half-side
``max(2|e|, 1.8|m|)``, its y axis that rotated by 90 degrees, and its centre ``eye_mid + 0.1 m``.
Point coordinates are pixel indices (pixel centres on integers), as the detectors give them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

FFHQ_SIZE = 1024


@dataclass(frozen=True)
class FacePoints:
    """The four points the recipe needs, (x, y) in image pixels; left/right as seen in the image."""

    eye_left: tuple[float, float]
    eye_right: tuple[float, float]
    mouth_left: tuple[float, float]
    mouth_right: tuple[float, float]

    @classmethod
    def from_five(cls, points) -> FacePoints:
        """From MTCNN's 5 points (eyes, nose, mouth corners)."""
        p = _points_array(points, 5)
        return cls(tuple(p[0]), tuple(p[1]), tuple(p[3]), tuple(p[4]))

    @classmethod
    def from_68(cls, points) -> FacePoints:
        """From the iBUG 68 points: eye centres are the means of the eye contours, as FFHQ's are."""
        p = _points_array(points, 68)
        return cls(tuple(p[36:42].mean(0)), tuple(p[42:48].mean(0)), tuple(p[48]), tuple(p[54]))


def _points_array(points, count: int) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.shape != (count, 2) or not np.isfinite(p).all():
        raise ValueError(f"expected {count} finite (x, y) points, got an array of shape {list(p.shape)}")
    return p


def ffhq_quad(points: FacePoints) -> np.ndarray:
    """The recipe's crop square as ``[4, 2]`` corners: top-left, bottom-left, bottom-right, top-right."""
    eye_l, eye_r = np.array(points.eye_left), np.array(points.eye_right)
    mouth_l, mouth_r = np.array(points.mouth_left), np.array(points.mouth_right)
    eye_mid = (eye_l + eye_r) / 2
    eye_to_eye = eye_r - eye_l
    eye_to_mouth = (mouth_l + mouth_r) / 2 - eye_mid
    x = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])  # e - rot90(m)
    norm = math.hypot(*x)
    half = max(math.hypot(*eye_to_eye) * 2.0, math.hypot(*eye_to_mouth) * 1.8)
    if norm == 0 or half == 0:
        raise ValueError("the eye and mouth points coincide: no face to align")
    x = x / norm * half
    y = np.array([-x[1], x[0]])
    c = eye_mid + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


@dataclass(frozen=True)
class AlignedFace:
    """An aligned square crop and the map from image pixels to crop pixels."""

    image: np.ndarray  # [size, size, C] uint8
    quad: np.ndarray  # [4, 2] the crop's corners in the source image
    to_crop: np.ndarray  # [2, 3] affine: crop_xy = to_crop @ (x, y, 1)

    def map_points(self, points) -> np.ndarray:
        """Image points ``[N, 2]`` -> where they fall in the crop."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return p @ self.to_crop[:, :2].T + self.to_crop[:, 2]


def align_face(image: np.ndarray, points: FacePoints, size: int = FFHQ_SIZE) -> AlignedFace:
    """The FFHQ crop of ``image`` (uint8 ``[H, W, C]``) as ``size`` x ``size``; outside the image is
    filled by reflection. A quad much larger than ``size`` is sampled at up to 4x and box-averaged,
    so the crop does not alias."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"the crop size must be a positive integer, got {size!r}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ValueError(f"align_face takes a uint8 [H, W] or [H, W, C] image, got {image.dtype} {list(image.shape)}")
    quad = ffhq_quad(points)
    side = math.hypot(*(quad[3] - quad[0]))
    supersample = int(min(4, max(1, math.ceil(side / size))))
    work = size * supersample
    u, v = (quad[3] - quad[0]) / work, (quad[1] - quad[0]) / work
    # work pixel (j, i) has its centre at (j + 0.5, i + 0.5) of the quad's own frame
    from_work = np.array([[u[0], v[0], quad[0][0] + 0.5 * (u[0] + v[0])],
                          [u[1], v[1], quad[0][1] + 0.5 * (u[1] + v[1])]])
    out = _warp(image, from_work, work, supersample)
    to_crop = np.linalg.inv(np.vstack([from_work, [0, 0, 1]]))[:2] / supersample
    to_crop[:, 2] += 0.5 / supersample - 0.5  # work pixel centre j -> crop pixel centre (j + 0.5) / s - 0.5
    return AlignedFace(out, quad, to_crop)


def _warp(image: np.ndarray, from_work: np.ndarray, work: int, supersample: int) -> np.ndarray:
    """Bilinear samples at ``from_work @ (j, i, 1)`` for a ``work``-pixel square, reflected at the
    borders, then box-averaged by ``supersample``. Float maths throughout (no fixed-point
    coordinates), so the warp of a mirrored image is the mirrored warp."""
    h, w = image.shape[:2]
    t = torch.from_numpy(np.ascontiguousarray(image)).float()
    t = (t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None])
    idx = torch.arange(work, dtype=torch.float64)
    jj, ii = idx[None, :].expand(work, work), idx[:, None].expand(work, work)
    m = torch.from_numpy(from_work)
    gx = m[0, 0] * jj + m[0, 1] * ii + m[0, 2]
    gy = m[1, 0] * jj + m[1, 1] * ii + m[1, 2]
    grid = torch.stack([(2 * gx + 1) / w - 1, (2 * gy + 1) / h - 1], dim=-1)[None].float()
    out = F.grid_sample(t, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if supersample > 1:
        out = F.avg_pool2d(out, supersample)
    out = out[0].round().clamp(0, 255).to(torch.uint8)
    return out[0].numpy() if image.ndim == 2 else out.permute(1, 2, 0).numpy()
