"""Performance capture: a video of a face -> per-frame values of the nine channels.

Each frame is read by ``backend.readers`` and one face is followed through the video: the detector
runs on the first frame, when the face is lost and every ``DETECT_EVERY`` frames, and in between the
face is tracked by the detector's last stage alone on the last frame's box (``FaceTracker.track``).
Its readings become channel values (``reading_channels``, the mapping below), frames where it is
missing are filled (``fill_gaps``) and reported, and the curves are smoothed with the One-Euro
filter (``backend.readers.smoothing``). ``values_csv`` writes what ``render --values`` reads;
``keyframe_indices`` thins it to keyframes within a tolerance.

The mapping (``reading_channels``), each value clipped to ±``VALUE_LIMIT``:

- joy, sadness, anger, fear, surprise, disgust: face-api's expression probability of happy, sad,
  angry, fearful, surprised, disgusted (0..1; a neutral face puts its mass on "neutral", so all six
  are near 0). fer's reader is never used here: it stays the independent evaluator.
- eye_close: ``(eye_open - EAR) / (eye_open - eye_shut)`` of the mean eye aspect ratio of both
  eyes: 0 for eyes open at rest (EAR 0.30), 1 shut (EAR 0.05), negative when opened wider.
- mouth_open: inner-lip gap over inner mouth width divided by ``mouth_full`` (0.6, a jaw dropped
  open): 0 closed, 1 wide open.
- head_turn: ``FaceGeometry.yaw / yaw_full``. yaw is positive when the nose moves toward the
  image's right, which is our +1 (the face turned toward the image's right, as the default model
  draws it); ``yaw_full`` 0.5 is where a head model with the nose tip 0.7 half-face-widths in front
  of the jaw's ends puts a 35 degree turn, the default model's head_turn 1. The constants are
  typical values; ``rest_calibrated`` (``capture(rest_frame=...)``) re-zeroes eye_close, mouth_open
  and head_turn on a frame where the actor is at rest, for faces that differ from them.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..animation.channels import CHANNEL_NAMES, VALUE_LIMIT, check_channel_value
from ..jobs import Cancel, Progress, check_cancel
from .nets.mtcnn import DetectedFace
from .nets.densenet import FACEAPI_SIZE
from .reading import FaceGeometry, FaceReaders, FaceReading, Probabilities, as_rgb, face_geometry, refusal, square_crop
from .smoothing import OneEuro, one_euro_filter

GapFill = Literal["interpolate", "hold"]
GAP_FILLS: tuple[GapFill, ...] = ("interpolate", "hold")

# channel <- face-api expression label
EMOTION_LABELS: dict[str, str] = {"joy": "happy", "sadness": "sad", "anger": "angry", "fear": "fearful",
                                  "surprise": "surprised", "disgust": "disgusted"}
SAME_PERSON = 0.5  # cosine similarity of face-api descriptors above which two faces are one person
# Once followed, the face is looked for near its last place (a square FOLLOW_REGION times its size)
# and at FOLLOW_MIN_SIZE of its size and up: the detector scans a fraction of the frame and skips
# its finest (costliest) pyramid levels. A frame where that misses it is scanned again in full.
FOLLOW_REGION = 3.0
FOLLOW_MIN_SIZE = 0.5
# Between detections the face is tracked: the detector's last stage (O-Net, ``MTCNN.refine``) alone
# on the square about the last box gives this frame's box: 3.6 ms of CPU on one thread against 29
# for a scan about the last face and 160 for a whole 512 px frame.
# A tracked box the readers would refuse (``reading.refusal``: too small or too unsure), or one that
# grew or shrank more than TRACK_GROWTH times in a frame, loses the face and the frame is detected;
# a tracked frame whose landmarks disagree with the box's points is not read (a gap), as a detected
# one would not be, and the next frame is detected. The detector still runs every
# DETECT_EVERY frames (the identity check picks the followed person among what it finds), and the
# per-face readers run on TRACK_BATCH frames at once (landmarks at batch 8: 3.3 ms a face, alone 6.3).
TRACK_GROWTH = 1.5
DETECT_EVERY = 10
TRACK_BATCH = 8


@dataclass(frozen=True)
class ChannelCalibration:
    """Landmark measures that read as channel value 0 (at rest) and 1 (full); see the module docstring."""

    eye_open: float = 0.30
    eye_shut: float = 0.05
    mouth_full: float = 0.6
    yaw_full: float = 0.5

    def __post_init__(self) -> None:
        if not (self.eye_open > self.eye_shut >= 0 and self.mouth_full > 0 and self.yaw_full > 0):
            raise ValueError(f"calibration needs eye_open > eye_shut >= 0 and positive mouth_full, yaw_full: {self}")


def reading_channels(reading: FaceReading, calibration: ChannelCalibration = ChannelCalibration()) -> np.ndarray:
    """The nine channel values ``[9]`` (``CHANNEL_NAMES`` order) of one face's reading."""
    return channel_values(reading.expression, reading.geometry, calibration)


