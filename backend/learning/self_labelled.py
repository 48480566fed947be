"""Self-labelled channel directions for any generator, with samples stored as they are made.

The recipe of ``python -m backend learn-directions`` (Zhang & Pollett 2021, Sec. 3 stage 1,
self-labelled as InterFaceGAN does; Shen et al. 2020):

1. sample: z ~ N(0, I) in chunks of ``CHUNK`` (chunk k's z come from its own seeded stream, so
   a sample never depends on N or on how the run was split), w = mapping(z) at truncation ψ
   (default 1: the generator's whole range of faces, as InterFaceGAN samples; truncation
   shrinks W toward w_avg linearly, which leaves a separating direction unchanged but draws fewer
   strong expressions — on the default model ψ 0.7 gave a mean emotion Spearman of 0.05, ψ 1
   0.53, README);
2. read: G(w) in batches, read by the labeller (``backend.learning.readers``) — full size, or
   with ``LearnSettings.draw_size`` at the lowest resolution synthesis can stop at that still
   gives the reader its pixels (cheaper on big generators, but the stopped image is not the
   full frame scaled down: on the default model the directions came out worse by eval-directions;
   ``reading_agreement`` reads the first chunk both ways to say how far the readings part on a
   given generator, for one chunk of full-size faces); each chunk's W
   codes and readings go to ``WORK/samples-KEY/chunk-NNNNN.npz`` as soon as they exist, KEY
   naming the generator, reader, ψ and seed, so an interrupted run resumes and a larger N reuses
   what is there; faces the reader could not read (no face found) are left out of the fit;
3. classes per channel by rank (``labels.Shares``): the top ``top`` share of the
   readings (at least ``floor``) positive, the bottom ``bottom`` share negative, the rest left
   out; head turn: the top share each way by rank (right against left; a reader's zero need not
   be this generator's frontal face);
4. fit per channel: logistic regression (the paper) or a linear SVM (InterFaceGAN), 80/20
   held-out split (``fitting.learn_directions``);
5. conditional orthogonalisation (InterFaceGAN) where it reduces entanglement
   (``orthogonalise_where_entangled``);
6. calibration on ``faces`` held-out faces (their own z stream): per channel, the strength at
   which value 1.0 reads as the generator's strongest faces do (``channel_targets``: the 98th
   percentile of the samples' readings; an emotion's at most ``PROBABILITY_CEILING``), and the
   fewest W+ rows that read within 10 % of the best rows (``calibration.calibrate_directions``),
   drawn as the samples are.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..animation.channels import CHANNEL_NAMES, EMOTION_NAMES
from ..animation.directions import DirectionSet
from ..files import FileError, load_array, write_atomic
from ..jobs import Cancel, Progress, check_cancel
from ..model.generator import Generator, synthesize_frames
from ..photos.inversion import stop_resolution
from .calibration import ChannelCalibration, RowsTrial, calibrate_directions
from .classifiers import Method, project_orthogonal
from .fitting import LearnedDirections, channel_classes, learn_directions
from .labels import (
    MEASURE_BATCH,
    SIGNED_CHANNEL,
    LabeledLatents,
    Reader,
    Shares,
    Thresholds,
    run_in_batches,
    spearman_rows,
)

CHUNK = 64  # samples per stored chunk


DEFAULT_TRUNCATION = 1.0  # of the labelled samples and the calibration faces


# Entropy tags of this module's z streams: the labelled samples, the calibration faces and the
# evaluation faces never share a z.
_SAMPLE_STREAM = 0x414e5953  # "ANYS"


_CALIBRATION_STREAM = 0x414e5943  # "ANYC"


EVALUATION_STREAM = 0x414e5945  # "ANYE"


ENTANGLED_COSINE = 0.2  # |cos| with another channel's direction above which that channel is projected out


KEEP_COSINE = 0.5  # a projected direction must keep at least this cosine with the classifier's own


TARGET_QUANTILE = 0.98  # value 1.0 reads as strongly as the generator's own strongest 2 % of faces


AGREEMENT_WARN = 0.9  # rank correlation of stopped and full-size readings below which a stopped run warns


ROW_FRACTIONS = (4, 6, 8, 12)  # row ranges tried, (0, round(k · num_ws / 18)): the paper's 8 of 18 among them


@dataclass(frozen=True)
class SampleKey:
    """What the stored samples depend on; a different key is a different folder."""

    generator_fingerprint: str
    reader: str
    truncation: float
    seed: int
    chunk: int = CHUNK
    resolution: int | None = None  # where synthesis stopped (None: the full frame)

    @property
    def folder(self) -> str:
        fields = asdict(self)
        if fields["resolution"] is None:
            del fields["resolution"]  # full-frame samples keep the folders they had before the field
        text = json.dumps(fields, sort_keys=True)
        return f"samples-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class SampleStore:
    """Chunks of (W codes, readings) under ``root/KEY.folder``, written atomically one by one."""

    def __init__(self, root: str | Path, key: SampleKey) -> None:
        self.key = key
        self.made = 0  # samples saved by this store object (made in this run)
        self.folder = Path(root) / key.folder
        self.folder.mkdir(parents=True, exist_ok=True)
        settings = self.folder / "settings.json"
        if not settings.is_file():
            write_atomic(settings, json.dumps(asdict(key), indent=2) + "\n")

    def path(self, k: int) -> Path:
        return self.folder / f"chunk-{k:05d}.npz"

    def load(self, k: int, count: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Chunk ``k``'s first ``count`` samples, or None when it is missing or shorter."""
        try:
            f = load_array(self.path(k))  # a forged header declaring gigabytes is refused, not allocated
            latents, values = f["latents"], f["values"]
        except (FileError, KeyError, TypeError, IndexError):
            return None  # missing, or a damaged file: made again
        if (latents.ndim != 2 or values.ndim != 2 or len(latents) < count or len(values) != len(latents)
                or latents.dtype.kind != "f" or values.dtype.kind != "f" or not np.isfinite(latents).all()):
            return None  # not what this store writes: made again
        return latents[:count], values[:count]

    def save(self, k: int, latents: np.ndarray, values: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, latents=latents, values=values)
        write_atomic(self.path(k), buffer.getvalue())
        self.made += len(latents)


