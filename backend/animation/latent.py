"""The rig maths: emotion channel values → W+ codes, and interpolation between keyframes.

Zhang & Pollett (2021), Sec. 3.3-3.4 and 4.2: a keyframe is the face's latent plus a multiple of
each emotion direction, added only to the first 8 of StyleGAN's 18 W+ rows (the layer mask keeps
identity), and in-between frames interpolate linearly between keyframes. Where several channels
move the same rows at once, their summed offset is held to the length of the largest single one
(``compose_latent``'s ``stacking``), so stacked expressions stay where the generator draws faces.

Arrays in, arrays out: latents are numpy float32 (torch CPU tensors are accepted and converted;
the caller converts results back), channel values are float64. Nothing here imports torch.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .directions import Direction, DirectionSet

InterpolationMethod = Literal["linear", "slerp", "constant"]
INTERPOLATION_METHODS: tuple[str, ...] = ("linear", "slerp", "constant")
Stacking = Literal["cap", "add"]
STACKING_MODES: tuple[str, ...] = ("cap", "add")

# Below this angle (radians) between two rows slerp is numerically lerp; lerp is used instead.
_PARALLEL_ANGLE = 1e-4


def default_layer_range(num_ws: int) -> tuple[int, int]:
    """The rows an emotion direction is added to: the paper's first 8 of 18, scaled to ``num_ws``.

    Half-open ``(start, stop)``: ``(0, 8)`` for 18 rows (1024 px), ``(0, 4)`` for 8 rows (32 px).
    """
    if isinstance(num_ws, bool) or not isinstance(num_ws, (int, np.integer)) or num_ws < 1:
        raise ValueError(f"num_ws must be a positive integer, got {num_ws!r}")
    # 8·n/18 is never exactly x.5 for an integer n, so round() has no ties to break.
    return (0, max(1, round(8 * int(num_ws) / 18)))


def compose_latent(w_face: ArrayLike, values: Mapping[str, ArrayLike], directions: DirectionSet,
                   stacking: Stacking = "cap") -> np.ndarray:
    """The face's W+ code with each channel's direction added: w + Σ value_c · strength_c · d_c,
    the sum held in range where channels stack (``stacking``, below).

    ``w_face`` is (num_ws, w_dim), a single W code (w_dim,) used for every row, or a batch
    (B, num_ws, w_dim). A value is a number or a (B,) array (one per batch item); a batch of values
    with a single face gives one code per value, (B, num_ws, w_dim). Each direction touches only
    its ``layers`` rows, so rows outside every range are copied bit for bit from the face.
    Channels missing from ``values`` are 0; negative values move the opposite way.

    ``stacking``: ``"add"`` is the plain sum (the paper's rig). ``"cap"`` (the default) scales a
    row's summed offset down, where two or more channels move that row, to the length of the
    largest single channel's offset on it (``stacking_factors``): each channel alone is calibrated
    to stay where the generator draws faces, and a stack then moves no row further than its
    strongest channel would alone. A row with one moving channel is never scaled, so single-channel
    codes — and any stack within the bound — are bit for bit the ``"add"`` ones.
    """
    if stacking not in STACKING_MODES:
        raise ValueError(f"stacking must be one of {STACKING_MODES}, got {stacking!r}")
    num_ws, w_dim = directions.num_ws, directions.w_dim
    w = np.asarray(w_face, dtype=np.float32)
    if w.ndim == 1 and w.shape == (w_dim,):
        w = np.broadcast_to(w, (num_ws, w_dim))
    elif not ((w.ndim == 2 and w.shape == (num_ws, w_dim)) or (w.ndim == 3 and w.shape[1:] == (num_ws, w_dim))):
        raise ValueError(f"w_face must have shape ({w_dim},), ({num_ws}, {w_dim}) or (B, {num_ws}, {w_dim}) "
                         f"for these directions, got {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("w_face holds non-finite values")

    unknown = sorted(set(values) - set(directions.names))
    if unknown:
        raise ValueError(f"unknown channel(s) {', '.join(map(repr, unknown))}; "
                         f"the directions have: {', '.join(directions.names) or '(none)'}")
    scales: list[np.ndarray] = []
    used: list[Direction] = []
    sizes = {w.shape[0]} if w.ndim == 3 else set()
    for d in directions.directions:  # the file's order, whatever the order of ``values``
        if d.name not in values:
            continue
        v = np.asarray(values[d.name], dtype=np.float64)
        if v.ndim > 1:
            raise ValueError(f"value of {d.name!r} must be a number or a 1-D array, got shape {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"value of {d.name!r} is not finite")
        if v.ndim == 1:
            sizes.add(v.shape[0])
        scales.append(v * d.strength)
        used.append(d)
    if len(sizes) > 1:
        raise ValueError(f"batch sizes disagree: w_face and values give {sorted(sizes)}")

    batch = sizes.pop() if sizes else None
    out = np.empty((num_ws, w_dim) if batch is None else (batch, num_ws, w_dim), dtype=np.float32)
    out[...] = w
    vectors = [d.vector for d in used]
    layers = [d.layers for d in used]
    for (start, stop), factor in stacking_factors(scales, vectors, layers, stacking):
        for scale, vector, (first, last) in zip(scales, vectors, layers):
            if first <= start and stop <= last:
                # Element-wise, one channel at a time: a batch item's result never depends on the
                # others. A factor of exactly 1 leaves ``scale`` and so the sum's bits as "add" has them.
                out[..., start:stop, :] += np.multiply.outer(scale * factor, vector)[..., None, :]
    return out


def stacking_factors(scales: Sequence[np.ndarray], vectors: Sequence[np.ndarray], layers: Sequence[tuple[int, int]],
                     stacking: Stacking = "cap") -> list[tuple[tuple[int, int], np.ndarray]]:
    """How much of the summed offset each stretch of W+ rows keeps: [((start, stop), factor), ...].

    Channel c moves rows ``layers[c]`` by ``scales[c] · vectors[c]`` (a scale is a number or a (B,)
    array). The rows split into stretches where the same channels move; on each, with ``"cap"``,
    the factor (a number, or (B,)) is min(1, largest |scale_c|·|vector_c| / |Σ scale_c·vector_c|)
    over the channels there, and exactly 1 where fewer than two of them have a non-zero scale, so
    the capped sum is never longer than the largest single offset. ``"add"``: every factor is 1.
    A pure function of these arrays; their order changes nothing but float64 rounding.
    """
    bounds = sorted({r for span in layers for r in span})
    out = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        here = [c for c, (first, last) in enumerate(layers) if first <= start and stop <= last]
        if not here:
            continue
        factor: np.ndarray = np.float64(1.0)
        if stacking == "cap" and len(here) > 1:
            total = sum(np.multiply.outer(scales[c], vectors[c].astype(np.float64)) for c in here)
            length = np.linalg.norm(total, axis=-1)
            single = functools.reduce(np.maximum, [np.abs(scales[c]) * np.linalg.norm(vectors[c].astype(np.float64))
                                                   for c in here])
            moving = sum((scales[c] != 0).astype(np.int64) for c in here)
            capped = (moving > 1) & (length > single)
            factor = np.where(capped, single / np.where(capped, length, 1.0), 1.0)
        out.append(((start, stop), factor))
    return out


def lerp(start: ArrayLike, end: ArrayLike, t: float) -> np.ndarray:
    """(1 − t)·start + t·end: ``start`` at t = 0 and ``end`` at t = 1, exactly.

    The paper's in-between I = t·K1 + (1 − t)·K2 (Sec. 3.4) with K1 = end and K2 = start.
    """
    a, b = _pair(start, end)
    t = _fraction(t)
    return ((1.0 - t) * a + t * b).astype(a.dtype, copy=False)


def slerp(start: ArrayLike, end: ArrayLike, t: float) -> np.ndarray:
    """Per-row spherical interpolation of the direction, with the norm interpolated linearly.

    W space is no unit sphere, so a row's direction follows the great circle from ``start`` to
    ``end`` while its length goes linearly from |start| to |end|. Rows that are nearly parallel,
    opposite or zero fall back to ``lerp``. Endpoints are exact.
    """
    a, b = _pair(start, end)
    return _slerp_rows(a, b, np.float64(_fraction(t)))


def interpolate_keyframes(keyframe_frames: ArrayLike, keyframe_values: ArrayLike, frames: ArrayLike,
                          method: InterpolationMethod = "linear") -> np.ndarray:
    """Channel values at ``frames`` from keyframes: (F, C) for frames (F,), (C,) for one frame.

    ``keyframe_frames`` (K,) strictly increasing, ``keyframe_values`` (K, C). Between two
    keyframes: ``linear`` (the paper's interpolation, Sec. 3.4), ``slerp`` (the value vector turns
    between the two keyframes' mixes while its length changes linearly, so a change from one
    emotion to another keeps its intensity instead of dipping half-way) or ``constant`` (hold the
    earlier keyframe). Before the first and after the last keyframe the nearest one is held.
    Every frame is computed on its own, so any frame alone gives the same values as in a range.
    """
    if method not in INTERPOLATION_METHODS:
        raise ValueError(f"method must be one of {INTERPOLATION_METHODS}, got {method!r}")
    keys = np.asarray(keyframe_frames, dtype=np.float64)
    vals = np.asarray(keyframe_values, dtype=np.float64)
    if keys.ndim != 1 or keys.size == 0:
        raise ValueError(f"keyframe_frames must be a non-empty 1-D array, got shape {keys.shape}")
    if vals.ndim != 2 or vals.shape[0] != keys.size:
        raise ValueError(f"keyframe_values must have shape ({keys.size}, C) for {keys.size} keyframes, "
                         f"got {vals.shape}")
    if not (np.isfinite(keys).all() and np.isfinite(vals).all()):
        raise ValueError("keyframes hold non-finite frames or values")
    if (np.diff(keys) <= 0).any():
        raise ValueError("keyframe_frames must be strictly increasing")
    at = np.asarray(frames, dtype=np.float64)
    if at.ndim > 1 or not np.isfinite(at).all():
        raise ValueError("frames must be a finite number or 1-D array")

    f = at.reshape(-1)
    # Segment i runs from keyframe i to i + 1; frames outside all segments hold an end keyframe.
    i = np.clip(np.searchsorted(keys, f, side="right") - 1, 0, max(keys.size - 2, 0))
    j = np.minimum(i + 1, keys.size - 1)
    span = np.where(j > i, keys[j] - keys[i], 1.0)
    t = np.clip((f - keys[i]) / span, 0.0, 1.0)[:, None]
    t = np.where((j > i)[:, None], t, 0.0)
    a, b = vals[i], vals[j]
    if method == "constant":
        out = np.where(t >= 1.0, b, a)
    elif method == "linear":
        out = (1.0 - t) * a + t * b
    else:
        out = _slerp_rows(a, b, t)
    return out[0] if at.ndim == 0 else out


def _slerp_rows(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``slerp`` with ``t`` a scalar or one fraction per row (shape (..., 1)); row by row, exact ends."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na = np.linalg.norm(a64, axis=-1, keepdims=True)
    nb = np.linalg.norm(b64, axis=-1, keepdims=True)
    tiny = np.finfo(np.float64).tiny
    ua, ub = a64 / np.maximum(na, tiny), b64 / np.maximum(nb, tiny)
    omega = np.arccos(np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0))
    usable = (na > tiny) & (nb > tiny) & (omega > _PARALLEL_ANGLE) & (omega < np.pi - _PARALLEL_ANGLE)
    sin_omega = np.where(usable, np.sin(omega), 1.0)
    direction = (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / sin_omega
    spherical = ((1.0 - t) * na + t * nb) * direction
    linear = (1.0 - t) * a64 + t * b64
    out = np.where(usable, spherical, linear)
    out = np.where(t == 0.0, a64, np.where(t == 1.0, b64, out))  # exact endpoints
    return out.astype(a.dtype, copy=False)


def _pair(start: ArrayLike, end: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(start), np.asarray(end)
    dtype = np.result_type(a, b, np.float32)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    if a.shape != b.shape or a.ndim == 0:
        raise ValueError(f"start and end must be arrays of the same shape, got {a.shape} and {b.shape}")
    return a, b


def _fraction(t: float) -> float:
    t = float(t)
    if not np.isfinite(t):
        raise ValueError(f"t must be finite, got {t}")
    return t