def channel_values(expression: Probabilities, geometry: FaceGeometry,
                   calibration: ChannelCalibration = ChannelCalibration()) -> np.ndarray:
    """The nine channel values ``[9]`` of face-api's expression and the landmarks' geometry."""
    g, c = geometry, calibration
    geometric = {
        "eye_close": (c.eye_open - (g.eye_open_left + g.eye_open_right) / 2) / (c.eye_open - c.eye_shut),
        "mouth_open": g.mouth_open / c.mouth_full,
        "head_turn": g.yaw / c.yaw_full,
    }
    values = [expression[EMOTION_LABELS[n]] if n in EMOTION_LABELS else geometric[n] for n in CHANNEL_NAMES]
    return np.clip(np.array(values, dtype=np.float64), -VALUE_LIMIT, VALUE_LIMIT)


_REST = {name: CHANNEL_NAMES.index(name) for name in ("eye_close", "mouth_open", "head_turn")}


def rest_calibrated(values: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Channel values ``[T, 9]`` re-zeroed on ``rest`` ``[9]`` (an actor's values at rest): eye_close
    and mouth_open map rest -> 0 and keep 1 at 1; head_turn is shifted by the rest value. Emotions
    are left alone (a neutral face already reads about 0)."""
    out = np.array(values, dtype=np.float64)
    for name in ("eye_close", "mouth_open"):
        r = float(rest[_REST[name]])
        if r > 0.5:
            raise ValueError(f"the rest frame reads {name} {r:.2f}: pick a frame with open eyes and closed mouth")
        out[:, _REST[name]] = (out[:, _REST[name]] - r) / (1 - r)
    out[:, _REST["head_turn"]] -= rest[_REST["head_turn"]]
    return np.clip(out, -VALUE_LIMIT, VALUE_LIMIT)


class FaceTracker:
    """Follows one person: the ``face``-th face (largest first) of the first frame with enough faces,
    then in each frame the face nearest the last position among those whose identity matches
    (cosine similarity of face-api descriptors at least ``SAME_PERSON``); none: the face is missing."""

    def __init__(self, face: int = 0):
        if face < 0:
            raise ValueError(f"the face index counts from 0, got {face}")
        self.face = face
        self.identity: np.ndarray | None = None
        self.centre: np.ndarray | None = None
        self.size: float | None = None  # the last box's longer side, px
        self.box: tuple[float, float, float, float] | None = None  # the last frame's box; None: not there

    def look(self, readers: FaceReaders, frame: np.ndarray) -> list[DetectedFace] | None:
        """Detections near the followed face's last place and size, or None before it is found (for
        ``FaceReaders.read`` to scan the whole frame)."""
        if self.size is None:
            return None
        (cx, cy), half = self.centre, FOLLOW_REGION * self.size / 2
        region = (math.floor(cx - half), math.floor(cy - half), math.ceil(cx + half), math.ceil(cy + half))
        return readers.detect(frame, FOLLOW_MIN_SIZE * self.size, region)

    def track(self, readers: FaceReaders, frame: np.ndarray) -> DetectedFace | None:
        """The face in ``frame`` (uint8 RGB) from the last frame's box by the detector's last stage alone
        (``MTCNN.refine``), or None when it was not there or is lost (``refusal``, ``TRACK_GROWTH``)."""
        if self.box is None:
            return None
        found = readers.detector.refine(frame, self.box)
        if found is None or refusal(found) is not None:
            self.box = None
            return None
        x1, y1, x2, y2 = found.box
        size = max(x2 - x1, y2 - y1)
        if not 1 / TRACK_GROWTH <= size / self.size <= TRACK_GROWTH:
            self.box = None
            return None
        self.box, self.size, self.centre = found.box, size, np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        return found

    def pick(self, faces: list[FaceReading]) -> FaceReading | None:
        """The followed face among ``faces``, or None."""
        self.box = None
        if self.identity is None:
            if len(faces) <= self.face:
                return None
            chosen = faces[self.face]
            self.identity = chosen.identity
        else:
            same = [f for f in faces if float(f.identity @ self.identity) >= SAME_PERSON]
            if not same:
                return None
            chosen = min(same, key=lambda f: float(np.hypot(*(_centre(f) - self.centre))))
            mean = 0.9 * self.identity + 0.1 * chosen.identity  # follows slow change (light, age of a take)
            self.identity = mean / np.linalg.norm(mean)
        self.centre, self.box = _centre(chosen), chosen.box
        x1, y1, x2, y2 = chosen.box
        self.size = max(x2 - x1, y2 - y1)
        return chosen


def _centre(face: FaceReading) -> np.ndarray:
    x1, y1, x2, y2 = face.box
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2])


@dataclass(frozen=True)
class CaptureResult:
    """A captured performance: per-frame values ``[T, 9]`` (``CHANNEL_NAMES``) and what happened."""

    fps: float
    raw: np.ndarray  # [T, 9] per-frame readings as mapped (before rest frame and smoothing), NaN: no face
    values: np.ndarray  # [T, 9] gaps filled and smoothed, within ±VALUE_LIMIT
    found: np.ndarray  # [T] bool: the followed face was read in this frame
    # [T] faces the detector found per frame (once followed: near it, at least half its size);
    # 1 in a frame where the face was tracked (no detector run)
    face_counts: np.ndarray
    gaps: tuple[tuple[int, int], ...]  # first and last frame of each run without the face
    gap_fill: GapFill
    detector_runs: int = 0  # MTCNN scans (a region, then maybe the whole frame) over all frames


def capture(frames: Iterable[np.ndarray], fps: float, readers: FaceReaders, *, face: int = 0,
            gap_fill: GapFill = "interpolate", smoothing: OneEuro | None = OneEuro(),
            calibration: ChannelCalibration = ChannelCalibration(), rest_frame: int | None = None,
            progress: Progress | None = None, total: int = 0, cancel: Cancel | None = None,
            detect_every: int = DETECT_EVERY, batch: int = TRACK_BATCH) -> CaptureResult:
    """Read every frame, follow face ``face``, re-zero on ``rest_frame`` (``rest_calibrated``), fill
    gaps and smooth (``smoothing`` None: unsmoothed). The detector runs on the first frame, when the
    face is lost and every ``detect_every`` frames (1: every frame); in between the face is tracked
    and read ``batch`` frames at a time. ``progress("reading", done, total)`` as frames are read
    (``total``: the caller's frame count, 0 when unknown); ``Cancelled`` once ``cancel()``."""
    if gap_fill not in GAP_FILLS:
        raise ValueError(f"gap_fill must be one of {GAP_FILLS}, got {gap_fill!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if detect_every < 1 or batch < 1:
        raise ValueError(f"detect_every and batch must be at least 1, got {detect_every} and {batch}")
    tracker = FaceTracker(face)
    raw, counts = [], []
    pending: list[tuple[int, np.ndarray, DetectedFace]] = []  # tracked, not yet read
    runs, since_detection = 0, 0

    def read_pending() -> None:
        if pending:
            landmarks, expressions = readers.landmarks_expression([c for _, c, _ in pending],
                                                                  [f.box for _, _, f in pending])
            for (i, _, found), points, expression in zip(pending, landmarks, expressions, strict=True):
                if refusal(found, points) is None:
                    raw[i] = channel_values(expression, face_geometry(points), calibration)
                else:
                    tracker.box = None  # the box has drifted off the face: detect the next frame
            done = pending[-1][0] + 1
            pending.clear()
            if progress is not None:
                progress("reading", done, total)

    for i, frame in enumerate(frames):
        check_cancel(cancel, f"capture cancelled after {i} frames")
        rgb = as_rgb(frame)
        raw.append(np.full(len(CHANNEL_NAMES), np.nan))
        tracked = tracker.track(readers, rgb) if since_detection < detect_every - 1 else None
        if tracked is not None:
            since_detection += 1
            pending.append((i, square_crop(rgb, tracked.box, FACEAPI_SIZE), tracked))
            counts.append(1)
            if len(pending) >= batch:
                read_pending()
            continue
        read_pending()  # in frame order, before this frame's progress
        since_detection, hint = 0, tracker.look(readers, rgb)
        faces = readers.read(rgb, hint)
        runs += 1
        chosen = tracker.pick(faces)
        if chosen is None and hint is not None:
            faces = readers.read(rgb)
            runs += 1
            chosen = tracker.pick(faces)
        if chosen is not None:
            raw[i] = reading_channels(chosen, calibration)
        counts.append(len(faces))
        if progress is not None:
            progress("reading", i + 1, total)
    read_pending()
    if not raw:
        raise ValueError("the video has no frames")
    raw_values, face_counts = np.array(raw), np.array(counts)
    found = ~np.isnan(raw_values[:, 0])
    if not found.any():
        if face > 0 and face_counts.any():
            raise ValueError(f"no frame has {face + 1} faces (at most {face_counts.max()}); "
                             f"faces count from 0, largest first")
        raise ValueError(f"no face found in any of the {len(raw)} frames")
    values = raw_values
    if rest_frame is not None:
        if not 0 <= rest_frame < len(raw):
            raise ValueError(f"the rest frame {rest_frame} is not one of the video's frames (0-{len(raw) - 1})")
        if not found[rest_frame]:
            raise ValueError(f"face {face} is missing in the rest frame {rest_frame}; pick a frame where it shows")
        values = rest_calibrated(values, values[rest_frame])
    values = fill_gaps(values, found, gap_fill)
    if smoothing is not None:
        values = np.clip(one_euro_filter(values, fps, smoothing), -VALUE_LIMIT, VALUE_LIMIT)
    return CaptureResult(float(fps), raw_values, values, found, face_counts, gap_ranges(found), gap_fill, runs)


def gap_ranges(found: np.ndarray) -> tuple[tuple[int, int], ...]:
    """(first, last) frame of each run of False in ``found``."""
    missing = np.concatenate([[False], ~np.asarray(found, bool), [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(missing) == 1), np.flatnonzero(np.diff(missing) == -1) - 1
    return tuple((int(a), int(b)) for a, b in zip(starts, ends))


def fill_gaps(values: np.ndarray, found: np.ndarray, how: GapFill = "interpolate") -> np.ndarray:
    """``values`` ``[T, C]`` with the rows where ``found`` is False filled: ``interpolate`` linearly
    between the frames around a gap, ``hold`` the last value before it; a gap at the start takes the
    first found values, one at the end the last."""
    found = np.asarray(found, bool)
    if not found.any():
        raise ValueError("no frame with a face to fill the gaps from")
    t = np.arange(len(values))
    if how == "interpolate":
        return np.stack([np.interp(t, t[found], values[found, c]) for c in range(values.shape[1])], axis=1)
    if how != "hold":
        raise ValueError(f"gap fill must be one of {GAP_FILLS}, got {how!r}")
    source = np.maximum.accumulate(np.where(found, t, -1))
    source[source < 0] = t[found][0]
    return values[source]


def keyframe_indices(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Frames to keep so that straight lines between them stay within ``tolerance`` of ``values``
    ``[T, C]`` in every channel (Ramer-Douglas-Peucker on the largest channel error); first and last
    always kept."""
    v = np.asarray(values, dtype=np.float64)
    if not tolerance >= 0:
        raise ValueError(f"the keyframe tolerance must be 0 or more, got {tolerance}")
    keep = {0, len(v) - 1}
    spans = [(0, len(v) - 1)]
    while spans:
        a, b = spans.pop()
        if b - a < 2:
            continue
        t = (np.arange(a + 1, b) - a)[:, None] / (b - a)
        error = np.abs(v[a + 1:b] - (v[a] + t * (v[b] - v[a]))).max(axis=1)
        k = int(np.argmax(error))
        if error[k] > tolerance:
            m = a + 1 + k
            keep.add(m)
            spans += [(a, m), (m, b)]
    return np.array(sorted(keep))


DECIMALS = 4  # CSV precision: far below what a face shows


def values_csv(values: np.ndarray, frames: np.ndarray | None = None) -> str:
    """CSV text ``frame,joy,...`` of ``values`` ``[N, 9]`` at ``frames`` (default 0..N-1)."""
    values = np.asarray(values, dtype=np.float64)
    frames = np.arange(len(values)) if frames is None else np.asarray(frames)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["frame", *CHANNEL_NAMES])
    for frame, row in zip(frames, values):
        writer.writerow([int(frame), *(f"{check_channel_value(v, f'{n} at frame {frame}') + 0.0:.{DECIMALS}f}"
                                       for n, v in zip(CHANNEL_NAMES, row))])
    return out.getvalue()


def capture_csv(result: CaptureResult, tolerance: float | None = None) -> tuple[str, int]:
    """The CSV of a capture, every frame or (``tolerance``) its keyframes; and how many rows."""
    values = np.round(result.values, DECIMALS)  # reduce what is written, so the tolerance holds for the file
    frames = np.arange(len(values)) if tolerance is None else keyframe_indices(values, tolerance)
    return values_csv(values[frames], frames), len(frames)
