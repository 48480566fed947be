"""The face prior of the default model: a fixed map from a Gaussian latent z to renderer parameters.

The default generator is fitted so that ``G(z)`` draws ``render_face(prior.decode(z))``. The map
hides the expression on purpose: z is first normalised as the generator's mapping network does
(``z · sqrt(z_dim) / |z|``, so that z and 2z decode alike, as they map alike), then turned by a
fixed random rotation Q (Haar-distributed, drawn from ``seed``), and only then are the rotated
coordinates ``c = Q^T z`` read as parameters. No z axis is an emotion; emotion directions have
to be learned in W afterwards, as in Zhang & Pollett (2021).

Reading the rotated coordinates (each is close to N(0, 1)), with u = Φ(c) uniform in (0, 1):

- identity scalars: ``lo + u (hi − lo)`` over ``SCALAR_RANGES`` (light angle over [−0.6, 0.6],
  as ``sample_identity`` draws it);
- categorical fields (hair style and colour, eye colour, glasses, beard): Gumbel-max over one
  coordinate per category, ``argmax_k(log p_k − log(−log u_k))``, which picks category k with
  probability exactly p_k (the probabilities of ``sample_identity``);
- colours: the palettes and hue/saturation/value ranges of ``sample_identity``, one coordinate
  per drawn number;
- the six emotions, eye-close and mouth-open: ``clip((u − (1 − p_active)) / (p_active (1 − p_full)), 0, 1)``,
  a continuous monotone map: 0 for a share 1 − p_active, then linear, then 1 for a share
  p_active · p_full. With p_active = 0.2 per emotion, 26 % of faces have no emotion, 39 % one
  and 35 % a mix;
- head turn: ``t = 2u − 1`` with a dead zone, ``sign(t) clip((|t| − d) / (1 − d), 0, 1)``, so a
  share d of faces look straight ahead.

Stacked expressions: the shares above make faces with two or three channels all near full rare
(about 0.4 % have two channels at 0.8 or more), while the rig stacks two or three channels at 1.0
in every keyframe of the paper's Figure 7. ``mixed`` moves a draw there without changing the map:
it sets the coordinates of a few channels to ones that decode to chosen strong values
(``channel_coordinates``, the inverse of ``channels``), so a fit trained on such z still learns
the same ``G(z) = render(decode(z))``, only with stacked expressions seen as often as asked.

Coordinates past ``N_COORDINATES`` are ignored. Decoding is deterministic; Q comes from LAPACK's
QR, so across machines it agrees to floating-point precision (``rotation_fingerprint`` records it).
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import statistics
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lab.procedural import (
    CHANNEL_NAMES,
    EMOTION_NAMES,
    BeardStyle,
    Emotions,
    FaceParams,
    GlassesStyle,
    HairStyle,
    Identity,
    face_params_from_emotions,
)
from lab.procedural.identity import (  # the palettes sample_identity draws from, shared
    EYE_COLORS,
    HAIR_COLOR_P,
    HAIR_COLORS,
    HAIR_STYLE_P,
    SKIN_TONES,
    SCALAR_RANGES,
)

PRIOR_VERSION = 1
"""Bumped whenever ``decode`` changes; a model records the version its prior had."""

# sample_identity's probabilities: 5 % dyed hair (last category), glasses and beard styles.
_HAIR_COLOR_CATEGORY_P = np.append(HAIR_COLOR_P * 0.95, 0.05)
_GLASSES_P = np.array([0.78, 0.11, 0.11])
_BEARD_P = np.array([0.74, 0.1, 0.08, 0.08])
_LIGHT_ANGLE_RANGE = (-0.6, 0.6)

# (block name, number of rotated coordinates); the order fixes which coordinate means what.
LAYOUT: tuple[tuple[str, int], ...] = (
    ("emotion", len(EMOTION_NAMES)),
    ("eye_close", 1),
    ("mouth_open", 1),
    ("head_turn", 1),
    ("scalars", len(SCALAR_RANGES)),
    ("skin_tone", 1),
    ("skin_jitter", 3),
    ("hair_style", len(HairStyle)),
    ("hair_color", len(_HAIR_COLOR_CATEGORY_P)),
    ("hair_dyed_hsv", 3),
    ("hair_jitter", 3),
    ("eye_color", len(EYE_COLORS)),
    ("eye_jitter", 3),
    ("lip_jitter", 3),
    ("glasses", len(GlassesStyle)),
    ("glasses_hsv", 3),
    ("beard", len(BeardStyle)),
    ("clothing_hsv", 3),
    ("background", 6),
)
N_COORDINATES = sum(n for _, n in LAYOUT)


def _layout_slices() -> dict[str, slice]:
    slices, start = {}, 0
    for name, n in LAYOUT:
        slices[name] = slice(start, start + n)
        start += n
    return slices


_SLICES = _layout_slices()

# The rotated coordinate each animation channel is read from, in CHANNEL_NAMES order.
CHANNEL_COORDINATES: tuple[int, ...] = (*range(_SLICES["emotion"].start, _SLICES["emotion"].stop),
                                        _SLICES["eye_close"].start, _SLICES["mouth_open"].start,
                                        _SLICES["head_turn"].start)


@dataclass(frozen=True)
class ExpressionShares:
    """How often channels are on: ``p_active`` of samples are non-zero, ``p_full`` of those are 1."""

    p_emotion: float = 0.2
    p_eye_close: float = 0.12
    p_mouth_open: float = 0.12
    p_full: float = 0.15
    frontal: float = 0.6  # share of faces with head_turn exactly 0

    def __post_init__(self) -> None:
        for name in ("p_emotion", "p_eye_close", "p_mouth_open"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"ExpressionShares.{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("p_full", "frontal"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"ExpressionShares.{name} must be in [0, 1), got {getattr(self, name)}")


@dataclass(frozen=True)
class FacePrior:
    """z (N, z_dim) → faces; the same ``(z_dim, seed, shares)`` always decodes the same way."""

    z_dim: int = 256
    seed: int = 0
    shares: ExpressionShares = ExpressionShares()

    def __post_init__(self) -> None:
        if self.z_dim < N_COORDINATES:
            raise ValueError(f"z_dim must be at least {N_COORDINATES} (the coordinates the prior reads), "
                             f"got {self.z_dim}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")

    @cached_property
    def rotation(self) -> np.ndarray:
        """Q (z_dim, z_dim), orthogonal and Haar-distributed: QR of a Gaussian matrix, signs fixed."""
        a = np.random.RandomState(self.seed).randn(self.z_dim, self.z_dim)
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        q.setflags(write=False)
        return q

    @property
    def rotation_fingerprint(self) -> str:
        """sha256 of Q rounded to float32, to check that two machines decode alike."""
        return hashlib.sha256(self.rotation.astype("<f4").tobytes()).hexdigest()

    def coordinates(self, z: np.ndarray) -> np.ndarray:
        """The rotated coordinates c (N, N_COORDINATES) the prior reads, each close to N(0, 1)."""
        # The mapping network's normalize_2nd_moment: the generator only ever sees z's direction.
        return self._rotated(_as_batch(z, self.z_dim), N_COORDINATES)

    def channels(self, z: np.ndarray) -> np.ndarray:
        """The animation channels (N, 9) of z's faces, ordered as ``CHANNEL_NAMES``: the labels."""
        u = _uniform(self.coordinates(z))
        s = self.shares
        out = np.zeros((u.shape[0], len(CHANNEL_NAMES)))
        out[:, :len(EMOTION_NAMES)] = _intensity(u[:, _SLICES["emotion"]], s.p_emotion, s.p_full)
        out[:, CHANNEL_NAMES.index("eye_close")] = _intensity(u[:, _SLICES["eye_close"]], s.p_eye_close, s.p_full)[:, 0]
        out[:, CHANNEL_NAMES.index("mouth_open")] = _intensity(u[:, _SLICES["mouth_open"]], s.p_mouth_open,
                                                               s.p_full)[:, 0]
        t = 2.0 * u[:, _SLICES["head_turn"]][:, 0] - 1.0
        turn = np.sign(t) * np.clip((np.abs(t) - s.frontal) / (1.0 - s.frontal), 0.0, 1.0)
        out[:, CHANNEL_NAMES.index("head_turn")] = turn + 0.0  # + 0.0 turns -0.0 into 0.0
        return out.astype(np.float32)

    def channel_coordinates(self, values: np.ndarray) -> np.ndarray:
        """Rotated channel coordinates (N, 9), in ``CHANNEL_COORDINATES`` order, that ``channels``
        decodes to ``values`` (N, 9): the inverse of ``channels``. A value of 0 (or 1) lies in a
        range of coordinates that all decode to it; the one returned sits halfway into that range
        (in the uniform u), so that the face keeps its value under small changes of z."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(CHANNEL_NAMES):
            raise ValueError(f"values must have shape (N, {len(CHANNEL_NAMES)}), got {values.shape}")
        turn_i = CHANNEL_NAMES.index("head_turn")
        rest = np.delete(values, turn_i, axis=1)
        if not np.isfinite(values).all() or rest.min(initial=0.0) < 0 or rest.max(initial=0.0) > 1:
            raise ValueError("channel values must be in [0, 1] (head turn in [-1, 1])")
        if np.abs(values[:, turn_i]).max(initial=0.0) > 1:
            raise ValueError("head turn must be in [-1, 1]")
        s = self.shares
        active = [s.p_emotion] * len(EMOTION_NAMES) + [s.p_eye_close, s.p_mouth_open]
        u = np.empty_like(values)
        for i, p in enumerate(active):
            v = values[:, i]
            u[:, i] = (1.0 - p) + v * p * (1.0 - s.p_full)  # inside the linear part
            u[v <= 0.0, i] = 0.5 * (1.0 - p)  # halfway into the off range
            u[v >= 1.0, i] = 1.0 - 0.5 * p * s.p_full  # halfway into the full range
        h = values[:, turn_i]
        mag = s.frontal + np.abs(h) * (1.0 - s.frontal)
        mag[h == 0.0] = 0.5 * s.frontal
        t = np.where(h < 0.0, -mag, mag)
        # a full turn is reached only at u = 0 or 1: 1e-6 away decodes within 1e-5 of it
        u[:, turn_i] = np.clip(0.5 * (t + 1.0), 1e-6, 1.0 - 1e-6)
        return _probit(np.clip(u, 1e-9, 1.0 - 1e-9))

    def mixed(self, z: np.ndarray, rng: np.random.Generator, channels: tuple[int, int] = (2, 3),
              low: float = 0.5) -> np.ndarray:
        """z (N, z_dim) whose faces keep their person but stack expressions as the rig does: for
        each row, between ``channels[0]`` and ``channels[1]`` (inclusive) of the nine channels,
        chosen at random, are set to a value uniform in [``low``, 1] (the head turned to either
        side), at most one of them the head turn; the other channels are switched off. The map
        from z to faces is unchanged (``channel_coordinates``)."""
        z = _as_batch(z, self.z_dim)
        lo_k, hi_k = channels
        if not 1 <= lo_k <= hi_k <= len(CHANNEL_NAMES):
            raise ValueError(f"channels must be (lo, hi) with 1 <= lo <= hi <= {len(CHANNEL_NAMES)}, got {channels}")
        if not 0.0 <= low <= 1.0:
            raise ValueError(f"low must be in [0, 1], got {low}")
        n = z.shape[0]
        values = np.zeros((n, len(CHANNEL_NAMES)))
        for row in range(n):
            k = int(rng.integers(lo_k, hi_k + 1))
            picked = rng.choice(len(CHANNEL_NAMES), size=k, replace=False)
            values[row, picked] = rng.uniform(low, 1.0, size=k)
        turn_i = CHANNEL_NAMES.index("head_turn")
        values[:, turn_i] *= np.where(rng.random(n) < 0.5, -1.0, 1.0)
        return self.with_coordinates(z, list(CHANNEL_COORDINATES), self.channel_coordinates(values))

    def with_identities(self, z: np.ndarray, donors: np.ndarray) -> np.ndarray:
        """z (N, z_dim) whose faces keep their expression and head turn but take the identity of
        ``donors`` (N, z_dim), row by row (see ``with_coordinates``)."""
        z, donors = _as_batch(z, self.z_dim), _as_batch(donors, self.z_dim)
        if donors.shape != z.shape:
            raise ValueError(f"donors must have the shape of z {z.shape}, got {donors.shape}")
        read = slice(_SLICES["head_turn"].stop, N_COORDINATES)
        return self.with_coordinates(z, read, self._rotated(donors)[:, read])

    def with_coordinates(self, z: np.ndarray, index: slice | int | list[int], values: np.ndarray | float) -> np.ndarray:
        """z (N, z_dim) with the rotated coordinates ``index`` set to ``values``; the coordinates
        the prior ignores are rescaled so that the norm is exactly sqrt(z_dim), which makes the
        normalisation in ``coordinates`` leave the set ones as they are."""
        c = self._rotated(_as_batch(z, self.z_dim))
        c[:, index] = values
        head = np.sum(c[:, :N_COORDINATES] ** 2, axis=1)
        tail = np.sum(c[:, N_COORDINATES:] ** 2, axis=1)
        if np.any(head >= self.z_dim):
            raise ValueError("the coordinates set are too large for a z of this dimension")
        c[:, N_COORDINATES:] *= np.sqrt((self.z_dim - head) / np.maximum(tail, 1e-12))[:, None]
        return c @ self.rotation.T

    def _rotated(self, z: np.ndarray, n: int | None = None) -> np.ndarray:
        """The first ``n`` (default all) rotated coordinates of z's direction."""
        return z / np.sqrt(np.mean(z * z, axis=1, keepdims=True) + 1e-8) @ self.rotation[:, :n]

    def identities(self, z: np.ndarray) -> list[Identity]:
        """The identity (everything but the expression) of each row of z."""
        u = _uniform(self.coordinates(z))
        return [_identity(row) for row in u]

    def decode(self, z: np.ndarray) -> list[FaceParams]:
        """One ``FaceParams`` per row of z (a single (z_dim,) vector gives a list of one)."""
        channels = self.channels(z)
        return [face_params_from_emotions(identity, Emotions.from_array(c))
                for identity, c in zip(self.identities(z), channels, strict=True)]

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[FaceParams]]:
        """n latents z ~ N(0, I) (float32) and their faces."""
        z = rng.standard_normal((n, self.z_dim)).astype(np.float32)
        return z, self.decode(z)

    def z_from_seed(self, seed: int) -> np.ndarray:
        """The z (1, z_dim) of a seed, drawn as ``Generator.z_from_seed`` draws it."""
        return np.random.RandomState(seed).randn(1, self.z_dim)

    def to_dict(self) -> dict[str, object]:
        return {"version": PRIOR_VERSION, "z_dim": self.z_dim, "seed": self.seed,
                "shares": {k: getattr(self.shares, k) for k in ExpressionShares.__dataclass_fields__},
                "rotation_fingerprint": self.rotation_fingerprint}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> FacePrior:
        """Inverse of ``to_dict``; refuses other prior versions and a rotation that differs."""
        if d.get("version") != PRIOR_VERSION:
            raise ValueError(f"face prior version {d.get('version')!r} is not supported (this code decodes "
                             f"version {PRIOR_VERSION})")
        prior = cls(z_dim=int(d["z_dim"]), seed=int(d["seed"]), shares=ExpressionShares(**dict(d["shares"])))
        want = d.get("rotation_fingerprint")
        if want is not None and want != prior.rotation_fingerprint:
            raise ValueError("this machine's rotation Q differs from the recorded one (fingerprint mismatch)")
        return prior


