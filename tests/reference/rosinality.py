"""Independent, test-only re-implementation of rosinality/stylegan2-pytorch's Generator.

Written for the Latent Emotion test-suite (see tests/reference/README.md); not copied
from the original project.  Module/attribute names are chosen so that
``Generator.state_dict()`` has exactly the keys and shapes of rosinality's
``model.Generator``; the maths follows the original's CPU code path (pure PyTorch
``upfirdn2d_native`` and the CPU branch of ``fused_leaky_relu``), with no custom ops.

Facts this relies on (from rosinality's model.py / op/*.py):
* PixelNorm: x * rsqrt(mean(x**2, dim=1) + 1e-8).
* EqualLinear: weight stored as randn/lr_mul, used as weight * (lr_mul / sqrt(in));
  bias used as bias * lr_mul; with activation: leaky_relu(x + b, 0.2) * sqrt(2).
* ModulatedConv2d: weight [1, out, in, k, k]; w = (1/sqrt(in*k*k)) * weight * style;
  demodulation rsqrt(sum(w**2 over in,k,k) + 1e-8); upsampling = grouped
  conv_transpose2d(stride 2, padding 0) followed by Blur(kernel*4, pad=(1, 1)) for
  the default [1,3,3,1] kernel and k=3.
* NoiseInjection: x + weight * noise (weight shape [1]); FusedLeakyReLU adds a
  per-channel bias, applies leaky_relu(0.2) and multiplies by sqrt(2).
* ToRGB: modulated 1x1 conv without demodulation, + bias [1,3,1,1], + Upsample(skip)
  with kernel*4 and pad=(2, 1).
* Channel table: 4..32 -> 512, 64 -> 256*cm, 128 -> 128*cm, 256 -> 64*cm,
  512 -> 32*cm, 1024 -> 16*cm.  noises.noise_i has shape [1, 1, 2**((i+5)//2)]*2.
"""

import math
import random

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "PixelNorm", "make_kernel", "upfirdn2d", "Upsample", "Blur", "EqualLinear", "FusedLeakyReLU",
    "fused_leaky_relu", "ModulatedConv2d", "NoiseInjection", "ConstantInput", "StyledConv", "ToRGB",
    "Generator", "channel_table",
]


def make_kernel(k):
    """2-D FIR kernel from taps, normalised to sum 1 (outer product for 1-D taps)."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Zero-insertion upsample, pad (negative = crop), true convolution with ``kernel``,
    then subsample.  ``pad`` is (before, after), used for both axes."""
    p0, p1 = pad
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    y = x.reshape(n * c, 1, h, 1, w, 1)
    y = F.pad(y, [0, up - 1, 0, 0, 0, up - 1])
    y = y.reshape(n * c, 1, h * up, w * up)
    y = F.pad(y, [max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    y = y[:, :, max(-p0, 0): y.shape[2] - max(-p1, 0), max(-p0, 0): y.shape[3] - max(-p1, 0)]
    y = F.conv2d(y, torch.flip(kernel, [0, 1]).reshape(1, 1, kh, kw))
    y = y[:, :, ::down, ::down]
    return y.reshape(n, c, y.shape[2], y.shape[3])


def fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=2 ** 0.5):
    # Mirrors the original's CPU branch, which always uses slope 0.2.
    if bias is not None:
        x = x + bias.view(1, bias.shape[0], *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope=0.2) * scale


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class Upsample(nn.Module):
    def __init__(self, kernel, factor=2):
        super().__init__()
        self.factor = factor
        taps = make_kernel(kernel) * (factor ** 2)
        self.register_buffer("kernel", taps)
        extra = taps.shape[0] - factor
        self.pad = ((extra + 1) // 2 + factor - 1, extra // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, down=1, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        taps = make_kernel(kernel)
        if upsample_factor > 1:
            taps = taps * (upsample_factor ** 2)
        self.register_buffer("kernel", taps)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0, lr_mul=1, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)


class FusedLeakyReLU(nn.Module):
    def __init__(self, channel, bias=True, negative_slope=0.2, scale=2 ** 0.5):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel)) if bias else None
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x):
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


