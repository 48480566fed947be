"""face-api's 68-point landmark net (112x112 RGB face -> iBUG 68 points)."""

from __future__ import annotations

import torch

from .densenet import DenseHeadNet
from .weights import load_network

LANDMARK_COUNT = 68
# iBUG/300-W 68-point scheme: index ranges of the parts (image-left eye first)
JAW, BROWS, NOSE = range(0, 17), range(17, 27), range(27, 36)
LEFT_EYE, RIGHT_EYE, MOUTH = range(36, 42), range(42, 48), range(48, 68)


def load_landmark_net() -> DenseHeadNet:
    """face-api 1.7.15's landmark net: ``faceapi_input`` images -> ``[N, 136]`` raw output,
    x0, y0, x1, y1... in units of the input side (``landmark_points`` makes ``[N, 68, 2]``)."""
    return load_network(DenseHeadNet(2 * LANDMARK_COUNT), "faceapi_landmark68")


def landmark_points(raw: torch.Tensor, size: float = 1.0) -> torch.Tensor:
    """``[N, 136]`` raw net output -> ``[N, 68, 2]`` (x, y) points, scaled by ``size`` (pixels of a
    square input of that side)."""
    return raw.reshape(raw.shape[0], LANDMARK_COUNT, 2) * size
