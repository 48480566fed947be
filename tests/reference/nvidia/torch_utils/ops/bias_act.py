"""Bias + activation + gain + clamp, pure PyTorch (test-only).

Order of operations (as in stylegan2-ada-pytorch's reference path):
    x = x + b (broadcast along ``dim``); x = act(x, alpha); x = x * gain (if gain != 1);
    x = clamp(x, -clamp, +clamp) (if clamp is not None).
``gain=None`` means the activation's default gain (sqrt(2) for relu/lrelu/swish, else 1).
"""

import numpy as np
import torch
import torch.nn.functional as F

import dnnlib


def _spec(func, alpha, gain):
    return dnnlib.EasyDict(func=func, def_alpha=alpha, def_gain=gain)


# The default gains are numpy float64 values on purpose: layers copy them into their
# attributes (``act_gain``), so they end up in pickles exactly as numpy scalars.
activation_funcs = {
    "linear": _spec(lambda x, **_: x, 0, 1),
    "relu": _spec(lambda x, **_: F.relu(x), 0, np.sqrt(2)),
    "lrelu": _spec(lambda x, alpha, **_: F.leaky_relu(x, alpha), 0.2, np.sqrt(2)),
    "tanh": _spec(lambda x, **_: torch.tanh(x), 0, 1),
    "sigmoid": _spec(lambda x, **_: torch.sigmoid(x), 0, 1),
    "elu": _spec(lambda x, **_: F.elu(x), 0, 1),
    "selu": _spec(lambda x, **_: F.selu(x), 0, 1),
    "softplus": _spec(lambda x, **_: F.softplus(x), 0, 1),
    "swish": _spec(lambda x, **_: torch.sigmoid(x) * x, 0, np.sqrt(2)),
}


def bias_act(x, b=None, dim=1, act="linear", alpha=None, gain=None, clamp=None, impl="ref"):
    assert isinstance(x, torch.Tensor)
    assert clamp is None or clamp >= 0
    spec = activation_funcs[act]
    alpha = float(spec.def_alpha if alpha is None else alpha)
    gain = float(spec.def_gain if gain is None else gain)
    limit = -1.0 if clamp is None else float(clamp)

    if b is not None:
        assert b.ndim == 1 and b.shape[0] == x.shape[dim]
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.reshape(shape)
    x = spec.func(x, alpha=alpha)
    if gain != 1:
        x = x * gain
    if limit >= 0:
        x = x.clamp(-limit, limit)
    return x
