"""The fit's targets: the z of each step, their renders and (for the region loss term) their
brows/eyes/mouth masks, in-process or by a pool of workers."""

from __future__ import annotations

import multiprocessing
import signal
from typing import Any, NamedTuple

import numpy as np
import torch

from backend.model.generator import images_from_uint8
from lab.face_prior import CHANNEL_COORDINATES, FacePrior
from lab.fit.config import FitConfig
from lab.procedural import render_face
from lab.procedural.regions import feature_regions

EVAL_SEED = 2**32 - 1  # the held-out batch's z come from default_rng([EVAL_SEED])
POOL_SEED = 2**32 - 2  # the fixed people of ``FitConfig.identities`` come from default_rng([POOL_SEED, data_seed])
MIX_SEED = 2**32 - 3  # ``FitConfig.mix_share``'s stacked channels come from default_rng([data_seed, step, MIX_SEED])


def batch_latents(config: FitConfig, step: int) -> np.ndarray:
    """The z (batch_size, z_dim) of a step: a pure function of ``(data_seed, step)`` (and, with
    ``config.identities``, of which fixed person the first ``identity_share`` of the faces take;
    with pairs, of each half). With the delta loss term the
    second half pairs with the first: the same people, their channel coordinates drawn anew (so
    each half on its own is drawn as without pairs). With ``config.mix_share`` the first share of
    each half then stacks two or three strong channels (``FacePrior.mixed``, from a stream of its
    own, so that the rest of the batch is drawn as without it)."""
    rng = np.random.default_rng([config.data_seed, step])
    z = rng.standard_normal((config.batch_size, config.generator.z_dim))
    half = config.batch_size // 2 if config.loss.paired else config.batch_size
    if config.identities > 0:
        pool, n = identity_pool(config, step), int(round(half * config.identity_share))
        z[:n] = config.prior.with_identities(z[:n], pool[rng.integers(0, len(pool), n)])
    if config.loss.paired:
        z[half:] = config.prior.with_coordinates(z[:half], list(CHANNEL_COORDINATES),
                                                 rng.standard_normal((half, len(CHANNEL_COORDINATES))))
    if config.mix_share > 0:
        mix_rng = np.random.default_rng([config.data_seed, step, MIX_SEED])
        n = int(round(half * config.mix_share))
        for start in range(0, config.batch_size, half):
            z[start:start + n] = config.prior.mixed(z[start:start + n], mix_rng)
    return z.astype(np.float32)


def identity_pool(config: FitConfig, step: int = 0) -> np.ndarray:
    """The z (identities, z_dim) whose people the faces of an ``identities`` fit take at ``step``
    (the same at every step unless ``identity_period``)."""
    period = [step // config.identity_period] if config.identity_period > 0 else []
    rng = np.random.default_rng([POOL_SEED, config.data_seed, *period])
    return rng.standard_normal((config.identities, config.generator.z_dim))


def eval_latents(config: FitConfig, n: int = 64) -> np.ndarray:
    """A fixed held-out batch, never drawn by ``batch_latents``."""
    return np.random.default_rng([EVAL_SEED]).standard_normal((n, config.generator.z_dim)).astype(np.float32)


class Targets(NamedTuple):
    """One step's z (B, z_dim), target images (B, 3, H, W) in [-1, 1] and, when the region term is
    on, their feature masks (B, H, W)."""

    z: torch.Tensor
    images: torch.Tensor
    regions: torch.Tensor | None


def render_batch(prior: FacePrior, z: np.ndarray, size: int) -> np.ndarray:
    """Renders (N, size, size, 3) uint8 of ``prior.decode(z)``."""
    return render_targets(prior, z, size, False)[0]


def render_targets(prior: FacePrior, z: np.ndarray, size: int, regions: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Renders (N, size, size, 3) uint8 of ``prior.decode(z)`` and, with ``regions``, their
    (N, size, size) float32 feature masks."""
    params = prior.decode(z)
    images = np.stack([render_face(p, size) for p in params])
    return images, (np.stack([feature_regions(p, size) for p in params]) if regions else None)


_WORKER_PRIORS: dict[tuple[int, int], FacePrior] = {}


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _worker_render(args: tuple[int, int, np.ndarray, int, bool]) -> tuple[np.ndarray, np.ndarray | None]:
    z_dim, seed, z, size, regions = args
    prior = _WORKER_PRIORS.get((z_dim, seed))
    if prior is None:
        prior = _WORKER_PRIORS[(z_dim, seed)] = FacePrior(z_dim=z_dim, seed=seed)
    return render_targets(prior, z, size, regions)


class TargetSource:
    """The (z, target images) of each step, rendered in-process or by a pool that works a step ahead."""

    def __init__(self, config: FitConfig) -> None:
        self.config = config
        self.prior = config.prior
        self.size = config.generator.img_resolution
        self.regions = config.loss.region > 0
        self._pool: Any = None
        self._pending: dict[int, Any] = {}
        if config.render_workers > 0:
            # spawn, not fork: forking a process that runs torch's thread pool can deadlock.
            ctx = multiprocessing.get_context("spawn")
            self._pool = ctx.Pool(config.render_workers, initializer=_worker_init)

    def __enter__(self) -> TargetSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def render(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Targets (N, size, size, 3) uint8 of any z, in this process, and their feature masks when
        the region term is on (the fit's held-out batch)."""
        return render_targets(self.prior, z, self.size, self.regions)

    def batch(self, step: int) -> Targets:
        """The targets of ``step``."""
        z = batch_latents(self.config, step)
        if self._pool is None:
            images, regions = self.render(z)
        else:
            pending = self._pending.pop(step, None) or self._submit(step, z)
            self._pending = {step + 1: self._submit(step + 1, batch_latents(self.config, step + 1))}
            parts = pending.get()
            images = np.concatenate([p[0] for p in parts])
            regions = np.concatenate([p[1] for p in parts]) if self.regions else None
        return Targets(torch.from_numpy(z), images_from_uint8(images),
                       None if regions is None else torch.from_numpy(regions))

    def _submit(self, step: int, z: np.ndarray) -> Any:
        chunks = np.array_split(z, self.config.render_workers)
        args = [(self.prior.z_dim, self.prior.seed, c, self.size, self.regions) for c in chunks if len(c)]
        return self._pool.map_async(_worker_render, args)
