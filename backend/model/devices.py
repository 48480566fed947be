"""Choosing where to run: auto → CUDA → Apple MPS → CPU."""

from __future__ import annotations

import torch


def pick_device(preference: str = "auto") -> torch.device:
    """The device for ``preference`` ('auto', 'cpu', 'cuda', 'cuda:1', 'mps'); a clear error if absent."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(preference)
    except RuntimeError:
        raise ValueError(f"unknown device {preference!r}; use auto, cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but this torch has no CUDA device")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("MPS was asked for but is not available on this machine")
    return device
