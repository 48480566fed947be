"""Upsample / FIR-filter / downsample of NCHW images, pure PyTorch (test-only).

Semantics follow stylegan2-ada-pytorch's reference (non-CUDA) path:
  1. insert ``up-1`` zeros after every input sample (per axis),
  2. pad with zeros (negative padding crops) -- padding is w.r.t. the upsampled image,
  3. convolve with the FIR filter (true convolution unless ``flip_filter``), keeping
     only outputs whose footprint lies fully inside the padded image,
  4. keep every ``down``-th sample.
A filter gain ``g`` is applied as ``f * g ** (f.ndim / 2)``.
"""

import torch
import torch.nn.functional as F


def _pair(value):
    if isinstance(value, int):
        return value, value
    sx, sy = value
    return int(sx), int(sy)


def _four(padding):
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    x0, x1, y0, y1 = padding
    return x0, x1, y0, y1


def filter_size(f):
    """(width, height) of a 1-D/2-D filter tensor; (1, 1) for None."""
    if f is None:
        return 1, 1
    return int(f.shape[-1]), int(f.shape[0])


def setup_filter(f, device=torch.device("cpu"), normalize=True, flip_filter=False, gain=1, separable=None):
    """Turn a list / array / tensor of taps into a float32 FIR filter tensor.

    A 1-D filter with fewer than 8 taps becomes the 2-D outer product unless
    ``separable`` says otherwise.  ``normalize`` makes the taps sum to one.
    """
    taps = torch.as_tensor(1 if f is None else f, dtype=torch.float32)
    if taps.ndim == 0:
        taps = taps.reshape(1)
    assert taps.ndim in (1, 2) and taps.numel() > 0
    if separable is None:
        separable = taps.ndim == 1 and taps.numel() >= 8
    if taps.ndim == 1 and not separable:
        taps = torch.outer(taps, taps)
    assert taps.ndim == (1 if separable else 2)
    if normalize:
        taps = taps / taps.sum()
    if flip_filter:
        taps = taps.flip(list(range(taps.ndim)))
    taps = taps * (gain ** (taps.ndim / 2))
    return taps.to(device=device)


def upfirdn2d(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1, impl="ref"):
    assert isinstance(x, torch.Tensor) and x.ndim == 4
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    assert f.ndim in (1, 2) and f.dtype == torch.float32
    n, c, h, w = x.shape
    upx, upy = _pair(up)
    dnx, dny = _pair(down)
    px0, px1, py0, py1 = _four(padding)

    # Zero insertion: view as [n, c, h, 1, w, 1] and pad the singleton axes.
    if upx > 1 or upy > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(n, c, h * upy, w * upx)

    # Zero padding for positive amounts, cropping for negative ones.
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]

    # FIR filter as a depthwise correlation with the (optionally) flipped taps.
    taps = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        taps = taps.flip(list(range(taps.ndim)))
    if taps.ndim == 2:
        kernel = taps[None, None].repeat(c, 1, 1, 1)
        x = F.conv2d(x, kernel, groups=c)
    else:
        kernel = taps[None, None].repeat(c, 1, 1)
        x = F.conv2d(x, kernel.unsqueeze(2), groups=c)
        x = F.conv2d(x, kernel.unsqueeze(3), groups=c)

    return x[:, :, ::dny, ::dnx]


def upsample2d(x, f, up=2, padding=0, flip_filter=False, gain=1, impl="ref"):
    """Upsample so that the output is exactly ``up`` times the input size."""
    upx, upy = _pair(up)
    px0, px1, py0, py1 = _four(padding)
    fw, fh = filter_size(f)
    pads = [
        px0 + (fw + upx - 1) // 2,
        px1 + (fw - upx) // 2,
        py0 + (fh + upy - 1) // 2,
        py1 + (fh - upy) // 2,
    ]
    return upfirdn2d(x, f, up=up, padding=pads, flip_filter=flip_filter, gain=gain * upx * upy)


def downsample2d(x, f, down=2, padding=0, flip_filter=False, gain=1, impl="ref"):
    """Downsample so that the output is exactly ``1/down`` of the input size."""
    dnx, dny = _pair(down)
    px0, px1, py0, py1 = _four(padding)
    fw, fh = filter_size(f)
    pads = [
        px0 + (fw - dnx + 1) // 2,
        px1 + (fw - dnx) // 2,
        py0 + (fh - dny + 1) // 2,
        py1 + (fh - dny) // 2,
    ]
    return upfirdn2d(x, f, down=down, padding=pads, flip_filter=flip_filter, gain=gain)


def filter2d(x, f, padding=0, flip_filter=False, gain=1, impl="ref"):
    """Same-size filtering."""
    px0, px1, py0, py1 = _four(padding)
    fw, fh = filter_size(f)
    pads = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=pads, flip_filter=flip_filter, gain=gain)

