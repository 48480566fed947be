"""Frames out and in: videos (MP4, MOV, MKV, AVI, WebM, GIF) through imageio-ffmpeg's bundled
ffmpeg, and lossless PNG files.

Frames are uint8 arrays (H, W, 3) in RGB order everywhere in this module. PNG coding lives
here too, so the frame cache and PNG sequences share one encoder and one strict decoder.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from ..files import FileError, check_pixels, read_bytes, replacing, write_atomic
from ..jobs import Progress

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A complete PNG ends with an empty IEND chunk: length 0, type, CRC.
_PNG_TRAILER = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_PNG_COMPRESSION = 3  # zlib level: 3 is OpenCV's default, a fair trade of time for size.
_MAX_PNG_BYTES = 2**30  # a frame of MAX_PIXELS stored raw is 600 MB; a PNG is smaller


class _FrameError(FileError, ValueError):
    """A frame file or video that cannot be read (too large, not a regular file, damaged)."""


class VideoInfo(NamedTuple):
    """What a video is; a tuple so that ``n, fps, w, h = video_info(p)`` works."""

    n_frames: int
    fps: float | None  # None for a PNG folder, which has no rate
    width: int
    height: int


def check_frame(frame: np.ndarray, name: str = "frame") -> np.ndarray:
    """``frame`` if it is a uint8 (H, W, 3) array; otherwise a ValueError saying what it is."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{name} must be a uint8 array of shape (H, W, 3), got {frame.dtype} {frame.shape}")
    return frame


def encode_png(frame: np.ndarray) -> bytes:
    """Lossless PNG bytes of an RGB frame."""
    frame = check_frame(frame)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, _PNG_COMPRESSION])
    if not ok:
        raise ValueError(f"could not encode a {frame.shape} frame as PNG")
    return buf.tobytes()


def decode_png(data: bytes) -> np.ndarray | None:
    """The RGB frame in ``data``, or None where it is not a complete PNG (truncated, garbage).

    The trailer check comes first because a truncated file is the usual damage (a killed
    writer, a full disk) and libpng may decode part of one without complaint.
    """
    if not data.startswith(_PNG_SIGNATURE) or not data.endswith(_PNG_TRAILER):
        return None
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    if img is None or img.ndim != 3 or img.shape[2] != 3:
        return None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def is_complete_png(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file with a PNG's signature and end marker, read without decoding."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_PNG_SIGNATURE))
            if f.seek(0, os.SEEK_END) < len(head) + len(_PNG_TRAILER):
                return False
            f.seek(-len(_PNG_TRAILER), os.SEEK_END)
            return head == _PNG_SIGNATURE and f.read() == _PNG_TRAILER
    except OSError:
        return False


def write_png_sequence(frames: Iterable[np.ndarray], folder: str | os.PathLike[str],
                       pattern: str = "frame_{:05d}.png", *, first: int = 0,
                       progress: Progress | None = None) -> list[Path]:
    """Write frames as numbered lossless PNG files (``pattern.format(number)``, numbers from
    ``first``); returns the paths. Each file appears whole or not at all (``files.write_atomic``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / pattern.format(first + i)
        write_atomic(path, encode_png(check_frame(frame, f"frame {first + i}")))
        paths.append(path)
        if progress is not None:
            progress("writing", i + 1, 0)
    if not paths:
        raise ValueError(f"no frames to write to {folder}")
    return paths


@dataclass(frozen=True)
class VideoFormat:
    """How ffmpeg encodes one container: codec, output pixel format and quality options."""

    codec: str
    pix_fmt: str
    options: tuple[str, ...]
    even_size: bool  # 4:2:0 chroma needs even width and height


# Written through imageio-ffmpeg's own ffmpeg. H.264 at crf 18 is visually lossless; AVI gets
# MJPEG (what editors that read AVI read), GIF ffmpeg's palette encoder, WebM VP9.
VIDEO_FORMATS: dict[str, VideoFormat] = {
    ".mp4": VideoFormat("libx264", "yuv420p", ("-crf", "18"), True),
    ".mov": VideoFormat("libx264", "yuv420p", ("-crf", "18"), True),
    ".mkv": VideoFormat("libx264", "yuv420p", ("-crf", "18"), True),
    ".avi": VideoFormat("mjpeg", "yuvj420p", ("-q:v", "2"), True),
    ".webm": VideoFormat("libvpx-vp9", "yuv420p", ("-crf", "30", "-b:v", "0"), True),
    ".gif": VideoFormat("gif", "rgb8", (), False),
}


def video_format(path: str | os.PathLike[str]) -> VideoFormat:
    """The format a video file's suffix asks for; a ValueError listing the supported ones otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise ValueError(f"{path}: cannot write {suffix or 'a file without a suffix'} videos; use "
                         f"{', '.join(VIDEO_FORMATS)}, or a folder (no suffix) for PNG frames")
    return VIDEO_FORMATS[suffix]


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float, *,
                pad_odd: bool = True, progress: Progress | None = None,
                keep: Iterable[str | os.PathLike[str] | None] = ()) -> int:
    """Encode frames into the video format of ``path``'s suffix (``VIDEO_FORMATS``) at ``fps``;
    returns the number of frames written.

    4:2:0 formats need even sizes: odd ones get one edge-replicated row/column (``pad_odd``) or a
    ValueError. No other resizing happens. ffmpeg writes a temporary file beside ``path``; only when
    it exits 0 and the file reads back with every frame does it replace ``path`` (``files.replacing``),
    so a full disk or a size limit is an ``OSError`` and an existing video survives. ffmpeg stores
    fps to two decimals. ``keep``: inputs ``path`` must not be.
    """
    fmt = video_format(path)
    path = Path(path)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError(f"no frames to write to {path}")
    first = check_frame(first, "frame 0")
    h, w = first.shape[:2]
    even = fmt.even_size and (h % 2 or w % 2)
    if even and not pad_odd:
        raise ValueError(f"{fmt.codec} {fmt.pix_fmt} needs even width and height, got {w}x{h} (or pass pad_odd=True)")
    out_w, out_h = (w + w % 2, h + h % 2) if even else (w, h)
    n = 0
    with replacing(path, suffix=f".partial{path.suffix}", keep=keep) as tmp:  # ffmpeg goes by the suffix
        with _Ffmpeg(path, tmp, fmt, out_w, out_h, fps) as ffmpeg:
            for frame in _chain(first, it):
                frame = check_frame(frame, f"frame {n}")
                if frame.shape[:2] != (h, w):
                    raise ValueError(f"frame {n} is {frame.shape[1]}x{frame.shape[0]}, frame 0 was {w}x{h}")
                if (out_h, out_w) != (h, w):
                    frame = np.pad(frame, ((0, out_h - h), (0, out_w - w), (0, 0)), mode="edge")
                ffmpeg.send(frame)
                n += 1
                if progress is not None:
                    progress("encoding", n, 0)
        _verify_video(path, tmp, n, fmt)
    return n