class ModulatedConv2d(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True, upsample=False,
                 downsample=False, blur_kernel=[1, 3, 3, 1], fused=True):
        super().__init__()
        self.eps = 1e-8
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        self.downsample = downsample
        taps = len(blur_kernel)
        if upsample:
            extra = (taps - 2) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((extra + 1) // 2 + 1, extra // 2 + 1), upsample_factor=2)
        if downsample:
            extra = (taps - 2) + (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((extra + 1) // 2, extra // 2))
        self.scale = 1 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate
        self.fused = fused

    def forward(self, x, style):
        n, cin, h, w = x.shape
        k = self.kernel_size
        if not self.fused:
            kernel = self.scale * self.weight.squeeze(0)
            s = self.modulation(style)
            if self.demodulate:
                dcoefs = ((kernel.unsqueeze(0) * s.view(n, 1, cin, 1, 1)).square().sum((2, 3, 4)) + 1e-8).rsqrt()
            x = x * s.reshape(n, cin, 1, 1)
            if self.upsample:
                out = self.blur(F.conv_transpose2d(x, kernel.transpose(0, 1), padding=0, stride=2))
            elif self.downsample:
                out = F.conv2d(self.blur(x), kernel, padding=0, stride=2)
            else:
                out = F.conv2d(x, kernel, padding=self.padding)
            if self.demodulate:
                out = out * dcoefs.view(n, -1, 1, 1)
            return out

        s = self.modulation(style).view(n, 1, cin, 1, 1)
        kernel = self.scale * self.weight * s                                   # [n, out, in, k, k]
        if self.demodulate:
            kernel = kernel * torch.rsqrt(kernel.pow(2).sum([2, 3, 4]) + 1e-8).view(n, self.out_channel, 1, 1, 1)
        if self.upsample:
            kernel = kernel.transpose(1, 2).reshape(n * cin, self.out_channel, k, k)
            out = F.conv_transpose2d(x.reshape(1, n * cin, h, w), kernel, padding=0, stride=2, groups=n)
            out = self.blur(out.reshape(n, self.out_channel, out.shape[2], out.shape[3]))
            return out
        kernel = kernel.reshape(n * self.out_channel, cin, k, k)
        if self.downsample:
            x = self.blur(x)
            out = F.conv2d(x.reshape(1, n * cin, x.shape[2], x.shape[3]), kernel, padding=0, stride=2, groups=n)
        else:
            out = F.conv2d(x.reshape(1, n * cin, h, w), kernel, padding=self.padding, groups=n)
        return out.reshape(n, self.out_channel, out.shape[2], out.shape[3])


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise=None):
        if noise is None:
            n, _, h, w = image.shape
            noise = image.new_empty(n, 1, h, w).normal_()
        return image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, latent):
        return self.input.repeat(latent.shape[0], 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False, blur_kernel=[1, 3, 3, 1],
                 demodulate=True):
        super().__init__()
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel, demodulate=demodulate)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def forward(self, x, style, noise=None):
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Module):
    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=[1, 3, 3, 1]):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


def channel_table(channel_multiplier=2, channel_max=None):
    """rosinality's resolution -> channels table.  ``channel_max`` is a test-speed
    extension (not in the original): it caps every entry; None keeps the table."""
    table = {
        4: 512, 8: 512, 16: 512, 32: 512,
        64: 256 * channel_multiplier, 128: 128 * channel_multiplier, 256: 64 * channel_multiplier,
        512: 32 * channel_multiplier, 1024: 16 * channel_multiplier,
    }
    if channel_max is not None:
        table = {res: min(ch, channel_max) for res, ch in table.items()}
    return table


class Generator(nn.Module):
    def __init__(self, size, style_dim, n_mlp, channel_multiplier=2, blur_kernel=[1, 3, 3, 1], lr_mlp=0.01,
                 channel_max=None):
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu") for _ in range(n_mlp)])
        self.channels = channel_table(channel_multiplier, channel_max)

        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)

        self.log_size = int(math.log(size, 2))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs = nn.ModuleList()
        self.upsamples = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for idx in range(self.num_layers):
            side = 2 ** ((idx + 5) // 2)
            self.noises.register_buffer(f"noise_{idx}", torch.randn(1, 1, side, side))

        in_channel = self.channels[4]
        for level in range(3, self.log_size + 1):
            out_channel = self.channels[2 ** level]
            self.convs.append(StyledConv(in_channel, out_channel, 3, style_dim, upsample=True,
                                         blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            in_channel = out_channel
        self.n_latent = self.log_size * 2 - 2

    def make_noise(self):
        device = self.input.input.device
        noises = [torch.randn(1, 1, 4, 4, device=device)]
        for level in range(3, self.log_size + 1):
            noises += [torch.randn(1, 1, 2 ** level, 2 ** level, device=device) for _ in range(2)]
        return noises

    def mean_latent(self, n_latent):
        z = torch.randn(n_latent, self.style_dim, device=self.input.input.device)
        return self.style(z).mean(0, keepdim=True)

    def get_latent(self, x):
        return self.style(x)

    def forward(self, styles, return_latents=False, inject_index=None, truncation=1, truncation_latent=None,
                input_is_latent=False, noise=None, randomize_noise=True):
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            if randomize_noise:
                noise = [None] * self.num_layers
            else:
                noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        if truncation < 1:
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]

        if len(styles) < 2:
            inject_index = self.n_latent
            latent = styles[0] if styles[0].ndim >= 3 else styles[0].unsqueeze(1).repeat(1, inject_index, 1)
        else:
            if inject_index is None:
                inject_index = random.randint(1, self.n_latent - 1)
            first = styles[0].unsqueeze(1).repeat(1, inject_index, 1)
            second = styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)
            latent = torch.cat([first, second], 1)

        out = self.conv1(self.input(latent), latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for up_conv, conv, noise_a, noise_b, to_rgb in zip(self.convs[::2], self.convs[1::2], noise[1::2],
                                                           noise[2::2], self.to_rgbs):
            out = up_conv(out, latent[:, i], noise=noise_a)
            out = conv(out, latent[:, i + 1], noise=noise_b)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2

        if return_latents:
            return skip, latent
        return skip, None