def chunk_z(z_dim: int, seed: int, k: int, count: int) -> np.ndarray:
    """Chunk ``k``'s z (count ≤ CHUNK rows): a prefix of the chunk's own stream."""
    rng = np.random.default_rng([_SAMPLE_STREAM, seed, k])
    return rng.standard_normal((CHUNK, z_dim)).astype(np.float32)[:count]


def mapped(G: Generator, z: np.ndarray, truncation: float) -> np.ndarray:
    """W+ codes (N, num_ws, w_dim) of z at truncation ψ (class 0 for a conditional generator)."""
    zt = torch.from_numpy(np.ascontiguousarray(z, np.float32)).to(G.device)
    c = torch.zeros([len(z), G.config.c_dim], device=G.device) if G.config.c_dim > 0 else None
    with torch.no_grad():
        return G.mapping(zt, c, truncation_psi=truncation).cpu().numpy()


def sample_readings(G: Generator, read: Reader, n: int, store: SampleStore, *, batch: int = MEASURE_BATCH,
                    progress: Progress | None = None, cancel: Cancel | None = None) -> LabeledLatents:
    """``n`` self-labelled samples, taken from ``store`` where there and made (and stored) where
    not, drawn at ``store.key.resolution``; ``progress("sampling", done, n)`` after the stored chunks
    and after each new one; ``Cancelled`` once ``cancel()`` (stored chunks stay). Samples whose
    reading is not finite (no face found) are left out of the result."""
    if n < 1:
        raise ValueError(f"the number of samples must be at least 1, got {n}")
    key = store.key
    sizes = [min(CHUNK, n - start) for start in range(0, n, CHUNK)]
    chunks: list[tuple[np.ndarray, np.ndarray] | None] = [store.load(k, c) for k, c in enumerate(sizes)]
    done = sum(c for c, chunk in zip(sizes, chunks) if chunk is not None)
    if progress is not None and done:
        progress("sampling", done, n)
    for k, count in enumerate(sizes):
        if chunks[k] is not None:
            continue
        check_cancel(cancel, f"sampling cancelled after {done} of {n} samples (stored; a rerun resumes)")
        ws = mapped(G, chunk_z(G.config.z_dim, key.seed, k, count), key.truncation)
        values: list[np.ndarray] = []

        def label(start: int, stop: int) -> bool:
            values.append(read(synthesize_frames(G, ws[start:stop], batch, stop_at=key.resolution)).values)
            return True

        run_in_batches(count, batch, label)
        chunks[k] = (ws[:, 0].astype(np.float32), np.concatenate(values).astype(np.float32))
        store.save(k, *chunks[k])
        if k == 0 and not np.isfinite(chunks[k][1]).all(axis=1).any():
            raise ValueError(f"the reader read none of the first {count} faces (no face found): it does not suit "
                             "this generator; for cartoon faces such as the default model's use a probe "
                             "(--reader probe:models/default/probe_features.safetensors)")
        done += count
        if progress is not None:
            progress("sampling", done, n)
    have = [c for c in chunks if c is not None]
    latents = np.concatenate([c[0] for c in have]) if have else np.zeros((0, G.w_dim), np.float32)
    values = np.concatenate([c[1] for c in have]) if have else np.zeros((0, len(CHANNEL_NAMES)), np.float32)
    readable = np.isfinite(values).all(axis=1)
    return LabeledLatents(latents[readable], values[readable], "self-labeled", None)


