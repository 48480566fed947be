"""fer's FER2013 mini-Xception (64x64 grey -> 7 emotions): the independent expression evaluator.

Only ever used to measure, never to make anything. Input preprocessing is fer's:
``x = (grey / 255 - 0.5) * 2``. Class order differs from face-api's: see ``FER_LABELS``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import SeparableConv, checked_image_batch, max_pool_same, pad_same
from .weights import load_network

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_SIZE = 64
_BN_EPS = 1e-3  # Keras' default


class BatchNorm(nn.Module):
    """Keras BatchNormalization at inference (moving statistics)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, _BN_EPS)


class ConvBN(nn.Module):
    """A bias-free conv (plain, valid padding) or separable conv (same padding), then batch norm."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, separable: bool = False, stride: int = 1):
        super().__init__()
        self.conv = (SeparableConv(channels_in, channels_out, bias=False) if separable
                     else nn.Conv2d(channels_in, channels_out, kernel, stride, bias=False))
        self.bn = BatchNorm(channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class XceptionBlock(nn.Module):
    """Two separable convs and a same-padded 3x3/2 max-pool, plus a strided 1x1 skip."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.sep1 = ConvBN(channels_in, channels_out, 3, separable=True)
        self.sep2 = ConvBN(channels_out, channels_out, 3, separable=True)
        # a 1x1/2 conv needs no padding for TF's 'same' at any size: it reads pixels 0, 2, 4...
        self.skip = ConvBN(channels_in, channels_out, 1, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.sep2(F.relu(self.sep1(x)))
        return max_pool_same(y, 3, 2) + self.skip(x)


class MiniXception(nn.Module):
    """fer's emotion net: ``[N, 1, 64, 64]`` preprocessed grey -> ``[N, 7]`` logits (pre-softmax)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), classes: int = len(FER_LABELS)):
        super().__init__()
        self.stem1 = ConvBN(1, 8, 3)
        self.stem2 = ConvBN(8, 8, 3)
        chans = (8, *widths)
        self.blocks = nn.ModuleList(XceptionBlock(a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.head = nn.Conv2d(widths[-1], classes, 3)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The four Xception blocks' outputs ``[N, C, h, w]`` (30, 15, 8 and 4 px for a 64 px input)."""
        x = checked_image_batch(x, FER_SIZE, 1, "the fer emotion net")
        x = F.relu(self.stem2(F.relu(self.stem1(x))))
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(pad_same(self.features(x)[-1], 3, 1)).mean(dim=(2, 3))


def fer_input(grey_u8: torch.Tensor) -> torch.Tensor:
    """fer's preprocessing: uint8 grey ``[N, 64, 64]`` (or ``[64, 64]``) -> ``[N, 1, 64, 64]`` in [-1, 1]."""
    if grey_u8.ndim == 2:
        grey_u8 = grey_u8[None]
    return ((grey_u8.float() / 255.0) - 0.5)[:, None] * 2.0


def load_fer() -> MiniXception:
    """The mini-Xception with fer 25.10.3's converted weights, in eval mode."""
    return load_network(MiniXception(), "fer_emotion")
