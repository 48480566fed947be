"""Baking: the numbered image files a face shows, made from the backend's frame cache (no bpy here).

A face shows a folder of numbered PNG files (an image sequence). Baking a frame means: compose
its W+ code, compute it into the frame cache if the cache lacks it (only frames whose W+ code
changed are ever computed), then make the file the face shows for that frame — a hard link to
the cached PNG (``FrameCache.link_sequence``), or a resized copy when the face's resolution is
not the model's.

Each folder has an index (``.latent_emotion.json``): file name → the frame key and size it holds,
with the file's inode and size, so a file already holding the right frame is left alone and a
file rewritten by anyone else is redone.

``BakeJob`` works one file per ``step()``; render handlers and scripts call ``run()``. The modal
Bake operator leaves the generator to the worker thread (``pending_codes`` in a ``BakeOrder``: one
frame a step) and makes the files of the frames it finished from a timer (``link_ready``).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .backend.files import write_atomic
from .backend.jobs import Cancel, Progress, check_cancel
from .rig import FaceSpec, Rig, RigPaths, get_rig

if TYPE_CHECKING:
    from .backend.rendering.frame_cache import FrameCache
    from .worker import Finished

INDEX_NAME = ".latent_emotion.json"


@dataclass(frozen=True, eq=False)
class SequenceRequest:
    """Frames one face needs: scene ``frames`` shown from ``filenames`` in ``folder``."""

    label: str
    folder: Path
    frames: tuple[int, ...]
    filenames: tuple[str, ...]
    face: FaceSpec
    values: Mapping[str, np.ndarray]  # channel → (F,) values at ``frames``
    resolution: int = 0  # output size in pixels; 0: the model's
    # Previews: the size synthesis may stop at (``Rig.preview_stop``: a block at least this big), so a
    # big model's preview costs a fraction of its frame; 0: full frames.
    preview_size: int = 0


@dataclass
class BakeStats:
    frames: int = 0  # frames looked at
    computed: int = 0  # synthesized (the cache lacked them)
    written: int = 0  # files (re)made in a sequence folder


class SequenceIndex:
    """A folder's record of which frame each file holds."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries: dict[str, dict] = self._read()
        self._changed: dict[str, dict] = {}

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads((self.folder / INDEX_NAME).read_text(encoding="utf-8"))
            return {k: v for k, v in data.get("files", {}).items() if isinstance(v, dict)}
        except (OSError, ValueError, AttributeError):
            return {}

    def holds(self, filename: str, key: str, resolution: int | None) -> bool:
        """Whether the file holds the frame ``key`` at ``resolution`` (None: at any size)."""
        entry = self.entries.get(filename)
        if entry is None or entry.get("key") != key or resolution is not None and entry.get("resolution") != resolution:
            return False
        try:
            st = (self.folder / filename).stat()
        except OSError:
            return False
        return entry.get("inode") == st.st_ino and entry.get("size") == st.st_size

    def record(self, filename: str, key: str, resolution: int) -> None:
        st = (self.folder / filename).stat()
        entry = {"key": key, "resolution": resolution, "inode": st.st_ino, "size": st.st_size}
        self.entries[filename] = entry
        self._changed[filename] = entry

    def save(self) -> None:
        """Write the index, merged with what another process may have written meanwhile."""
        if not self._changed:
            return
        merged = {**self._read(), **self._changed}
        text = json.dumps({"format": "latent-emotion.sequence", "files": merged}, indent=0, sort_keys=True)
        write_atomic(self.folder / INDEX_NAME, text)
        self._changed = {}


@dataclass
class _Item:
    request: int
    frame: int
    filename: str
    key: str
    w: np.ndarray
    stop_at: int


# Frames whose W+ codes are made at a time: a bake of any length holds this many codes, never all
# of them (a million frames of a 12-row, 256-wide model would be 12 GB of codes).
WINDOW = 256


