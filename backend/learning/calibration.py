"""Calibrating learned directions on neutral faces: the strength at which 1.0 reads as a full
expression, and the W+ rows a direction is best added to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..animation.channels import CHANNEL_NAMES
from ..animation.directions import DirectionSet
from ..animation.latent import compose_latent
from ..jobs import Cancel, Progress, check_cancel
from ..model.generator import Generator, synthesize_frames
from ..photos.inversion import w_statistics
from .labels import MEASURE_BATCH, Reader


@dataclass(frozen=True)
class RowsTrial:
    """One channel with one W+ row range: the strength that reaches the target and its cost."""

    layers: tuple[int, int]
    strength: float
    reading: float  # mean reading of the channel at that strength
    reached: bool  # the target was reached within the strengths tried
    identity_drift: float  # mean |embedding(value 1) − embedding(value 0)|


@dataclass(frozen=True)
class ChannelCalibration:
    """The trials of one channel and the one chosen."""

    name: str
    target: float
    baseline: float  # mean reading at value 0
    trials: tuple[RowsTrial, ...]
    chosen: RowsTrial


# Strengths tried, in units of W's spread (total std, ``inversion.w_statistics``): value 1.0 never
# moves a face farther than one spread, where on the default model identity is already mostly
# gone (features-probe embedding distance ~0.5 of a possible 2).
DEFAULT_STRENGTH_GRID: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


NEAR_BEST = 0.9  # rows reading at least this share of the best rows' reading count as equally good


def calibrate_directions(G: Generator, directions: DirectionSet, read: Reader, faces: np.ndarray,
                         targets: np.ndarray, *, row_candidates: Sequence[tuple[int, int]],
                         strength_grid: Sequence[float] = DEFAULT_STRENGTH_GRID, w_spread: float | None = None,
                         reader_name: str = "features-probe", target_name: str = "a full render's",
                         stop_at: int | None = None, progress: Progress | None = None,
                         cancel: Cancel | None = None) -> tuple[DirectionSet, tuple[ChannelCalibration, ...]]:
    """Each direction's strength and W+ rows, by measurement on ``faces`` (W+ codes of start faces).

    For every candidate row range, the channel's mean reading is measured at the strengths
    ``strength_grid`` × ``w_spread`` (default: W's total std), weakest first, until it reaches the
    channel's ``targets`` entry; the strength at value 1.0 is where that curve first reaches it
    (linear between grid points), or the grid's best when it never does. The strengths past the
    first that reaches it are never drawn: nothing is chosen from them. The rows are then picked by
    ``choose_rows``; every trial's identity drift (embedding distance between value 0 and 1) is kept
    in the report. Faces a reader could not read (NaN, e.g. no face detected) are left out of the
    means. ``stop_at``: the faces are drawn at that lower resolution (``Generator.synthesize``), the
    reader's own.
    """
    if not row_candidates:
        raise ValueError("row_candidates must name at least one (start, stop) range")
    grid = np.asarray(sorted(strength_grid), dtype=np.float64)
    if grid.size == 0 or grid[0] <= 0:
        raise ValueError(f"strength_grid must hold positive factors, got {strength_grid!r}")
    if w_spread is None:
        w_spread = w_statistics(G)[2]
    faces = np.asarray(faces, dtype=np.float32)
    base = read(synthesize_frames(G, faces, MEASURE_BATCH, stop_at=stop_at))
    if not np.isfinite(base.values).all(axis=1).any():
        raise ValueError(f"the reader read none of the {len(faces)} calibration faces (no face found): it cannot "
                         "calibrate this generator's directions; use a reader that reads its faces")
    total = len(directions) * len(row_candidates)
    out_dirs, reports = [], []
    for d in directions:
        c = CHANNEL_NAMES.index(d.name)
        trials = []
        for layers in row_candidates:
            check_cancel(cancel, "calibration cancelled")
            trial_dir = replace(d, layers=tuple(layers), strength=1.0)
            trial_set = replace(directions, directions=(trial_dir,))
            strengths = grid * w_spread
            curve, drift = [], []
            for s in strengths:  # weakest first: nothing past the first that reaches the target counts
                reading = read(synthesize_frames(G, compose_latent(faces, {d.name: s}, trial_set), MEASURE_BATCH,
                                                 stop_at=stop_at))
                curve.append(finite_mean(reading.values[:, c]))
                drift.append(finite_mean(np.linalg.norm(reading.embedding - base.embedding, axis=1)))
                if curve[-1] >= targets[c]:
                    break
            strengths, curve = strengths[:len(curve)], np.array(curve)
            strength, at, reached = _first_crossing(strengths, curve, float(targets[c]))
            trials.append(RowsTrial(tuple(layers), strength, at, reached, float(np.interp(strength, strengths, drift))))
            if progress is not None:
                progress("calibration", len(trials) + len(reports) * len(row_candidates), total)
        baseline = float(finite_mean(base.values[:, c]))
        chosen = choose_rows(trials, baseline)
        out_dirs.append(replace(d, layers=chosen.layers, strength=chosen.strength,
                                calibration=f"{reader_name} reading {chosen.reading:.2f} at value 1 "
                                            f"(target {float(targets[c]):.2f}, {target_name})"))
        reports.append(ChannelCalibration(d.name, float(targets[c]), baseline,
                                          tuple(trials), chosen))
    return replace(directions, directions=tuple(out_dirs)), tuple(reports)


def finite_mean(x: np.ndarray) -> np.ndarray:
    """Means over the last axis of the finite values only (unreadable faces are NaN); NaN, without
    a warning, where there are none."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    count = ok.sum(axis=-1)
    return np.where(count > 0, np.where(ok, x, 0.0).sum(axis=-1) / np.maximum(count, 1), np.nan)


def choose_rows(trials: Sequence[RowsTrial], baseline: float) -> RowsTrial:
    """Of the trials whose reading gain over ``baseline`` is within ``NEAR_BEST`` of the best
    gain, the one with the fewest rows (ties: the least identity drift). Fewer rows leave more
    of the face alone, the reason for the paper's mask; a range that reaches the target reads
    the target, so the smallest such range wins."""
    readable = [t for t in trials if np.isfinite(t.reading)]
    if not readable:
        raise ValueError("no row range gave a reading (the reader read none of the edited faces)")
    best = max(t.reading for t in readable) - baseline
    good = [t for t in readable if t.reading - baseline >= best - (1.0 - NEAR_BEST) * abs(best)]
    return min(good, key=lambda t: (t.layers[1] - t.layers[0], t.identity_drift))


def _first_crossing(strengths: np.ndarray, curve: np.ndarray, target: float) -> tuple[float, float, bool]:
    """(strength, reading there, reached): where ``curve`` first reaches ``target``. A strength
    where no face was read (NaN) is passed over, never picked."""
    above = np.flatnonzero(curve >= target)  # NaN is never >= target
    if above.size == 0:
        k = int(np.nanargmax(curve)) if np.isfinite(curve).any() else 0
        return float(strengths[k]), float(curve[k]), False
    k = int(above[0])
    if k == 0 or not np.isfinite(curve[k - 1]):
        return float(strengths[k]), float(curve[k]), True
    # Linear between the last grid point below and the first at or above.
    f = (target - curve[k - 1]) / (curve[k] - curve[k - 1])
    s = strengths[k - 1] + f * (strengths[k] - strengths[k - 1])  # curve[k - 1] < target <= curve[k]
    return float(s), float(target), True
