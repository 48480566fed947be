"""Per-frame channel values, from an emotion script's keyframes or a values file.

A ``Timeline`` holds keyframes and says what every frame from the first to the last asks for:
one value per channel, interpolated between keyframes (each frame on its own, see
``latent.interpolate_keyframes``). A values file's rows are keyframes too: a row per frame gives
those values exactly, and frame numbers mean frames (rows at 0 and 1,000,000 are a million and one
frames, filled in between). Frames are made in chunks (``chunks``, ``iter_latents``), so memory
stays bounded by a chunk whatever the length, and each frame's W+ code depends only on that
frame's values, so any frame can be rendered alone.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import FileError, parse_json, read_text
from .channels import VALUE_LIMIT, ChannelValueError, check_channel_value, normalize_word
from .directions import DirectionSet
from .latent import InterpolationMethod, Stacking, compose_latent, interpolate_keyframes
from .script import Clip


class ValuesFileError(FileError, ValueError):
    """A values file that cannot be read (missing, too large, not UTF-8, not JSON); names the file."""


CHUNK = 256
"""Frames per chunk of values / latents: small next to any frame batch's memory."""


@dataclass(frozen=True, eq=False)
class Timeline:
    """Channel values (K, C) at keyframes (K,) for ``channels`` (C,); every frame between the first
    and last keyframe is part of the timeline."""

    channels: tuple[str, ...]
    frames: np.ndarray
    values: np.ndarray
    method: InterpolationMethod = "linear"

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames).reshape(-1)
        if frames.size and not np.issubdtype(frames.dtype, np.integer):
            if not (np.isfinite(frames).all() and (frames == np.round(frames)).all()):
                raise ValueError("timeline frames must be whole numbers")
        frames = frames.astype(np.int64)
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (frames.size, len(self.channels)):
            raise ValueError(f"values must have shape ({frames.size}, {len(self.channels)}), got {values.shape}")
        if frames.size == 0:
            raise ValueError("a timeline needs at least one frame")
        if frames[0] < 0:
            raise ValueError(f"frame numbers must be 0 or more, got {frames[0]}")
        if (np.diff(frames) <= 0).any():
            raise ValueError("timeline frames must be strictly increasing")
        for k, c in np.argwhere(~(np.abs(values) <= VALUE_LIMIT))[:1]:  # NaN fails <= too
            check_channel_value(values[k, c], f"{self.channels[c]} at frame {frames[k]}")
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "values", values)

    @property
    def first(self) -> int:
        return int(self.frames[0])

    @property
    def last(self) -> int:
        return int(self.frames[-1])

    def __len__(self) -> int:
        """Frames from the first keyframe to the last."""
        return self.last - self.first + 1

    def values_at(self, frames: np.ndarray) -> np.ndarray:
        """(F, C) values at ``frames``."""
        if len(self.frames) == 1:
            return np.broadcast_to(self.values, (len(frames), len(self.channels))).copy()
        return interpolate_keyframes(self.frames, self.values, frames, self.method)

    def between(self, first: int, last: int) -> Timeline:
        """Frames ``first``–``last`` of this timeline (a chunk of a render split over several
        processes), each frame a keyframe holding the value it has here; ValueError outside it."""
        if not self.first <= first <= last <= self.last:
            raise ValueError(f"frames {first}-{last} are not within the timeline's {self.first}-{self.last}")
        frames = np.arange(first, last + 1)
        return Timeline(self.channels, frames, self.values_at(frames), "linear")

    def chunks(self, size: int = CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(frames, values) for every frame in order, ``size`` frames at a time."""
        for start in range(self.first, self.last + 1, size):
            frames = np.arange(start, min(start + size, self.last + 1))
            yield frames, self.values_at(frames)


def timeline_from_clip(clip: Clip, channels: Sequence[str] | None = None,
                       method: InterpolationMethod = "linear") -> Timeline:
    """Every frame from the clip's first keyframe to its last, interpolated between keyframes."""
    channels = tuple(channels) if channels is not None else tuple(clip.keyframes[0].values)
    key_values = [[k.values.get(c, 0.0) for c in channels] for k in clip.keyframes]
    return Timeline(channels, np.array([k.frame for k in clip.keyframes]), np.asarray(key_values, dtype=np.float64),
                    method)


def load_values(path: str | os.PathLike[str]) -> Timeline:
    """Keyframed values from a file: CSV with a ``frame`` column and one column per channel
    (column names as script words: any case, '-' or '_'), or JSON
    ``{"frames": [...], "channels": {"joy": [...], ...}}``. Errors name the file and the row."""
    path = Path(path)
    text = read_text(path, error=ValuesFileError)
    is_json = path.suffix.lower() == ".json"
    doc = parse_json(text, path, error=ValuesFileError) if is_json else None
    try:
        return _values_from_json(doc) if is_json else _values_from_csv(text)
    except ChannelValueError as e:
        raise ValueError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a values file ({e})") from None


def _values_from_json(data: object) -> Timeline:
    if not isinstance(data, Mapping) or not isinstance(data.get("channels"), Mapping):
        raise ValueError("expected an object with 'frames' and 'channels' (channel → list of values)")
    chans = {normalize_word(k.strip()): v for k, v in data["channels"].items()}
    frames = data["frames"]
    for name, vals in chans.items():
        if not isinstance(vals, list) or len(vals) != len(frames):
            raise ValueError(f"channel {name!r} needs one value per frame ({len(frames)})")
    return Timeline(tuple(chans), np.asarray(frames), np.asarray(list(chans.values()), dtype=float).T)


def _values_from_csv(text: str) -> Timeline:
    rows = [r for r in csv.reader(text.splitlines()) if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError("empty file; expected a header such as 'frame,joy,anger' and one row per keyframe")
    header = [normalize_word(c.strip()) for c in rows[0]]
    if "frame" not in header:
        raise ValueError(f"the header {','.join(rows[0])!r} has no 'frame' column")
    if len(rows) == 1:
        raise ValueError("the header has no rows under it")
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise ValueError(f"column {dupes[0]!r} appears twice in the header")
    fi = header.index("frame")
    channels = tuple(c for c in header if c != "frame")
    frames, values = [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"row {line} has {len(row)} cells, the header has {len(header)}")
        try:
            frame = int(row[fi])
        except ValueError:
            raise ValueError(f"row {line}: frame {row[fi]!r} is not a whole number") from None
        vals = []
        for c, cell in zip(header, row):
            if c == "frame":
                continue
            try:
                number = float(cell)
            except ValueError:
                raise ValueError(f"row {line}, {c}: {cell!r} is not a number") from None
            vals.append(check_channel_value(number, f"row {line}, {c}"))
        frames.append(frame)
        values.append(vals)
    return Timeline(channels, np.array(frames), np.array(values, dtype=float).reshape(len(frames), len(channels)))


def iter_latents(w_face: np.ndarray, timeline: Timeline, directions: DirectionSet,
                 chunk: int = CHUNK, stacking: Stacking = "cap") -> Iterator[np.ndarray]:
    """The W+ codes of every frame, (n, num_ws, w_dim) ``chunk`` frames at a time; ``stacking`` as
    in ``latent.compose_latent``."""
    # A channel the directions lack is fine while it stays at 0 (a script names all channels).
    used = ~np.all(timeline.values == 0, axis=0)
    unknown = [c for c, u in zip(timeline.channels, used) if u and c not in directions]
    if unknown:
        raise ValueError(f"the directions have no channel {', '.join(unknown)} "
                         f"(they have {', '.join(directions.names)})")
    keep = [i for i, c in enumerate(timeline.channels) if c in directions]
    w = np.asarray(w_face, dtype=np.float32).reshape(directions.num_ws, directions.w_dim)
    for _, values in timeline.chunks(chunk):
        ws = compose_latent(w, {timeline.channels[i]: values[:, i] for i in keep}, directions, stacking)
        # No channel in use (a values file with only a frame column): the neutral face on every frame.
        yield np.array(np.broadcast_to(ws, (len(values), directions.num_ws, directions.w_dim)))