class _Ffmpeg:
    """ffmpeg encoding raw RGB frames from a pipe into ``tmp``; leaving the block without an error
    waits for it and raises ``OSError`` (with ffmpeg's last message) unless it exited 0."""

    def __init__(self, path: Path, tmp: Path, fmt: VideoFormat, width: int, height: int, fps: float) -> None:
        import imageio_ffmpeg

        self.path = path
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:.2f}", "-i", "-",
               "-an", "-vcodec", fmt.codec, "-pix_fmt", fmt.pix_fmt, *fmt.options, str(tmp)]
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty ffmpeg never blocks on it
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.log)

    def __enter__(self) -> _Ffmpeg:
        return self

    def send(self, frame: np.ndarray) -> None:
        try:
            self.proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        except (BrokenPipeError, ValueError):  # ffmpeg has gone (disk full, killed): say why
            self._finish()
            raise OSError(f"{self.path}: ffmpeg could not write the video ({self._message()})") from None

    def _finish(self) -> int:
        try:
            self.proc.stdin.close()
        except OSError:
            pass  # a broken pipe on close: the exit status says what happened
        return self.proc.wait()

    def _message(self) -> str:
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read()[-4000:].decode("utf-8", "replace").splitlines()]
        lines = [line for line in lines if line]
        rc = self.proc.returncode
        status = f"{signal.strsignal(-rc) or -rc}" if rc is not None and rc < 0 else f"exit status {rc}"
        return f"{status}: {lines[-1]}" if lines else status

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is not None:  # an error on its way (or Ctrl-C): stop ffmpeg, report that error
                self.proc.kill()
                self._finish()
                return
            if self._finish() != 0:
                raise OSError(f"{self.path}: ffmpeg could not write the video ({self._message()})")
        finally:
            self.log.close()


def _verify_video(path: Path, tmp: Path, n: int, fmt: VideoFormat) -> None:
    """The written file opens and holds ``n`` frames (GIF: at least one; its encoder merges
    repeated frames): what a truncated file ffmpeg did not notice would fail."""
    import imageio_ffmpeg

    try:
        counted, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp))
    except (OSError, RuntimeError) as e:
        raise OSError(f"{path}: the written video does not read back ({str(e).strip().splitlines()[0][:200]})") from None
    if counted != n and not (fmt.codec == "gif" and 1 <= counted <= n):
        raise OSError(f"{path}: the written video reads back with {counted} frames of {n}")


