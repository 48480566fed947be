"""face-api's 112x112 feature extractor (four densely connected blocks of separable convs), shared
by its 68-landmark net and its expression net, and the preprocessing they both apply."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import SeparableConv, checked_image_batch, pad_same

FACEAPI_SIZE = 112
# face-api's per-channel mean (R, G, B); no std, then / 255
FACEAPI_MEAN_RGB = (122.782, 117.001, 104.298)


def faceapi_input(rgb_u8: torch.Tensor) -> torch.Tensor:
    """face-api's preprocessing: uint8 RGB ``[N, H, W, 3]`` (or ``[H, W, 3]``) -> ``[N, 3, H, W]``."""
    if rgb_u8.ndim == 3:
        rgb_u8 = rgb_u8[None]
    mean = torch.tensor(FACEAPI_MEAN_RGB, dtype=torch.float32, device=rgb_u8.device)
    return ((rgb_u8.float() - mean) / 255.0).permute(0, 3, 1, 2).contiguous()


class FirstConv(nn.Module):
    """The plain 3x3/2 conv that opens the first block."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels_out, channels_in, 3, 3))
        self.bias = nn.Parameter(torch.zeros(channels_out))

    def forward(self, x: torch.Tensor, stride: int = 2) -> torch.Tensor:
        return F.conv2d(pad_same(x, 3, stride), self.weight, self.bias, stride=stride)


class DenseBlock(nn.Module):
    """Four convs, the first halving the size; each later conv sees the ReLU of the sum of all
    earlier outputs, and the block returns the ReLU of the sum of all four."""

    def __init__(self, channels_in: int, channels_out: int, first: bool = False):
        super().__init__()
        self.conv0: nn.Module = FirstConv(channels_in, channels_out) if first else SeparableConv(channels_in, channels_out)
        self.conv1 = SeparableConv(channels_out, channels_out)
        self.conv2 = SeparableConv(channels_out, channels_out)
        self.conv3 = SeparableConv(channels_out, channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = F.relu(self.conv0(x, 2))
        for conv in (self.conv1, self.conv2, self.conv3):
            total = total + conv(F.relu(total) if conv is not self.conv1 else total)
        return F.relu(total)


class DenseFeatures(nn.Module):
    """``[N, 3, 112, 112]`` preprocessed RGB -> ``[N, 256]`` features (7x7 average pool at the end)."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        chans = (3, *widths)
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
            self.add_module(f"dense{i}", DenseBlock(a, b, first=i == 0))
        self.blocks = len(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = checked_image_batch(x, FACEAPI_SIZE, 3, "face-api's feature extractor")
        for i in range(self.blocks):
            x = getattr(self, f"dense{i}")(x)
        return F.avg_pool2d(x, 7, 2).flatten(1)


class DenseHeadNet(DenseFeatures):
    """The features then one fully connected layer: face-api's landmark net (136 outputs) and
    expression net (7 logits) differ only in that layer and its meaning."""

    def __init__(self, outputs: int, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__(widths)
        self.fc = nn.Linear(widths[-1], outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(super().forward(x))
