"""The training checkpoint of a fit: weights, EMA, optimizer, counters and (with the adversarial
term) the discriminator and its optimizer, for an exact resume."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch

from backend.files import replacing
from backend.model.checkpoints import CheckpointError
from lab.fit.config import FitConfig
from lab.fit.state import FitState, new_fit

CHECKPOINT_FORMAT = "latent-emotion.fit-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(state: FitState, path: str | os.PathLike[str]) -> str:
    """Write the whole fit (weights, EMA, optimizer, counters, discriminator) atomically; plain tensors and numbers only."""
    data = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": json.dumps(state.config.to_dict(), sort_keys=True),
        "step": state.step,
        "nimg": state.nimg,
        "seconds": state.seconds,
        "G": state.G.state_dict(),
        "G_ema": state.G_ema.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    if state.D is not None and state.D_optimizer is not None:
        data["D"], data["D_optimizer"] = state.D.state_dict(), state.D_optimizer.state_dict()
    path = os.fspath(path)
    with replacing(path) as tmp:
        torch.save(data, tmp)
    return path


def load_checkpoint(path: str | os.PathLike[str], render_workers: int | None = None) -> FitState:
    """Read a checkpoint written by ``save_checkpoint`` (``torch.load(weights_only=True)``: no code runs).

    ``render_workers`` overrides the stored one (it changes speed, not results). Also restores
    torch's global RNG state as it was saved.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError... for refused or corrupt files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise CheckpointError(path, f"refused or corrupt training checkpoint ({first})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, "not a Latent Emotion training checkpoint")
    if data.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(path, f"training checkpoint version {data.get('version')!r} is not supported")
    try:
        config = FitConfig.from_dict(json.loads(data["config"]))
        if render_workers is not None:
            config = dataclasses.replace(config, render_workers=render_workers)
        state = new_fit(config)
        state.G.load_state_dict(data["G"])
        state.G_ema.load_state_dict(data["G_ema"])
        state.optimizer.load_state_dict(data["optimizer"])
        if "D" in data:
            D, D_optimizer = state.new_discriminator()
            D.load_state_dict(data["D"])
            D_optimizer.load_state_dict(data["D_optimizer"])
        state.step, state.nimg, state.seconds = int(data["step"]), int(data["nimg"]), float(data["seconds"])
        torch.set_rng_state(data["torch_rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(path, f"training checkpoint does not match this code ({e})") from None
    return state
