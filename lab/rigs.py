"""Stand-in rigs for tests and benchmarks: random unit directions for a generator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.directions import Direction, DirectionSet
from backend.model.checkpoints import fingerprint
from backend.model.generator import Generator


def random_directions(G: Generator, names: Sequence[str] = CHANNEL_NAMES, *, strength: float = 2.0,
                      seed: int = 0) -> DirectionSet:
    """One random unit direction per name (drawn in order from ``seed``) on W+ rows 0..4, for ``G``."""
    rng = np.random.default_rng(seed)
    dirs = []
    for name in names:
        v = rng.standard_normal(G.w_dim).astype(np.float32)
        dirs.append(Direction(name, v / np.linalg.norm(v), (0, min(4, G.num_ws)), strength, "random", "random", None))
    return DirectionSet(fingerprint(G), G.num_ws, G.w_dim, tuple(dirs))
