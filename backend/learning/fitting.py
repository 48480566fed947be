"""Fitting directions to labelled latents: one classifier per channel, classes by threshold or rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..animation.channels import CHANNEL_NAMES
from ..animation.directions import DirectionSet
from .classifiers import LabelReport, Method, train_directions
from .labels import SIGNED_CHANNEL, LabeledLatents, Shares, Thresholds


@dataclass(frozen=True)
class LearnedDirections:
    """Directions as the classifiers give them (class-means strengths, default rows) and their reports."""

    directions: DirectionSet
    reports: tuple[LabelReport, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (channel, why) for channels with too few examples


def channel_classes(values: np.ndarray, name: str, thresholds: Thresholds | Shares) -> tuple[np.ndarray, np.ndarray]:
    """(rows used, positive) for one channel: see ``Thresholds`` and ``Shares``."""
    v = np.asarray(values, dtype=np.float64)[:, CHANNEL_NAMES.index(name)]
    return thresholds.classes(v, name == SIGNED_CHANNEL)


def learn_directions(data: LabeledLatents, *, generator_fingerprint: str, num_ws: int,
                     thresholds: Thresholds | Shares, names: Sequence[str] = CHANNEL_NAMES, method: Method = "logistic",
                     layers: tuple[int, int] | None = None, test_size: float = 0.2, seed: int = 0,
                     min_examples: int = 10, C: float = 1.0) -> LearnedDirections:
    """One direction per channel (``train_directions``, one-vs-rest on that channel's classes).

    Each channel is fitted on its own rows (``channel_classes``); head turn is right against left,
    so its direction turns the head right and −1 turns it left. A channel with fewer than
    ``min_examples`` positives or negatives gets no direction and is listed in ``skipped``
    (self-labelled faces of a generator that hardly draws an expression have none to learn from).
    """
    directions, reports, skipped = [], [], []
    for name in names:
        used, positive = channel_classes(data.values, name, thresholds)
        n_pos, n_neg = int(positive[used].sum()), int((~positive[used]).sum())
        if min(n_pos, n_neg) < min_examples:
            skipped.append((name, f"{n_pos} positive and {n_neg} negative latents (fewer than {min_examples})"))
            continue
        result = train_directions(data.latents[used], positive[used, None].astype(np.int64), [name],
                                  generator_fingerprint=generator_fingerprint, num_ws=num_ws, layers=layers,
                                  method=method, test_size=test_size, seed=seed, C=C)
        directions.append(result.directions[name])
        reports.append(result.reports[0])
    dset = DirectionSet(generator_fingerprint, num_ws, data.latents.shape[1], tuple(directions))
    return LearnedDirections(dset, tuple(reports), tuple(skipped))