def read_frames(source: str | os.PathLike[str], fps: float | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 frames of a video file or of a folder of PNG files (in natural name order).

    Without ``fps``, each frame the file holds comes once, whatever its timing (a variable-rate
    video is not padded to a constant rate). With ``fps``, frames are placed by their timestamps
    on that constant rate: frame i is the one showing at ``i / fps`` after the first
    (``frame_times``), so frames are repeated or dropped to land on that grid."""
    source = Path(source)
    if source.is_dir():
        return _read_png_folder(source)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such video file or frame folder")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return _read_video_file(source, fps)


def video_info(source: str | os.PathLike[str]) -> VideoInfo:
    """Frame count (exact: the video is decoded to count), fps, width and height."""
    source = Path(source)
    if source.is_dir():
        files = png_files(source)
        first = _read_png(files[0])
        return VideoInfo(len(files), None, first.shape[1], first.shape[0])
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such video file or frame folder")
    import imageio_ffmpeg

    gen, meta = _open_video(source)
    gen.close()
    try:
        n, _ = imageio_ffmpeg.count_frames_and_secs(str(source))
    except (OSError, RuntimeError) as e:
        lines = str(e).strip().splitlines()
        raise ValueError(f"{source}: ffmpeg cannot count its frames ({lines[-1][:200] if lines else e})") from None
    width, height = meta["size"]
    return VideoInfo(int(n), float(meta["fps"]), int(width), int(height))


def png_files(folder: Path) -> list[Path]:
    """The folder's PNG files in natural order (frame_2 before frame_10)."""
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file()),
                   key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])
    if not files:
        raise ValueError(f"{folder}: no PNG frames in this folder")
    return files


def _read_png(path: Path) -> np.ndarray:
    data = read_bytes(path, _MAX_PNG_BYTES, error=_FrameError)
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a readable PNG")
    check_pixels(int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"), path, error=_FrameError)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable PNG")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _read_png_folder(folder: Path) -> Iterator[np.ndarray]:
    for path in png_files(folder):
        yield _read_png(path)


def frame_times(path: str | os.PathLike[str]) -> np.ndarray:
    """Each frame's presentation time in seconds, in presentation order, and as a last entry the
    time the last one ends: the packets' own timestamps in the stream's time base (ffmpeg's
    framemd5 listing of the stream copied, nothing decoded)."""
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
           "-c", "copy", "-f", "framemd5", "-"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    lines = r.stdout.splitlines()
    tb = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("#tb 0:")), None)
    rows = [[int(x) for x in line.split(",")[1:4]] for line in lines if line and not line.startswith("#")]
    no_pts = -(2**63)  # what framemd5 prints for a packet without a timestamp
    if r.returncode != 0 or tb is None or not rows or any(no_pts in (dts, pts) for dts, pts, _ in rows):
        last = r.stderr.strip().splitlines()
        raise ValueError(f"{path}: ffmpeg cannot list its frames' times ({last[-1][:200] if last else 'no times'})")
    num, den = (int(x) for x in tb.split("/"))
    rows.sort(key=lambda row: row[1])  # decoding order -> presentation order
    pts = np.array([pts for _, pts, _ in rows], np.float64)
    end = max(p + max(d, 1) for _, p, d in rows)
    return np.append(pts, end) * num / den


def grid_length(times: np.ndarray, fps: float) -> int:
    """How many frames a video with ``frame_times`` ``times`` has at a constant ``fps``."""
    return max(1, int(np.ceil((times[-1] - times[0]) * fps - 1e-6)))


def _on_grid(frames: Iterator[np.ndarray], times: np.ndarray, fps: float) -> Iterator[np.ndarray]:
    """Frames at times ``times[:-1]`` (seconds, ``times[-1]`` the end) as a constant ``fps`` stream:
    output i is the last frame shown at or before ``times[0] + i / fps``."""
    shown = np.searchsorted(times[:-1], times[0] + np.arange(grid_length(times, fps)) / fps + 1e-6, side="right") - 1
    index, frame = -1, None
    for want in shown:
        while index < want:
            frame = next(frames, None)
            if frame is None:  # fewer frames than listed (a damaged tail): stop
                return
            index += 1
        yield frame


def _open_video(path: Path) -> tuple[Iterator[bytes], dict]:
    import imageio_ffmpeg

    # passthrough: every decoded frame once (ffmpeg's default for raw output pads to a constant rate)
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", output_params=["-fps_mode", "passthrough"])
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration) as e:
        gen.close()
        lines = str(e).strip().splitlines()
        raise ValueError(f"{path}: not a video ffmpeg can read ({lines[-1][:200] if lines else e})") from None
    width, height = meta["size"]
    try:
        check_pixels(width, height, path, error=_FrameError, what="a video frame")
    except _FrameError:
        gen.close()
        raise
    return gen, meta


def _read_video_file(path: Path, fps: float | None = None) -> Iterator[np.ndarray]:
    gen, meta = _open_video(path)  # now, so that a bad file fails at the call, not at first use
    width, height = meta["size"]
    try:
        times = None if fps is None else frame_times(path)
    except ValueError:
        gen.close()
        raise

    def frames() -> Iterator[np.ndarray]:
        try:
            for buf in gen:
                yield np.frombuffer(buf, np.uint8).reshape(height, width, 3).copy()
        finally:
            gen.close()  # stops ffmpeg when the caller stops early

    return frames() if times is None else _on_grid(frames(), times, fps)


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
