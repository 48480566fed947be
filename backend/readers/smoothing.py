"""The One-Euro filter (Casiez, Roussel & Vogel 2012, "1 € Filter: A Simple Speed-based Low-pass
Filter for Noisy Input in Interactive Systems", CHI): smooths jitter when a signal rests and lets
fast moves (an expression's onset) through with little lag.

For samples x_i at rate r (period T_e = 1 / r), an exponential low-pass with smoothing factor

    α(f_c) = 1 / (1 + τ / T_e),   τ = 1 / (2π f_c)

is applied to the signal, x̂_i = α x_i + (1 − α) x̂_{i−1}, with a cutoff that rises with speed:

    f_c = f_c,min + β |dx̂_i|,   dx̂_i = low-pass at d_cutoff of (x_i − x̂_{i−1}) · r

(x̂_0 = x_0, dx̂_0 = 0). ``min_cutoff`` sets how still a resting signal is, ``beta`` how quickly
a moving one is followed. Each column of the input is filtered on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuro:
    """The filter's settings: cutoffs in Hz, ``beta`` in 1 / (signal units)."""

    min_cutoff: float = 1.0
    beta: float = 1.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"the One-Euro {name} must be a positive number of Hz, got {value!r}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"the One-Euro beta must be 0 or more, got {self.beta!r}")


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


def one_euro_filter(values: np.ndarray, rate: float, settings: OneEuro = OneEuro()) -> np.ndarray:
    """``values`` ``[T]`` or ``[T, C]`` sampled at ``rate`` Hz, filtered (same shape, float64)."""
    x = np.asarray(values, dtype=np.float64)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"the sample rate must be a positive number of Hz, got {rate!r}")
    if x.ndim not in (1, 2) or not np.isfinite(x).all():
        raise ValueError(f"the One-Euro filter takes finite [T] or [T, C] values, got shape {list(x.shape)}")
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    out[0] = x[0]
    speed = np.zeros_like(x[0])
    alpha_d = _alpha(settings.d_cutoff, rate)
    for i in range(1, len(x)):
        speed = alpha_d * (x[i] - out[i - 1]) * rate + (1 - alpha_d) * speed
        alpha = _alpha(settings.min_cutoff + settings.beta * np.abs(speed), rate)
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out
