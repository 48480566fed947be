"""Per-frame channel values, from an emotion script's keyframes or straight from the caller.

A ``Timeline`` is what every frame asks for: one value per channel per frame. Scripts give
keyframes that are interpolated (each frame on its own, see ``latent.interpolate_keyframes``);
Blender's F-curves and value files give the per-frame values directly. Either way each frame's
W+ code depends only on that frame's values, so any frame can be rendered alone.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .directions import DirectionSet
from .latent import InterpolationMethod, compose_latent, interpolate_keyframes
from .script import Clip


@dataclass(frozen=True, eq=False)
class Timeline:
    """Channel values (F, C) at frames (F,), for ``channels`` (C,)."""

    channels: tuple[str, ...]
    frames: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (frames.size, len(self.channels)):
            raise ValueError(f"values must have shape ({frames.size}, {len(self.channels)}), got {values.shape}")
        if frames.size == 0:
            raise ValueError("a timeline needs at least one frame")
        if not np.isfinite(values).all():
            raise ValueError("timeline values must be finite")
        if (np.diff(frames) <= 0).any():
            raise ValueError("timeline frames must be strictly increasing")
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return self.frames.size

    def value_dict(self) -> dict[str, np.ndarray]:
        """Channel → (F,) values, the form ``compose_latent`` takes."""
        return {c: self.values[:, i] for i, c in enumerate(self.channels)}


def timeline_from_clip(clip: Clip, channels: Sequence[str] | None = None,
                       method: InterpolationMethod = "linear") -> Timeline:
    """Every frame from the clip's first keyframe to its last, interpolated between keyframes."""
    channels = tuple(channels) if channels is not None else tuple(clip.keyframes[0].values)
    key_frames = [k.frame for k in clip.keyframes]
    key_values = [[k.values.get(c, 0.0) for c in channels] for k in clip.keyframes]
    frames = np.arange(key_frames[0], key_frames[-1] + 1)
    if len(key_frames) == 1:
        return Timeline(channels, frames, np.asarray(key_values, dtype=np.float64))
    return Timeline(channels, frames, interpolate_keyframes(key_frames, key_values, frames, method))


def load_values(path: str | os.PathLike[str]) -> Timeline:
    """Per-frame values from a file: CSV with a ``frame`` column and one column per channel, or
    JSON ``{"frames": [...], "channels": {"joy": [...], ...}}``."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
            chans = data["channels"]
            if not isinstance(chans, Mapping):
                raise ValueError("'channels' must be an object of channel → list of values")
            return Timeline(tuple(chans), np.asarray(data["frames"]), np.asarray(list(chans.values()), dtype=float).T)
        rows = list(csv.DictReader(text.splitlines()))
        if not rows or "frame" not in rows[0]:
            raise ValueError("a CSV needs a header with a 'frame' column and one column per channel")
        channels = tuple(c for c in rows[0] if c != "frame")
        return Timeline(channels, np.array([int(r["frame"]) for r in rows]),
                        np.array([[float(r[c]) for c in channels] for r in rows]))
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a values file ({e})") from None


def latents_for_timeline(w_face: np.ndarray, timeline: Timeline, directions: DirectionSet) -> np.ndarray:
    """The W+ code of every frame: (F, num_ws, w_dim)."""
    values = timeline.value_dict()
    # A channel the directions lack is fine while it stays at 0 (a script names all channels).
    unknown = [c for c, v in values.items() if c not in directions and np.any(v != 0)]
    if unknown:
        raise ValueError(f"the directions have no channel {', '.join(unknown)} "
                         f"(they have {', '.join(directions.names)})")
    values = {c: v for c, v in values.items() if c in directions}
    ws = compose_latent(np.asarray(w_face, dtype=np.float32).reshape(directions.num_ws, directions.w_dim),
                        values, directions)
    return ws.reshape(len(timeline), directions.num_ws, directions.w_dim)
