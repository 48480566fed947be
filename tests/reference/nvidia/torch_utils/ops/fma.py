"""Fused multiply-add helper: ``a * b + c`` evaluated with ``torch.addcmul``."""

import torch


def fma(a, b, c):
    return torch.addcmul(c, a, b)