def held_out_faces(G: Generator, n: int, truncation: float = DEFAULT_TRUNCATION, seed: int = 0,
                   stream: int = _CALIBRATION_STREAM) -> np.ndarray:
    """W+ codes (n, num_ws, w_dim) from a z stream no labelled sample uses."""
    rng = np.random.default_rng([stream, seed])
    return mapped(G, rng.standard_normal((n, G.config.z_dim)).astype(np.float32), truncation)


# An emotion reads as a class probability, which saturates: the strongest faces read ~1.0, and a
# mean of 1.0 over the calibration faces is reached only far past the expression. On the photoreal
# stand-in, face-api's happy target of 1.00 put joy's strength at a whole W spread: a dark,
# stretched grin that fer read as less happy than the face at half that strength (issue 32).
PROBABILITY_CEILING = 0.9


def reachable_targets(targets: np.ndarray) -> np.ndarray:
    """``targets`` (9,) with each emotion's lowered to ``PROBABILITY_CEILING`` where above it."""
    out = np.array(targets, dtype=np.float64)
    emotions = [CHANNEL_NAMES.index(n) for n in EMOTION_NAMES]
    out[emotions] = np.minimum(out[emotions], PROBABILITY_CEILING)  # NaN (no positives) stays NaN
    return out


def channel_targets(values: np.ndarray, shares: Shares, quantile: float = TARGET_QUANTILE) -> np.ndarray:
    """(9,) what value 1.0 should read as: per channel, the ``quantile`` of the readings (head
    turn: toward the right), or the mean reading of the channel's positives where that is higher.
    NaN for a channel without positives."""
    out = np.full(len(CHANNEL_NAMES), np.nan)
    for c, name in enumerate(CHANNEL_NAMES):
        used, positive = channel_classes(values, name, shares)
        if (used & positive).any():
            out[c] = max(float(np.quantile(values[:, c], quantile)), float(values[used & positive, c].mean()))
    return out


def row_candidates(num_ws: int) -> list[tuple[int, int]]:
    """W+ row ranges calibration tries: (0, round(k · num_ws / 18)) for k in ``ROW_FRACTIONS``."""
    return [(0, s) for s in sorted({max(1, round(k * num_ws / 18)) for k in ROW_FRACTIONS})]


@dataclass(frozen=True)
class Orthogonalisation:
    """What conditional orthogonalisation did to one channel's direction."""

    name: str
    against: tuple[str, ...]  # the channels projected out (empty: left as fitted)
    max_cosine_before: float  # largest |cos| with another channel's fitted direction
    max_cosine_after: float
    kept_cosine: float  # cos(result, fitted direction)


def orthogonalise_where_entangled(directions: DirectionSet, entangled: float = ENTANGLED_COSINE,
                                  keep: float = KEEP_COSINE) -> tuple[DirectionSet, tuple[Orthogonalisation, ...]]:
    """Each direction without its components along the other channels' fitted directions whose
    |cosine| with it is at least ``entangled`` (``project_orthogonal``: moving one channel then
    leaves those channels' classifiers unchanged). Kept only where that lowers the largest
    |cosine| with the other fitted directions and keeps cos ≥ ``keep`` with the fitted one (a
    direction that is mostly another channel's is left as it is rather than reduced to noise)."""
    fitted = {d.name: d.vector.astype(np.float64) for d in directions}
    out, reports = [], []
    for d in directions:
        v = fitted[d.name]
        others = {k: u for k, u in fitted.items() if k != d.name}
        before = max((abs(float(v @ u)) for u in others.values()), default=0.0)
        against = tuple(k for k, u in others.items() if abs(float(v @ u)) >= entangled)
        result, after, kept = v, before, 1.0
        if against:
            try:
                p = project_orthogonal(v, [others[k] for k in against]).astype(np.float64)
            except ValueError:
                p = None
            if p is not None:
                p_after = max(abs(float(p @ u)) for u in others.values())
                if p_after < before and float(p @ v) >= keep:
                    result, after, kept = p, p_after, float(p @ v)
        changed = result is not v
        out.append(replace(d, vector=result.astype(np.float32)) if changed else d)
        reports.append(Orthogonalisation(d.name, against if changed else (), before, after, kept))
    return replace(directions, directions=tuple(out)), tuple(reports)


