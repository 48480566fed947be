"""Scoring a probe on held-out renders, against a constant guess."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.readers.probe import FaceProbe, probe_predict
from lab.probes.data import HELDOUT_SEED, heldout_batch


@dataclass(frozen=True)
class ProbeScores:
    """Accuracy on held-out renders."""

    au_mae: float  # mean |predicted − true| AU intensity
    emotion_mae: float  # over the six emotions, eye_close and mouth_open
    head_turn_mae: float
    identity_top1: float  # share of faces whose nearest other face (cosine) is the same identity
    n: int
    # The same errors for a constant guess, the held-out mean: what a probe that learned nothing scores.
    au_mae_baseline: float
    emotion_mae_baseline: float
    head_turn_mae_baseline: float


def evaluate_probe(probe: FaceProbe, n: int = 256, seed: int = HELDOUT_SEED) -> ProbeScores:
    """Scores on ``n`` held-out faces (``n // 2`` identities drawn twice), rendered at the probe's size."""
    data = heldout_batch(n, probe.config.input_size, seed)
    pred = probe_predict(probe, data.images)
    sim = pred.embedding @ pred.embedding.T
    np.fill_diagonal(sim, -np.inf)
    top1 = float(np.mean(data.identity[sim.argmax(axis=1)] == data.identity))
    err = np.abs(pred.emotions - data.emotions)
    base = np.abs(data.emotions - data.emotions.mean(axis=0))
    return ProbeScores(float(np.abs(pred.aus - data.aus).mean()), float(err[:, :-1].mean()), float(err[:, -1].mean()),
                       top1, n, float(np.abs(data.aus - data.aus.mean(axis=0)).mean()), float(base[:, :-1].mean()),
                       float(base[:, -1].mean()))
