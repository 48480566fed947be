"""face-api's face recognition net (150x150 RGB face -> 128-D descriptor), a ResNet-34-like net.

Every conv is followed by a per-channel scale layer; downsampling blocks add an average-pooled,
zero-padded (channels, and a row/column where sizes disagree) copy of their input. face-api
compares raw descriptors by Euclidean distance (match below 0.6); ``identity_embedding``
also unit-normalises them for cosine distances.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import checked_image_batch
from .weights import load_network

IDENTITY_SIZE = 150
IDENTITY_DIM = 128


class Scale(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class ConvScale(nn.Module):
    """Conv (3x3 same-padded at stride 1, or unpadded at stride 2) and a scale layer."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(channels_in, channels_out, kernel)
        self.scale = Scale(channels_out)

    def forward(self, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
        pad = self.conv.kernel_size[0] // 2 if stride == 1 else 0
        return self.scale(F.conv2d(x, self.conv.weight, self.conv.bias, stride=stride, padding=pad))


class Residual(nn.Module):
    """Two 3x3 conv+scale layers and an identity skip; ``down`` halves the size (stride-2 first
    conv, unpadded) and the skip becomes a 2x2 average pool padded with zeros to fit."""

    def __init__(self, channels_in: int, channels_out: int, down: bool = False):
        super().__init__()
        self.down = down
        self.conv1 = ConvScale(channels_in, channels_out)
        self.conv2 = ConvScale(channels_out, channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x, 2 if self.down else 1)))
        if self.down:
            x = F.avg_pool2d(x, 2, 2)
            # the strided unpadded conv can come out a pixel smaller than the pool: pad it after
            out = F.pad(out, (0, x.shape[3] - out.shape[3], 0, x.shape[2] - out.shape[2]))
            x = F.pad(x, (0, 0, 0, 0, 0, out.shape[1] - x.shape[1]))
        return F.relu(out + x)


_STAGES = (  # (name, channels_in, channels_out, down)
    ("conv32_1", 32, 32, False), ("conv32_2", 32, 32, False), ("conv32_3", 32, 32, False),
    ("conv64_down", 32, 64, True), ("conv64_1", 64, 64, False), ("conv64_2", 64, 64, False),
    ("conv64_3", 64, 64, False),
    ("conv128_down", 64, 128, True), ("conv128_1", 128, 128, False), ("conv128_2", 128, 128, False),
    ("conv256_down", 128, 256, True), ("conv256_1", 256, 256, False), ("conv256_2", 256, 256, False),
    ("conv256_down_out", 256, 256, True),
)


class RecognitionNet(nn.Module):
    """``[N, 3, 150, 150]`` RGB preprocessed as for face-api's other nets (``faceapi_input``) ->
    ``[N, 128]`` raw descriptors."""

    def __init__(self):
        super().__init__()
        self.conv32_down = ConvScale(3, 32, 7)
        for name, a, b, down in _STAGES:
            self.add_module(name, Residual(a, b, down))
        self.fc = nn.Linear(256, IDENTITY_DIM, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = checked_image_batch(x, IDENTITY_SIZE, 3, "face-api's recognition net")
        x = F.max_pool2d(F.relu(self.conv32_down(x, 2)), 3, 2)
        for name, *_ in _STAGES:
            x = getattr(self, name)(x)
        return self.fc(x.mean(dim=(2, 3)))


def load_recognition_net() -> RecognitionNet:
    """face-api 1.7.15's recognition net with its converted weights, in eval mode."""
    return load_network(RecognitionNet(), "faceapi_recognition")


def identity_embedding(net: RecognitionNet, x: torch.Tensor) -> torch.Tensor:
    """Unit-length descriptors of preprocessed ``[N, 3, 150, 150]`` faces."""
    return F.normalize(net(x), dim=1)