@dataclass(frozen=True)
class LearnSettings:
    """The choices of one ``learn_generator_directions`` run."""

    samples: int = 2000
    truncation: float = DEFAULT_TRUNCATION
    method: Method = "logistic"
    shares: Shares = Shares(turn_by_rank=True)
    target_quantile: float = TARGET_QUANTILE
    faces: int = 8  # held-out faces for calibration
    rows: tuple[tuple[int, int], ...] | None = None  # default: row_candidates(num_ws)
    orthogonalise: bool = True
    batch: int = MEASURE_BATCH
    seed: int = 0
    C: float = 1.0
    min_examples: int = 10  # positives and negatives a channel needs
    draw_size: int | None = None  # pixels the reader looks at: faces drawn no larger (None: full resolution)


@dataclass(frozen=True)
class GeneratorDirections:
    """A run's directions and what made them."""

    directions: DirectionSet
    learned: LearnedDirections
    orthogonalisation: tuple[Orthogonalisation, ...]
    calibration: tuple[ChannelCalibration, ...]
    targets: np.ndarray  # (9,)
    samples: int  # samples drawn
    readable: int  # of them, read (a face found)
    made: int  # of them, made in this run (the others were stored)
    seconds: dict[str, float]


def sample_key(G: Generator, fingerprint: str, reader_key: str, settings: LearnSettings,
               full_size: bool = False) -> SampleKey:
    """The key of a run's samples: drawn as ``settings.draw_size`` asks, or at full size."""
    return SampleKey(fingerprint, reader_key, float(settings.truncation), int(settings.seed),
                     resolution=None if full_size else stop_resolution(G, settings.draw_size))


@dataclass(frozen=True)
class ReadingAgreement:
    """How the readings of faces drawn at ``resolution`` rank against those of the same faces drawn
    full size: a stopped image is not the full frame scaled down, and the classes are cut by rank."""

    resolution: int
    full_resolution: int
    faces: int  # faces read at both sizes
    spearman: dict[str, float]  # per channel; NaN where a channel's readings do not vary (nothing to rank)

    def below(self, bar: float = AGREEMENT_WARN) -> dict[str, float]:
        """The channels whose readings rank below ``bar``."""
        return {n: r for n, r in self.spearman.items() if r < bar}


def reading_agreement(G: Generator, fingerprint: str, read: Reader, reader_key: str, work: str | Path,
                      settings: LearnSettings, *, progress: Progress | None = None,
                      cancel: Cancel | None = None) -> ReadingAgreement | None:
    """The first chunk of samples read both as ``settings`` draws them and full size (None: they are
    drawn full size anyway). Both are stored, so the run that follows, or a full-size one, reuses them:
    the check costs one chunk of full-size faces."""
    low = sample_key(G, fingerprint, reader_key, settings)
    if low.resolution is None:
        return None
    count = min(CHUNK, settings.samples)
    stores = [SampleStore(work, low), SampleStore(work, sample_key(G, fingerprint, reader_key, settings, True))]
    chunks = []
    for store in stores:
        sample_readings(G, read, count, store, batch=settings.batch, progress=progress, cancel=cancel)
        chunk = store.load(0, count)
        if chunk is None:
            raise FileError(f"the samples just stored in {store.path(0)} could not be read back")
        chunks.append(chunk[1].astype(np.float64))
    both = np.isfinite(chunks[0]).all(axis=1) & np.isfinite(chunks[1]).all(axis=1)
    a, b = chunks[0][both].T, chunks[1][both].T  # (channels, faces)
    rho = np.where((a.std(axis=1) > 0) & (b.std(axis=1) > 0), spearman_rows(a, b), np.nan)
    return ReadingAgreement(low.resolution, G.config.img_resolution, int(both.sum()),
                            {name: float(r) for name, r in zip(CHANNEL_NAMES, rho)})