@dataclass
class BakeJob:
    """The files some faces need, made one per ``step()``; frames are planned a window at a time."""

    rig: Rig
    cache: FrameCache
    requests: Sequence[SequenceRequest]
    stats: BakeStats = field(default_factory=BakeStats)
    changed: set[int] = field(default_factory=set)  # indices of requests whose files were remade
    # Preview: a file holding the frame at another size stays (a baked full-size frame is not
    # replaced by a smaller one while scrubbing).
    any_size: bool = False

    def __post_init__(self) -> None:
        self._indexes: list[SequenceIndex] = []
        for req in self.requests:
            req.folder.mkdir(parents=True, exist_ok=True)
            self._indexes.append(SequenceIndex(req.folder))
        self.stats.frames = sum(len(req.frames) for req in self.requests)
        self.total = sum(1 for _ in self.items())  # files to make (a counting pass, a window at a time)
        self.done = 0  # files made
        self._pending = self.items()
        self._todo: deque[_Item] = deque()

    def codes(self, r: int, start: int, stop: int) -> np.ndarray:
        """W+ codes of request ``r``'s frames ``start:stop``."""
        req = self.requests[r]
        if not req.values:
            w = self.rig.latents(req.face, {})
            return np.broadcast_to(w[0], (stop - start, *w.shape[1:]))
        return self.rig.latents(req.face, {c: np.asarray(v)[start:stop] for c, v in req.values.items()})

    def items(self) -> Iterator[_Item]:
        """The frames whose files must be made, in order, each file once; codes are made a window
        at a time. Reads the rig, the folders' indexes and files: no bpy, so a worker may walk it."""
        for r, req in enumerate(self.requests):
            res = None if self.any_size else self.resolution(req)
            stop_at = self.rig.preview_stop(req.preview_size)
            target, index = self.rig.target_at(stop_at), self._indexes[r]
            seen: set[str] = set()
            for a in range(0, len(req.frames), WINDOW):
                for i, w in enumerate(self.codes(r, a, min(a + WINDOW, len(req.frames))), start=a):
                    key, filename, stop = target.key(w), req.filenames[i], stop_at
                    if stop:  # a preview: its full frame, where baked or cached, is better and free
                        full = self.rig.target.key(w)
                        if self.any_size and index.holds(filename, full, None):
                            continue
                        if self.cache.contains(full):
                            key, stop = full, 0
                    if filename in seen or index.holds(filename, key, res):
                        continue
                    seen.add(filename)
                    yield _Item(r, req.frames[i], filename, key, np.array(w), stop)

    def _plan(self) -> None:
        """Take the next window of frames to make from the lazy walk."""
        for item in itertools.islice(self._pending, WINDOW):
            self._todo.append(item)

    def resolution(self, req: SequenceRequest) -> int:
        return req.resolution or self.rig.resolution

    def uncached(self) -> list[str]:
        """Keys of the frames still to make that the cache lacks: those need the generator."""
        return [item.key for item in self.items() if not self.cache.contains(item.key)]

    def pending_codes(self) -> PendingCodes:
        """W+ codes of the frames still to make that the cache lacks, each once, in order: the
        generator's part of the job (for a worker thread), made a window at a time."""
        return PendingCodes(self)

    def link_ready(self) -> int:
        """Make the files of the next frames that the cache holds (never the generator); how many."""
        made = 0
        while not self.finished and self.cache.contains(self._todo[0].key):
            self.step()
            made += 1
        return made

    @property
    def finished(self) -> bool:
        if not self._todo:
            self._plan()
        return not self._todo

    @property
    def current(self) -> str:
        """What the next step works on, for progress messages."""
        if self.finished:
            return "done"
        item = self._todo[0]
        return f"{self.requests[item.request].label}, frame {item.frame}"

    def step(self) -> bool:
        """Make the next file (computing its frame first if the cache lacks it); False when done."""
        if self.finished:
            return False
        item = self._todo.popleft()
        req = self.requests[item.request]
        if not self.cache.contains(item.key):
            self.rig.ensure_frames(item.w[None], self.cache, item.stop_at)
            self.stats.computed += 1
        res = self.resolution(req)
        if res == self.rig.target_at(item.stop_at).resolution:
            pattern = item.filename.replace("{", "{{").replace("}", "}}")
            self.cache.link_sequence([item.key], req.folder, pattern=pattern)
        else:
            _write_resized(self.cache, item.key, req.folder / item.filename, res)
        self._indexes[item.request].record(item.filename, item.key, res)
        self.stats.written += 1
        self.changed.add(item.request)
        self.done += 1
        return not self.finished

    def close(self) -> None:
        """Save the folders' indexes (also after a cancelled or failed bake)."""
        for index in self._indexes:
            index.save()

    def run(self, progress: Progress | None = None, cancel: Cancel | None = None) -> BakeStats:
        """Every step: ``progress("baking", done, total)`` after each, ``Cancelled`` once ``cancel()``
        (the files made so far and the folders' indexes stay)."""
        try:
            while not self.finished:
                check_cancel(cancel, f"bake cancelled after {self.done} of {self.total} files")
                self.step()
                if progress is not None:
                    progress("baking", self.done, self.total)
        finally:
            self.close()
        return self.stats


