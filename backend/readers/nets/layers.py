"""Small layers shared by the ported readers: TensorFlow's ``'same'`` padding and separable convs.

TF pads ``'same'`` asymmetrically: the total padding ``max((out - 1) * stride + k - size, 0)`` with
``out = ceil(size / stride)`` goes half before and the odd pixel after, which PyTorch's symmetric
``padding=`` cannot express; the ports pad explicitly with ``pad_same`` instead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Pad an NCHW tensor as TF's ``'same'`` does for a square ``kernel`` at ``stride``."""
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad lists the last dim first
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def max_pool_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TF max-pool with ``'same'`` padding (padded pixels never win)."""
    return F.max_pool2d(pad_same(x, kernel, stride, float("-inf")), kernel, stride)


class SeparableConv(nn.Module):
    """Depthwise 3x3 then pointwise 1x1 conv, TF ``'same'`` padding, optional bias after both."""

    def __init__(self, channels_in: int, channels_out: int, bias: bool = True, kernel: int = 3):
        super().__init__()
        self.kernel = kernel
        self.depthwise = nn.Parameter(torch.zeros(channels_in, 1, kernel, kernel))
        self.pointwise = nn.Parameter(torch.zeros(channels_out, channels_in, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels_out)) if bias else None

    def forward(self, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
        x = F.conv2d(pad_same(x, self.kernel, stride), self.depthwise, stride=stride, groups=x.shape[1])
        return F.conv2d(x, self.pointwise, self.bias)


def checked_image_batch(x: torch.Tensor, size: int, channels: int, what: str) -> torch.Tensor:
    """``x`` as float NCHW, refusing anything but ``[N, channels, size, size]``."""
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(f"{what} takes [N, {channels}, {size}, {size}] images, got {list(x.shape)}")
    return x.float()
