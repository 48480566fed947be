"""The loaded face rig: generator + directions, kept across operators (no bpy here).

Loading a generator takes seconds, so the rig is loaded once per (model, directions, device)
and reused until one of the files changes on disk. Everything that decides a frame is plain data:
``FaceSpec`` (seed, truncation, per-channel tuning) and a channel-value dict.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .backend.animation.channels import CHANNEL_NAMES
from .backend.animation.directions import DirectionSet, load_directions
from .backend.animation.latent import compose_latent
from .paths import MODEL_DIR

if TYPE_CHECKING:  # these import torch and cv2, which may not be installed yet
    from .backend.rendering.frame_cache import FrameCache, RenderTarget

DEFAULT_MODEL = MODEL_DIR / "generator.safetensors"
DEFAULT_DIRECTIONS = MODEL_DIR / "directions.json"
# A face's recorded generator or directions path meaning "the model shipped with the extension",
# wherever the extension is installed on this machine (its fingerprint is recorded all the same).
DEFAULT_RECORD = "<default model>"


class RigError(Exception):
    """The rig cannot be set up or used; the message says what to change."""


@dataclass(frozen=True)
class Tuning:
    """A face's change to one channel's direction: strength × ``scale``, and optionally other rows."""

    scale: float = 1.0
    layers: tuple[int, int] | None = None


@dataclass(frozen=True)
class FaceSpec:
    """What a face is besides its channel values."""

    seed: int
    truncation: float
    tuning: Mapping[str, Tuning] = dataclasses.field(default_factory=dict, hash=False)
    # Face from Photo: the start latent, a W+ code as float32 bytes, in place of seed and truncation,
    # and the fingerprint of the generator it was inverted for.
    code: bytes | None = None
    code_fingerprint: str = ""


@dataclass(frozen=True)
class RigPaths:
    model: Path
    directions: Path
    device: str
    engine: str = "auto"  # what makes CPU frames (backend.model.engines.pick_engine)
    graphs: Path | None = None  # where the onnx engine's exported graphs are cached (None: torch only)


def short(fingerprint: str) -> str:
    """A fingerprint as messages show it."""
    return fingerprint[:12] + "…" if fingerprint else "(not recorded)"


@dataclass(frozen=True)
class FaceRig:
    """The generator and directions one face renders with (plain values, safe on the worker): the
    files it records (``records``), resolved on this machine, and the fingerprints it recorded
    ("" where not recorded yet; a face from before the record has ``recorded`` empty and follows the
    preferences)."""

    label: str
    paths: RigPaths
    model_fingerprint: str = ""
    directions_fingerprint: str = ""
    recorded: tuple[str, str] = ("", "")  # the generator and directions paths as the face records them

    def check(self, rig: "Rig") -> None:
        """RigError naming the face, the file and both fingerprints when ``rig``'s files are not the
        ones the face was made with: a different file renders a different person."""
        found = (("generator", self.recorded[0], rig.paths.model, self.model_fingerprint, rig.info.fingerprint),
                 ("directions", self.recorded[1], rig.paths.directions, self.directions_fingerprint,
                  rig.directions.fingerprint))
        for what, recorded, path, expected, actual in found:
            if expected and expected != actual:
                raise RigError(f"{self.label} was made with the {what} file {recorded or path} (fingerprint "
                               f"{short(expected)}); the file found at {path} has fingerprint {short(actual)}, "
                               f"another {what}: relink the face to its file (Emotion panel › Generator) — "
                               "nothing was rendered with the wrong one")


def resolve_model(model: str) -> Path:
    """The model file: the given one, else $LATENT_EMOTION_MODEL, else the default model shipped
    with the extension (not checked further)."""
    model = model or os.environ.get("LATENT_EMOTION_MODEL", "")
    if not model:
        if not DEFAULT_MODEL.is_file():
            raise RigError("no face model chosen: set one in the add-on preferences (Latent Emotion › Model)")
        model = str(DEFAULT_MODEL)
    return Path(model).expanduser().resolve()


def resolve_paths(model: str, directions: str, device: str, engine: str = "auto",
                  graphs: Path | None = None) -> RigPaths:
    """Absolute paths of the model and directions: the given ones, else $LATENT_EMOTION_MODEL /
    $LATENT_EMOTION_DIRECTIONS, else the default model shipped with the extension."""
    model = str(resolve_model(model))
    directions = directions or os.environ.get("LATENT_EMOTION_DIRECTIONS", "")
    if not directions:
        from .backend.model.checkpoints import CheckpointError, check_checkpoint_file

        try:  # the model's own problem comes first: without a model no directions file can help
            check_checkpoint_file(Path(model).expanduser())
        except CheckpointError as e:
            raise RigError(f"face model: {e}") from None
        sibling = Path(model).with_name("directions.json")
        if Path(model).parent == MODEL_DIR and DEFAULT_DIRECTIONS.is_file():
            directions = str(DEFAULT_DIRECTIONS)
        elif sibling.is_file():
            directions = str(sibling)
        else:
            raise RigError("no directions file chosen: set one in the add-on preferences (Latent Emotion › Directions)")
    return RigPaths(Path(model).expanduser().resolve(), Path(directions).expanduser().resolve(), device or "cpu",
                    engine, graphs)


class Rig:
    """A generator and its emotion directions, checked against each other."""

    def __init__(self, paths: RigPaths) -> None:
        from .backend.model.checkpoints import load_generator
        from .backend.model.devices import pick_device
        from .backend.model.engines import pick_engine
        from .backend.rendering.frame_cache import RenderTarget, key_fingerprint

        self.paths = paths
        self.G, self.info = load_generator(paths.model, pick_device(paths.device))
        self.directions: DirectionSet = load_directions(
            paths.directions, expect_fingerprint=self.info.fingerprint, num_ws=self.info.num_ws, w_dim=self.info.w_dim)
        self.device_type: str = self.G.device.type
        self.threads = 0  # torch's CPU threads the last use_threads() chose (0: not yet, or a GPU)
        self.use_threads()  # the onnx engine's first session takes the policy's count
        # The engine is chosen once, with the model: frame keys carry its name. A first load on this
        # machine exports the graph (seconds; cached in paths.graphs).
        self.engine = pick_engine(self.G, self.info.fingerprint, paths.engine, graphs=paths.graphs)
        self.target = RenderTarget(key_fingerprint(self.info.fingerprint, self.device_type, engine=self.engine.name),
                                   self.info.resolution)
        self.synthesize = self.engine.frames
        self._faces: dict[tuple[int, float], np.ndarray] = {}

    def use_threads(self) -> int:
        """On the CPU, set torch's threads for this model's frames (``backend.model.threads``: one for a
        small model, the free cores for a big one); the worker calls it before each order."""
        if self.device_type == "cpu":
            from .backend.model.threads import use_threads_for

            self.threads = use_threads_for(self.G.config)
        return self.threads

    @property
    def resolution(self) -> int:
        return self.info.resolution

    def preview_stop(self, size: int) -> int:
        """Where synthesis can stop for a preview of ``size`` pixels (``Generator.preview_resolution``):
        a block's resolution below the model's, else 0 (the full frame is needed)."""
        stop = self.G.preview_resolution(size) if size > 0 else self.resolution
        return stop if stop < self.resolution else 0

    def target_at(self, stop_at: int = 0) -> RenderTarget:
        """What names the frames synthesis makes when it stops at ``stop_at`` (0: the full frames).
        The resolution is part of the key, so a preview frame is never taken for a final one."""
        return self.target if not stop_at else dataclasses.replace(self.target, resolution=stop_at)

    @property
    def extra_channels(self) -> tuple[str, ...]:
        """Channels of the directions file beyond the built-in ones."""
        return tuple(n for n in self.directions.names if n not in CHANNEL_NAMES)

    def face_latent(self, seed: int, truncation: float) -> np.ndarray:
        """The W+ code (num_ws, w_dim) of a seed's face."""
        key = (int(seed), float(truncation))
        if key not in self._faces:
            self._faces[key] = self.G.w_from_seed(key[0], truncation_psi=key[1]).cpu().numpy()[0]
        return self._faces[key]

    def start_latent(self, face: FaceSpec) -> np.ndarray:
        """The face's W+ code before its channels: its photo's code, else its seed's face."""
        if face.code is None:
            return self.face_latent(face.seed, face.truncation)
        if face.code_fingerprint != self.info.fingerprint:
            raise RigError("the face's photo code was made for another face model: run Face from Photo again "
                           "(or clear the photo to use the seed)")
        shape = (self.info.num_ws, self.info.w_dim)
        code = np.frombuffer(face.code, dtype=np.float32)
        if code.size != shape[0] * shape[1] or not np.isfinite(code).all():
            raise RigError(f"the face's photo code holds {code.size} values, not the model's {shape[0]}×{shape[1]} "
                           "finite ones: run Face from Photo again")
        return code.reshape(shape)

    def tuned_directions(self, tuning: Mapping[str, Tuning]) -> DirectionSet:
        """The directions with a face's strength scales and layer ranges applied."""
        if not tuning:
            return self.directions
        out = []
        for d in self.directions:
            t = tuning.get(d.name)
            if t is None or (t.scale == 1.0 and t.layers is None):
                out.append(d)
                continue
            layers = d.layers if t.layers is None else t.layers
            if not 0 <= layers[0] < layers[1] <= self.directions.num_ws:
                raise RigError(f"channel {d.name!r}: layer range {layers[0]}-{layers[1]} must lie within "
                               f"0-{self.directions.num_ws} with start < stop")
            if t.scale <= 0:
                raise RigError(f"channel {d.name!r}: strength must be positive, got {t.scale:g}")
            out.append(dataclasses.replace(d, strength=d.strength * t.scale, layers=layers))
        return dataclasses.replace(self.directions, directions=tuple(out))

    def latents(self, face: FaceSpec, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """W+ codes (F, num_ws, w_dim) for per-frame channel ``values`` (channel → (F,) array)."""
        directions = self.tuned_directions(face.tuning)
        unknown = sorted(c for c, v in values.items() if c not in directions and np.any(np.asarray(v) != 0))
        if unknown:
            raise RigError(f"the directions file has no channel {', '.join(unknown)} "
                           f"(it has {', '.join(directions.names)}); set those channels to 0")
        used = {c: np.asarray(v, dtype=np.float64) for c, v in values.items() if c in directions}
        n = len(next(iter(values.values()))) if values else 1
        w = self.start_latent(face)
        if not used:
            return np.broadcast_to(w, (n, *w.shape)).astype(np.float32)
        return compose_latent(w, used, directions).reshape(n, *w.shape)

    def keys(self, ws: np.ndarray) -> list[str]:
        return [self.target.key(w) for w in ws]

    def ensure_frames(self, ws: np.ndarray, cache: FrameCache, stop_at: int = 0) -> None:
        """Compute the frames of ``ws`` that the cache lacks (one per call, in order); ``stop_at``:
        low-resolution previews (``preview_stop``), else full frames."""
        from .backend.rendering.frame_cache import iter_frames

        synthesize = self.synthesize if not stop_at else (lambda batch: self.engine.frames(batch, stop_at=stop_at))
        for _ in iter_frames(ws, self.target_at(stop_at), synthesize, cache, batch_size=1):
            pass


_lock = threading.Lock()
KEEP_RIGS = 2  # rigs kept loaded (faces of one scene may record different generators)
_rigs: dict[RigPaths, tuple[tuple, Rig]] = {}  # paths → (file stamp, rig), the most recently used last
_failed: dict[RigPaths, tuple[tuple, RigError]] = {}  # paths → (stamp, error) of the last failed load


def _file_stamp(paths: RigPaths) -> tuple:
    def stat(p: Path) -> tuple:
        try:
            st = p.stat()
            return (st.st_mtime_ns, st.st_size)
        except OSError:
            return (None, None)
    return (paths, stat(paths.model), stat(paths.directions))


def get_rig(paths: RigPaths) -> Rig:
    """The rig for ``paths``, loaded once and reloaded when a file changes on disk."""
    with _lock:
        stamp = _file_stamp(paths)
        held = _rigs.pop(paths, None)
        if held is not None and held[0] == stamp:
            _rigs[paths] = held  # the most recently used last
            return held[1]
        failed = _failed.get(paths)
        if failed is not None and failed[0] == stamp:
            raise failed[1]  # the same files fail the same way: no reload per frame change
        try:
            rig = Rig(paths)
        except Exception as e:  # CheckpointError, DirectionsError, ValueError from devices...
            _failed[paths] = (stamp, RigError(str(e)))
            raise _failed[paths][1] from e
        _failed.pop(paths, None)
        _rigs[paths] = (stamp, rig)
        while len(_rigs) > KEEP_RIGS:
            _rigs.pop(next(iter(_rigs)))
        return rig


def get_face_rig(face: FaceRig) -> Rig:
    """The rig a face renders with, checked against the fingerprints it recorded."""
    try:
        rig = get_rig(face.paths)
    except RigError as e:
        if not face.recorded[0]:
            raise
        raise RigError(f"{face.label} was made with the generator {face.recorded[0]} (fingerprint "
                       f"{short(face.model_fingerprint)}) and the directions {face.recorded[1]} (fingerprint "
                       f"{short(face.directions_fingerprint)}); the files found at {face.paths.model} and "
                       f"{face.paths.directions} do not load together: {e}") from None
    face.check(rig)
    return rig


def loaded_rig(paths: RigPaths) -> Rig | None:
    """The rig for ``paths`` if it is loaded and current, else None; never loads, never waits
    (the main thread asks this while a worker thread may be loading the rig)."""
    if not _lock.acquire(blocking=False):
        return None
    try:
        held = _rigs.get(paths)
        return held[1] if held is not None and held[0] == _file_stamp(paths) else None
    finally:
        _lock.release()


def forget_rig() -> None:
    """Drop the loaded rigs (on unregister), so their memory can go."""
    with _lock:
        _rigs.clear()
        _failed.clear()