def _as_batch(z: np.ndarray, z_dim: int) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != z_dim:
        raise ValueError(f"z must have shape (N, {z_dim}) or ({z_dim},), got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("z holds non-finite values")
    return z


_ERF = np.frompyfunc(math.erf, 1, 1)


def _uniform(c: np.ndarray) -> np.ndarray:
    """Φ(c), kept inside (0, 1) so that logs and argmaxes stay finite."""
    u = 0.5 * (1.0 + _ERF(c / math.sqrt(2.0)).astype(np.float64))
    return np.clip(u, 1e-12, 1.0 - 1e-12)


_NORMAL = statistics.NormalDist()


def _probit(u: np.ndarray) -> np.ndarray:
    """Φ⁻¹(u), the inverse of ``_uniform``."""
    return np.vectorize(_NORMAL.inv_cdf, otypes=[np.float64])(u)


def _intensity(u: np.ndarray, p_active: float, p_full: float) -> np.ndarray:
    return np.clip((u - (1.0 - p_active)) / (p_active * (1.0 - p_full)), 0.0, 1.0)


def _categorical(u: np.ndarray, p: np.ndarray) -> int:
    """Gumbel-max: category k with probability p[k] when the u are independent uniforms."""
    return int(np.argmax(np.log(p) - np.log(-np.log(u))))


def _in_range(value: float, lo: float, hi: float) -> float:
    """``value`` clipped so that its float32 rounding (what Identity stores) stays in [lo, hi]."""
    v = np.float32(min(max(value, lo), hi))
    if v > hi:
        v = np.nextafter(v, np.float32(-np.inf))
    if v < lo:
        v = np.nextafter(v, np.float32(np.inf))
    return float(v)


def _rgb(c: np.ndarray) -> tuple[float, float, float]:
    c = np.clip(c, 0.0, 1.0)
    return (float(c[0]), float(c[1]), float(c[2]))


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def _jitter(u: np.ndarray, amount: float) -> np.ndarray:
    return (2.0 * u - 1.0) * amount


def _identity(u: np.ndarray) -> Identity:
    """One identity from the uniforms of one row (the same ranges and palettes as sample_identity)."""
    def block(name: str) -> np.ndarray:
        return u[_SLICES[name]]

    scalars = {}
    for (name, (lo, hi)), x in zip(SCALAR_RANGES.items(), block("scalars"), strict=True):
        if name == "light_angle":
            lo, hi = _LIGHT_ANGLE_RANGE
        scalars[name] = _in_range(lo + x * (hi - lo), lo, hi)

    tone = block("skin_tone")[0] * (len(SKIN_TONES) - 1)
    i = min(int(tone), len(SKIN_TONES) - 2)
    skin = SKIN_TONES[i] + (tone - i) * (SKIN_TONES[i + 1] - SKIN_TONES[i])

    hair_k = _categorical(block("hair_color"), _HAIR_COLOR_CATEGORY_P)
    if hair_k == len(HAIR_COLORS):  # dyed
        h, s, v = block("hair_dyed_hsv")
        hair = _hsv(h, 0.5 + 0.3 * s, 0.45 + 0.35 * v)
    else:
        hair = HAIR_COLORS[hair_k]
    eye = EYE_COLORS[int(np.argmax(block("eye_color")))]  # uniform over the palette
    lip = skin * np.array([0.86, 0.56, 0.56]) + np.array([0.05, 0.0, 0.02])
    gh, gs, gv = block("glasses_hsv")
    ch, cs, cv = block("clothing_hsv")
    hue, top_s, top_v, shift, bottom_s, bottom_v = block("background")
    return Identity(
        skin_color=_rgb(skin + _jitter(block("skin_jitter"), 0.025)),
        hair_style=HairStyle(_categorical(block("hair_style"), HAIR_STYLE_P)),
        hair_color=_rgb(hair + _jitter(block("hair_jitter"), 0.03)),
        eye_color=_rgb(eye + _jitter(block("eye_jitter"), 0.04)),
        lip_color=_rgb(lip + _jitter(block("lip_jitter"), 0.04)),
        glasses=GlassesStyle(_categorical(block("glasses"), _GLASSES_P)),
        glasses_color=_rgb(_hsv(gh, 0.7 * gs, 0.05 + 0.55 * gv)),
        beard=BeardStyle(_categorical(block("beard"), _BEARD_P)),
        clothing_color=_rgb(_hsv(ch, 0.2 + 0.6 * cs, 0.25 + 0.65 * cv)),
        background_top=_rgb(_hsv(hue, 0.05 + 0.4 * top_s, 0.6 + 0.38 * top_v)),
        background_bottom=_rgb(_hsv(hue - 0.15 + 0.3 * shift, 0.05 + 0.45 * bottom_s, 0.35 + 0.5 * bottom_v)),
        **scalars,
    )