def learn_generator_directions(G: Generator, fingerprint: str, read: Reader, reader_key: str, work: str | Path,
                               settings: LearnSettings = LearnSettings(), *, reader_name: str = "labeller",
                               progress: Progress | None = None,
                               cancel: Cancel | None = None) -> GeneratorDirections:
    """The whole recipe of the module docstring; ``Cancelled`` once ``cancel()``."""
    s = settings
    t = time.perf_counter()
    store = SampleStore(work, sample_key(G, fingerprint, reader_key, s))
    data = sample_readings(G, read, s.samples, store, batch=s.batch, progress=progress, cancel=cancel)
    seconds = {"sampling": time.perf_counter() - t}
    if len(data.latents) < 2:
        raise ValueError(f"the reader read {len(data.latents)} of {s.samples} sampled faces (no face found in "
                         "the others): nothing to learn from; try another --reader or --truncation")
    targets = channel_targets(data.values, s.shares, s.target_quantile)
    return fit_and_calibrate(G, fingerprint, data, s.shares, targets, read, s, seconds=seconds, drawn=s.samples,
                             made=store.made,
                             reader_name=reader_name, target_name=f"the samples' {s.target_quantile:.0%} quantile",
                             progress=progress, cancel=cancel)


def fit_and_calibrate(G: Generator, fingerprint: str, data: LabeledLatents, classes: Shares | Thresholds,
                      targets: np.ndarray, read: Reader, settings: LearnSettings, *, seconds: dict[str, float],
                      drawn: int, made: int, reader_name: str, target_name: str,
                      progress: Progress | None = None,
                      cancel: Cancel | None = None) -> GeneratorDirections:
    """Steps 4-6 of the recipe on labelled latents: fit, orthogonalise, calibrate (to
    ``reachable_targets``)."""
    s = settings
    targets = reachable_targets(targets)
    t = time.perf_counter()
    learned = learn_directions(data, generator_fingerprint=fingerprint, num_ws=G.num_ws, thresholds=classes,
                               method=s.method, seed=s.seed, C=s.C, min_examples=s.min_examples)
    if not len(learned.directions):
        why = "; ".join(f"{n}: {w}" for n, w in learned.skipped)
        raise ValueError(f"no channel had enough positives and negatives to learn from ({why})")
    directions, ortho = (orthogonalise_where_entangled(learned.directions) if s.orthogonalise
                         else (learned.directions, ()))
    seconds["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    faces = held_out_faces(G, s.faces, s.truncation, s.seed)
    rows = list(s.rows) if s.rows else row_candidates(G.num_ws)
    calibrated, calibration = calibrate_directions(G, directions, read, faces, targets, row_candidates=rows,
                                                   reader_name=reader_name, target_name=target_name,
                                                   stop_at=stop_resolution(G, s.draw_size), progress=progress,
                                                   cancel=cancel)
    seconds["calibration"] = time.perf_counter() - t
    return GeneratorDirections(calibrated, learned, ortho, calibration, targets, drawn, len(data.latents), made,
                               seconds)


def learning_report(result: GeneratorDirections, settings: LearnSettings, **about: Any) -> dict[str, Any]:
    """The report JSON written beside the directions file."""
    reports = {r.name: r for r in result.learned.reports}
    ortho = {o.name: o for o in result.orthogonalisation}
    channels = []
    for cal, d in zip(result.calibration, result.directions):
        r, o, c = reports[d.name], ortho.get(d.name), cal.chosen
        channels.append({
            "name": d.name, "held_out_accuracy": r.accuracy, "train_accuracy": r.train_accuracy,
            "n_positive": r.n_positive, "n_used": r.n_train + r.n_test,
            "orthogonalised_against": list(o.against) if o else [],
            "max_cosine_with_others": {"fitted": o.max_cosine_before, "final": o.max_cosine_after} if o else None,
            "cosine_with_fitted": o.kept_cosine if o else 1.0,
            "target_reading": cal.target, "baseline_reading": cal.baseline,
            "chosen": trial_record(c), "trials": [trial_record(x) for x in cal.trials]})
    sampling = result.seconds.get("sampling", 0.0)
    return {
        **about,
        "settings": {**{k: v for k, v in asdict(settings).items() if k not in ("shares", "rows")},
                     "shares": asdict(settings.shares),
                     "rows": [list(r) for r in (settings.rows or ())] or "default (row_candidates)"},
        "samples": result.samples, "readable_samples": result.readable, "samples_made_this_run": result.made,
        "channels": channels, "skipped": dict(result.learned.skipped),
        "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
        "seconds_per_sample_made": round(sampling / result.made, 4) if result.made else None,
        "signed_channel": f"{SIGNED_CHANNEL}: right-turned positives against left-turned",
    }


def trial_record(t: RowsTrial) -> dict[str, Any]:
    """One calibration trial as JSON."""
    return {"layers": list(t.layers), "strength": round(t.strength, 4), "reading": round(t.reading, 4),
            "reached": t.reached, "identity_drift": round(t.identity_drift, 4)}
