"""2-D convolution combined with FIR up/down-sampling, pure PyTorch (test-only).

``padding`` is expressed with respect to the upsampled image and is applied once.
The padding bookkeeping and the choice of execution path follow
stylegan2-ada-pytorch so that results agree to float rounding:

* up > 1: the filter padding adds ((fw+up-1)//2, (fw-up)//2) per axis;
* down > 1: it adds ((fw-down+1)//2, (fw-down)//2);
* 1x1 kernel + down only: FIR-downsample, then convolve;
* 1x1 kernel + up only:   convolve, then FIR-upsample (gain up**2);
* down only:              FIR filter, then strided convolution;
* up (3x3 etc.):          stride-``up`` transposed convolution followed by the FIR
                          filter with the remaining padding (gain up**2);
* plain:                  ordinary convolution with symmetric padding.
"""

import torch
import torch.nn.functional as F

from . import upfirdn2d as _fir


def _conv(x, w, stride=1, padding=0, groups=1, transpose=False, flip_weight=True):
    """conv2d (correlation) or conv_transpose2d; ``flip_weight=False`` means a true
    convolution, i.e. the kernel is flipped spatially first."""
    if not flip_weight:
        w = w.flip([2, 3])
    out_ch, in_per_group, kh, kw = w.shape
    if (kh == 1 and kw == 1 and stride == 1 and not transpose
            and padding in (0, [0, 0], (0, 0)) and x.stride()[1] == 1
            and min(out_ch, in_per_group) < 64):
        # channels_last input with a small 1x1 kernel (the original works around a
        # cuDNN slowdown here); the result is the same convolution.
        if out_ch <= 4 and groups == 1:
            n, _, h, wd = x.shape
            y = w.squeeze(3).squeeze(2) @ x.reshape(n, in_per_group, -1)
            y = y.reshape(n, out_ch, h, wd)
        else:
            y = F.conv2d(x.contiguous(), w.contiguous(), groups=groups)
        return y.to(memory_format=torch.channels_last)
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True, flip_filter=False):
    assert x.ndim == 4 and w.ndim == 4 and w.dtype == x.dtype
    assert f is None or (f.ndim in (1, 2) and f.dtype == torch.float32)
    assert isinstance(up, int) and up >= 1 and isinstance(down, int) and down >= 1
    out_ch, in_per_group, kh, kw = [int(s) for s in w.shape]
    fw, fh = _fir.filter_size(f)
    px0, px1, py0, py1 = _fir._four(padding)

    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2

    pointwise = kw == 1 and kh == 1
    if pointwise and down > 1 and up == 1:
        x = _fir.upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, groups=groups, flip_weight=flip_weight)

    if pointwise and up > 1 and down == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return _fir.upfirdn2d(x, f, up=up, padding=[px0, px1, py0, py1], gain=up ** 2, flip_filter=flip_filter)

    if down > 1 and up == 1:
        x = _fir.upfirdn2d(x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)

    if up > 1:
        # conv_transpose2d wants [in, out/groups, kh, kw] per group.
        if groups == 1:
            wt = w.transpose(0, 1)
        else:
            wt = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
            wt = wt.reshape(groups * in_per_group, out_ch // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        tx = max(min(-px0, -px1), 0)
        ty = max(min(-py0, -py1), 0)
        x = _conv(x, wt, stride=up, padding=[ty, tx], groups=groups, transpose=True, flip_weight=not flip_weight)
        x = _fir.upfirdn2d(x, f, padding=[px0 + tx, px1 + tx, py0 + ty, py1 + ty], gain=up ** 2, flip_filter=flip_filter)
        if down > 1:
            x = _fir.upfirdn2d(x, f, down=down, flip_filter=flip_filter)
        return x

    if up == 1 and down == 1 and px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)

    # General fallback.
    x = _fir.upfirdn2d(x, f if up > 1 else None, up=up, padding=[px0, px1, py0, py1], gain=up ** 2, flip_filter=flip_filter)
    x = _conv(x, w, groups=groups, flip_weight=flip_weight)
    if down > 1:
        x = _fir.upfirdn2d(x, f, down=down, flip_filter=flip_filter)
    return x
