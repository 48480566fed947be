"""Tensor operations of StyleGAN2, as pure functions.

They follow the maths of NVIDIA's reference (non-CUDA) implementations in stylegan2-ada-pytorch
(upfirdn2d, bias_act, conv2d_resample, modulated_conv2d) so that weights trained with that code
give the same images here. Padding is given as (x0, x1, y0, y1), as there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

_ACTIVATION_GAINS = {"linear": 1.0, "relu": math.sqrt(2.0), "lrelu": math.sqrt(2.0)}


def activation_gain(activation: str) -> float:
    """The gain that keeps activations at unit variance, as StyleGAN2 applies it."""
    try:
        return _ACTIVATION_GAINS[activation]
    except KeyError:
        raise ValueError(f"unsupported activation {activation!r}; expected one of {sorted(_ACTIVATION_GAINS)}") from None


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """2-D FIR filter (outer product of the taps) normalised to unit sum."""
    f = torch.as_tensor(list(taps), dtype=torch.float32)
    if f.ndim != 1 or f.numel() == 0:
        raise ValueError("filter taps must be a non-empty 1-D sequence")
    f = torch.outer(f, f)
    return f / f.sum()


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    activation: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
    inplace: bool = False,
) -> torch.Tensor:
    """Add bias (along dim 1), activate, scale by gain, clamp: in that order.

    ``inplace``: x is the caller's fresh output, free to overwrite (outside autograd); a 1024 px
    layer's output is 128 MB, and each temporary of that size costs as much as the arithmetic.
    """
    default_gain = activation_gain(activation)  # also rejects unknown activations
    gain = default_gain if gain is None else gain
    # After the bias add x is a fresh tensor: outside autograd, update it in place.
    fresh = (inplace or b is not None) and _owned(x)
    if b is not None:
        b = b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
        x = x.add_(b) if inplace and fresh else x + b
    if activation == "lrelu":
        x = F.leaky_relu(x, 0.2, inplace=fresh)
    elif activation == "relu":
        x = F.relu(x, inplace=fresh)
    if gain != 1:
        x = x.mul_(gain) if fresh else x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if fresh else x.clamp(-clamp, clamp)
    return x


def _owned(x: torch.Tensor) -> bool:
    """True where in-place updates are safe: no autograd graph records x."""
    return not (torch.is_grad_enabled() and x.requires_grad)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 1,
    down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative crops), convolve with ``f``, downsample."""
    batch, channels, height, width = x.shape
    px0, px1, py0, py1 = padding
    # A true convolution: conv2d correlates, so flip the filter.
    f = (f * gain ** (f.ndim / 2)).to(x.dtype).flip([0, 1])
    f = f[None, None].expand(channels, 1, *f.shape)
    if up == 1 and px0 == px1 >= 0 and py0 == py1 >= 0:
        # Even zero padding is conv2d's own: no padded copy of x (the same sums, the same bits).
        x = F.conv2d(x, f, padding=(py0, px0), groups=channels)
        return x[:, :, ::down, ::down]
    if up > 1:
        # Zero insertion and the positive padding in one buffer, written once.
        out = x.new_zeros(batch, channels, height * up + max(py0, 0) + max(py1, 0),
                          width * up + max(px0, 0) + max(px1, 0))
        out[:, :, max(py0, 0):max(py0, 0) + height * up:up, max(px0, 0):max(px0, 0) + width * up:up] = x
        x = out
    else:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    x = F.conv2d(x, f, groups=channels)
    return x[:, :, ::down, ::down]


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample by ``up`` keeping the image centred (StyleGAN2's skip-image upsampling)."""
    fw = f.shape[-1]
    p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
) -> torch.Tensor:
    """2-D convolution with optional 2x up/down-sampling through the FIR filter ``f``.

    ``flip_weight=True`` means conv2d's correlation; False a true convolution. The cases are
    those StyleGAN2 networks use: plain, upsampling (transposed conv then filter), and
    downsampling (filter then strided conv), each with 1x1 shortcuts as in NVIDIA's code.
    """
    out_channels, in_per_group, kh, kw = w.shape
    if up not in (1, 2) or down not in (1, 2) or (up > 1 and down > 1):
        raise ValueError(f"unsupported resampling up={up} down={down}")
    if (up > 1 or down > 1) and f is None:
        raise ValueError("resampling needs a filter")
    pad = [padding] * 4  # x0, x1, y0, y1
    if up > 1:
        fw = f.shape[-1]
        pad = [pad[0] + (fw + up - 1) // 2, pad[1] + (fw - up) // 2, pad[2] + (fw + up - 1) // 2, pad[3] + (fw - up) // 2]
    if down > 1:
        fw = f.shape[-1]
        pad = [pad[0] + (fw - down + 1) // 2, pad[1] + (fw - down) // 2, pad[2] + (fw - down + 1) // 2, pad[3] + (fw - down) // 2]

    def conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1, pad_xy: int = 0, flip: bool = flip_weight) -> torch.Tensor:
        w = w if flip else w.flip([2, 3])
        return F.conv2d(x, w.to(x.dtype), stride=stride, padding=pad_xy, groups=groups)

    if kh == 1 and kw == 1 and down > 1:
        x = upfirdn2d(x, f, padding=pad)
        return conv(x, w)
    if kh == 1 and kw == 1 and up > 1:
        x = conv(x, w)
        return upfirdn2d(x, f, up=up, padding=pad, gain=up * up)
    if down > 1:
        x = upfirdn2d(x, f, padding=pad)
        return conv(x, w, stride=down)
    if up > 1:
        # Transposed convolution: per group, swap in/out channels.
        wt = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        wt = wt.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0, px1 = pad[0] - (kw - 1), pad[1] - (kw - up)
        py0, py1 = pad[2] - (kh - 1), pad[3] - (kh - up)
        pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
        # conv_transpose2d is the adjoint of correlation, i.e. a true convolution: flip when
        # the caller asked for correlation.
        wt = wt.flip([2, 3]) if flip_weight else wt
        x = F.conv_transpose2d(x, wt.to(x.dtype), stride=up, padding=[pyt, pxt], groups=groups)
        return upfirdn2d(x, f, padding=(px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt), gain=up * up)
    if pad[0] == pad[1] == pad[2] == pad[3] and pad[0] >= 0:
        return conv(x, w, pad_xy=pad[0])
    return conv(upfirdn2d(x, torch.ones(1, 1, device=x.device), padding=pad), w)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused: bool = True,
) -> torch.Tensor:
    """StyleGAN2's modulated (and demodulated) convolution, Karras et al. 2020 eq. 1-3.

    ``fused`` runs the batch as one grouped convolution with per-sample weights; otherwise
    the input is scaled by the styles and the output by the demodulation coefficients.
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if styles.shape != (batch, in_channels):
        raise ValueError(f"styles must have shape {(batch, in_channels)}, got {tuple(styles.shape)}")
    # In fp16 the products below overflow without this pre-scaling; demodulation undoes it.
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (1 / math.sqrt(in_channels * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    if not fused:
        dcoefs = None
        if demodulate:
            # sum_{i,k} (W_oik s_i)^2 = sum_i s_i^2 sum_k W_oik^2, without a per-sample weight.
            dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, weight.to(x.dtype), f=resample_filter, up=up, padding=padding, flip_weight=flip_weight)
        if dcoefs is not None:
            dcoefs = dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
            x = x.mul_(dcoefs) if _owned(x) else x * dcoefs
        return x.add_(noise.to(x.dtype)) if noise is not None else x

    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(batch, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = conv2d_resample(x, w.to(x.dtype), f=resample_filter, up=up, padding=padding, groups=batch, flip_weight=flip_weight)
    x = x.reshape(batch, -1, *x.shape[2:])
    # The convolution's output is ours, and addition needs no saved inputs: in place is safe.
    return x.add_(noise.to(x.dtype)) if noise is not None else x
