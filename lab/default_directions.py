"""The default model's directions: labelled procedural renders, their inverted latents, the
neutral faces its face prior picks and the readings a full expression should give.

The paper's way (Sec. 3.2): labelled images → latent codes by optimisation against the
generator (``backend.photos.inversion`` in W with the features probe's perceptual loss). The labelled
images are procedural renders, whose channel values are exact. Classifiers and calibration are
``backend.learning.labels``'s; measurements use the features probe only: the eval probe must
stay independent of everything that makes a direction.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from backend.animation.channels import CHANNEL_NAMES
from backend.jobs import Cancel, Progress
from backend.learning.calibration import finite_mean
from backend.learning.labels import SIGNED_CHANNEL, LabeledLatents, Reader, Thresholds, run_in_batches
from backend.metrics.evaluation import DOMINANT_TARGET, SPEARMAN_TARGET, ChannelScores, between_faces
from backend.model.checkpoints import generator_metadata
from backend.model.generator import Generator
from backend.photos.inversion import invert_batch
from backend.readers.probe import FaceProbe
from lab.face_prior import FacePrior
from lab.procedural import EMOTION_NAMES, Emotions, Identity, face_params_from_emotions, render_face, sample_identity

# Entropy tags of this module's random streams (labelled renders, neutral faces), so that none of
# them repeats a stream of the generator's or the probes' training.
_RENDER_STREAM = 0x44495252  # "DIRR"
_FACE_STREAM = 0x44495246  # "DIRF"


# Exact labels: renders are drawn either off (0) or at 0.4..1, so any cut between separates them.
EXACT_THRESHOLDS = Thresholds(positive=0.35, negative=0.0, turn=0.35)


def labeled_channel_values(n: int, seed: int = 0, min_intensity: float = 0.4) -> np.ndarray:
    """The channel values (n, 9) of a balanced labelled set.

    Face i shows one of {neutral, the six emotions} in turn (so each emotion has n/7 positives),
    and, independently, eyes closed on a quarter of the faces, mouth open on another quarter
    (shuffled) and the head turned left on a third and right on a third. Intensities are
    uniform in [``min_intensity``, 1], turns in ±[``min_intensity``, 1].
    """
    if n < 7:
        raise ValueError(f"a labelled set needs at least 7 faces (neutral and the six emotions), got {n}")
    rng = np.random.default_rng([_RENDER_STREAM, seed, 0])
    values = np.zeros((n, len(CHANNEL_NAMES)), np.float32)
    intensity = lambda k: rng.uniform(min_intensity, 1.0, k)  # noqa: E731
    primary = np.arange(n) % (len(EMOTION_NAMES) + 1)  # 0 neutral, 1..6 the emotions
    for k in range(1, len(EMOTION_NAMES) + 1):
        rows = np.flatnonzero(primary == k)
        values[rows, k - 1] = intensity(rows.size)
    for name in ("eye_close", "mouth_open"):
        rows = rng.permutation(n)[:n // 4]
        values[rows, CHANNEL_NAMES.index(name)] = intensity(rows.size)
    order = rng.permutation(n)
    left, right = order[:n // 3], order[n // 3:2 * n // 3]
    turn = CHANNEL_NAMES.index(SIGNED_CHANNEL)
    values[left, turn] = -intensity(left.size)
    values[right, turn] = intensity(right.size)
    return values


def labeled_renders(values: np.ndarray, size: int, seed: int = 0, faces_per_identity: int = 1) -> np.ndarray:
    """Renders (N, size, size, 3) uint8 of random identities showing ``values`` (N, 9) exactly.

    ``faces_per_identity`` > 1 draws each identity for that many consecutive rows; 7 gives each
    neutral/emotion round of ``labeled_channel_values`` one person, so that every class holds the
    same people and a classifier cannot lean on who is drawn (identity drift along a direction).
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape[1] != len(CHANNEL_NAMES):
        raise ValueError(f"values must be (N, {len(CHANNEL_NAMES)}) channel values, got shape {values.shape}")
    if faces_per_identity < 1:
        raise ValueError(f"faces_per_identity must be >= 1, got {faces_per_identity}")
    rng = np.random.default_rng([_RENDER_STREAM, seed, 1])
    people = [sample_identity(rng) for _ in range(-(-len(values) // faces_per_identity))]
    return np.stack([render_face(face_params_from_emotions(people[i // faces_per_identity], Emotions.from_array(v)),
                                 size) for i, v in enumerate(values)])


def inverted_latents(G: Generator, features: FaceProbe, n: int = 196, *, steps: int = 60, batch: int = 7,
                     seed: int = 0, faces_per_identity: int = 1, progress: Progress | None = None,
                     cancel: Cancel | None = None) -> LabeledLatents:
    """The paper's labelled latents: ``n`` labelled renders, each inverted into W (Sec. 3.2).

    Inversion is ``backend.photos.inversion.invert_batch`` in W from ``w_avg``, with pixels plus the
    features probe's feature maps as the loss; ``batch`` images are inverted together;
    ``faces_per_identity`` as in ``labeled_renders``.
    ``progress("inverting", images done, n)`` after each batch; a cancel keeps the batches finished so far.
    """
    values = labeled_channel_values(n, seed)
    images = labeled_renders(values, G.config.img_resolution, seed, faces_per_identity)
    latents, errors = [], []

    def invert(start: int, stop: int) -> bool:
        result = invert_batch(G, images[start:stop], space="w", steps=steps, features=features.features,
                              seed=seed + start, cancel=cancel)
        if result.cancelled:
            return False
        latents.append(result.w_plus[:, 0])
        errors.append(result.pixel_mae)
        return True

    cancelled = run_in_batches(n, batch, invert, stage="inverting", progress=progress, cancel=cancel)
    done = sum(len(x) for x in latents)
    w_dim = G.w_dim
    return LabeledLatents(np.concatenate(latents) if latents else np.zeros((0, w_dim), np.float32),
                          values[:done], "inversion",
                          np.concatenate(errors) if errors else np.zeros(0, np.float32), cancelled)


def model_prior(path: str | os.PathLike[str], z_dim: int) -> FacePrior:
    """The face prior a generator of ours was fitted to (its file's ``face_prior`` metadata), else
    ``FacePrior(z_dim)``, the prior of ``FitConfig``'s defaults."""
    recorded = generator_metadata(path).get("face_prior")
    return FacePrior.from_dict(json.loads(recorded)) if recorded else FacePrior(z_dim=z_dim)


def neutral_z(prior: FacePrior, n: int, *, seed: int = 0) -> np.ndarray:
    """z (n, z_dim) that the prior draws neutral (every channel 0) and frontal: the eval's start
    faces, picked without looking at a drawing."""
    rng = np.random.default_rng([_FACE_STREAM, seed])
    found: list[np.ndarray] = []
    while sum(len(f) for f in found) < n:
        z = rng.standard_normal((256, prior.z_dim)).astype(np.float32)
        found.append(z[~prior.channels(z).any(axis=1)])
    return np.concatenate(found)[:n]


def neutral_faces(G: Generator, prior: FacePrior, n: int, *, seed: int = 0,
                  truncation_psi: float = 0.7) -> np.ndarray:
    """W+ codes (n, num_ws, w_dim) of ``neutral_z``'s faces, truncated as ``backend sample`` does
    by default."""
    z = neutral_z(prior, n, seed=seed)
    with torch.no_grad():
        ws = G.mapping(torch.from_numpy(z).to(G.device), truncation_psi=truncation_psi)
    return ws.cpu().numpy()


def render_drift(prior: FacePrior, z: np.ndarray, read: Reader, size: int) -> dict[str, object]:
    """The identity drift of the renderer's own faces: each of z's people rendered neutral and
    with each channel alone at 1.0, read by ``read``.

    A generator that drew the renders exactly would drift this much on the eval's protocol:
    the reader's identity embedding also moves with expression and pose, so this is the floor
    against which a model's drift is judged. Returns per-channel drift and reading at 1.0 and
    the distance between the neutral faces (the same scale as the eval's).
    """
    people = prior.identities(z)
    neutral = read(_renders(people, np.zeros(len(CHANNEL_NAMES), np.float32), size))
    drift, reading = {}, {}
    for c, images in _each_channel_alone(people, size):
        full = read(images)
        name = CHANNEL_NAMES[c]
        drift[name] = float(finite_mean(np.linalg.norm(full.embedding - neutral.embedding, axis=1)))
        reading[name] = float(finite_mean(full.values[:, c]))
    return {"faces": len(people), "drift": drift, "reading_at_1": reading,
            "drift_mean": float(np.mean(list(drift.values()))),
            "identity_distance_between_faces": between_faces(neutral.embedding)}


def _renders(people: Sequence[Identity], values: np.ndarray, size: int) -> np.ndarray:
    """Renders (N, size, size, 3) of ``people``, all showing the channel ``values`` (9,)."""
    return np.stack([render_face(face_params_from_emotions(p, Emotions.from_array(values)), size) for p in people])


def _each_channel_alone(people: Sequence[Identity], size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(channel index, renders of ``people`` with that channel alone at 1.0) for each channel in turn."""
    for c in range(len(CHANNEL_NAMES)):
        v = np.zeros(len(CHANNEL_NAMES), np.float32)
        v[c] = 1.0
        yield c, _renders(people, v, size)


def full_expression_targets(read: Reader, size: int, n: int = 16, seed: int = 0) -> np.ndarray:
    """(9,) what ``read`` sees, on average, in renders of each channel alone at value 1.0
    (head turn: +1.0) over ``n`` identities: the reading that value 1.0 should give."""
    targets = np.zeros(len(CHANNEL_NAMES))
    rng = np.random.default_rng([_RENDER_STREAM, seed, 2])
    identities = [sample_identity(rng) for _ in range(n)]
    for c, images in _each_channel_alone(identities, size):
        targets[c] = read(images).values[:, c].mean()
    return targets


@dataclass(frozen=True)
class ChannelChoice:
    """Which recipe's direction a channel ships, and why."""

    name: str
    source: str
    why: str


def _meets(s: ChannelScores) -> bool:
    return s.spearman >= SPEARMAN_TARGET and s.dominant >= DOMINANT_TARGET


def choose_per_channel(scores: Mapping[str, Sequence[ChannelScores]], prefer: str) -> tuple[ChannelChoice, ...]:
    """Per channel, the ``prefer``-red recipe's direction, unless it misses the single-channel
    targets (Spearman, dominant at 1.0) as the features probe reads them and another recipe's meets
    them. The preferred recipe is the self-labelled one: on the stacked channels of Figure 7 its
    directions keep the face (MODEL_CARD); the fallback keeps a channel the readers cannot see
    from turning into another (disgust reading as anger). Scores must come from the features
    probe: the eval probe stays out of everything that makes a direction."""
    by_source = {src: {s.name: s for s in ss} for src, ss in scores.items()}
    out = []
    for name in (n for n in CHANNEL_NAMES if any(n in ss for ss in by_source.values())):
        own = by_source[prefer].get(name)
        if own is not None and _meets(own):
            out.append(ChannelChoice(name, prefer, f"meets the targets (Spearman {own.spearman:.3f}, dominant {own.dominant:.0%})"))
            continue
        others = [(src, ss[name]) for src, ss in by_source.items() if src != prefer and name in ss]
        meeting = [o for o in others if _meets(o[1])]
        missed = "has no direction" if own is None else \
            f"misses the targets (Spearman {own.spearman:.3f}, dominant {own.dominant:.0%})"
        if meeting or (own is None and others):
            src, s = max(meeting or others, key=lambda o: (o[1].dominant, o[1].spearman))
            out.append(ChannelChoice(name, src, f"{prefer} {missed}; {src}: Spearman {s.spearman:.3f}, "
                                                f"dominant {s.dominant:.0%}"))
        else:
            out.append(ChannelChoice(name, prefer, f"{missed}, and no other recipe meets them"))
    return tuple(out)