def _write_resized(cache: FrameCache, key: str, path: Path, size: int) -> None:
    from .backend.rendering.render import resize
    from .backend.rendering.video import encode_png

    frame = cache.get(key)
    if frame is None:
        raise FileNotFoundError(f"frame {key} vanished from the cache at {cache.root}")
    write_atomic(path, encode_png(resize(frame, size)))


ERROR_KEY = "error"  # index key of an error frame: never a frame's key, so always replaced by a bake
ERROR_COLOUR = (255, 0, 255)


def write_error_frames(folder: Path, filenames: Sequence[str], size: int) -> None:
    """Fill ``filenames`` with a plain magenta frame of ``size`` pixels: what a render shows where a
    face's frame could not be made, instead of a missing file or a stale frame."""
    from .backend.rendering.video import encode_png

    data = encode_png(np.broadcast_to(np.array(ERROR_COLOUR, np.uint8), (size, size, 3)).copy())
    folder.mkdir(parents=True, exist_ok=True)
    index = SequenceIndex(folder)
    for name in filenames:
        write_atomic(folder / name, data)
        index.record(name, ERROR_KEY, size)
    index.save()


class PendingCodes:
    """The W+ codes a bake must compute (the cache lacks them), each once, as (stop_at, code) pairs
    (``Rig.preview_stop``; 0: full frames): counted when made, then made again a window at a time when
    iterated (on the worker), so memory stays bounded."""

    def __init__(self, job: BakeJob) -> None:
        self._job = job
        self._count = sum(1 for _ in self)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        seen: set[str] = set()
        for item in self._job.items():
            if item.key not in seen and not self._job.cache.contains(item.key):
                seen.add(item.key)
                yield item.stop_at, item.w


@dataclass(eq=False)
class BakeOrder:
    """Frames a bake needs that the cache lacks: computed one per step; ``computed`` and ``outcome``
    are written by the worker thread and read by the main thread."""

    paths: RigPaths
    cache_root: Path
    ws: Iterable[tuple[int, np.ndarray]]  # (stop_at, W+ code (num_ws, w_dim)), with len(): baking.PendingCodes
    computed: int = 0
    outcome: Finished | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def run(self) -> Iterator[int]:
        from .backend.rendering.frame_cache import FrameCache

        rig = get_rig(self.paths)
        rig.use_threads()
        cache = FrameCache(self.cache_root)
        for stop_at, w in self.ws:
            if self.cancelled.is_set():
                return
            rig.ensure_frames(w[None], cache, stop_at)
            self.computed += 1
            yield self.computed
