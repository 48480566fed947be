"""Photos and videos as the face readers take them: uint8 RGB frames, whatever the file holds.

Image files go through Pillow: the EXIF orientation is applied (a phone's portrait photo stands
up), CMYK, palette, grey and grey+alpha become RGB, 16-bit and 32-bit grey are scaled to 8 bits,
and a truncated or unreadable file is a ``MediaError`` naming the file, never a half-grey image.
Anything Pillow does not know, and the video suffixes (GIF too: it may be animated), go to ffmpeg
(``backend.rendering.video``).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import FileError, check_pixels, read_bytes
from ..rendering.video import frame_times, grid_length, read_frames, video_info

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif"})
MAX_IMAGE_BYTES = 512 * 2**20  # an image file larger than this is not a photo


class MediaError(FileError, ValueError):
    """A file that is not an image or video the readers can take (the message names it and why)."""


@dataclass(frozen=True)
class Media:
    """An opened image (one frame, ``fps`` None) or video: its frames in order and how many."""

    path: Path
    is_video: bool
    n_frames: int
    fps: float | None
    frames: Iterator[np.ndarray]


def open_media(path: str | os.PathLike[str], *, constant_rate: bool = False, fps: float | None = None) -> Media:
    """The frames of an image file, a video file or a folder of PNG frames (``backend.rendering.video``).

    ``fps`` sets a video's rate (a PNG folder's: it has none); ``constant_rate`` resamples a video
    file's frames to that rate, or to the container's, so that frame i is what plays at i / fps
    (variable-rate videos: frames repeated or dropped; ``video.read_frames``)."""
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "no such file")
    if not path.is_dir() and not path.is_file():  # a FIFO would wait for a writer forever
        raise MediaError(path, "not a regular file (a pipe, a device or a socket)")
    if path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES:
        return _open_video(path, constant_rate, fps)
    try:
        image = load_image(path)
    except _NotAnImage:
        if path.suffix.lower() in _image_suffixes():
            raise MediaError(path, f"not a readable {path.suffix} image (damaged, or not what its name says)") from None
        return _open_video(path, constant_rate, fps)
    return Media(path, False, 1, None, iter([image]))


def _image_suffixes() -> set[str]:
    from PIL import Image

    return {s for s, f in Image.registered_extensions().items() if f not in ("MPEG",)} - VIDEO_SUFFIXES


def _open_video(path: Path, constant_rate: bool, fps: float | None) -> Media:
    try:
        info = video_info(path)
        fps = fps or info.fps
        resample = constant_rate and fps and not path.is_dir()
        frames = read_frames(path, fps if resample else None)
        # frames on the constant-rate grid, by their times
        n = grid_length(frame_times(path), fps) if resample and info.n_frames else info.n_frames
    except FileError as e:  # a frame too large, a frame file that is not a regular file: that says it
        raise MediaError(e.path, e.reason) from None
    except ValueError:  # ffmpeg's own report is many lines of its log
        raise MediaError(path, "neither an image nor a video that ffmpeg can read (damaged or truncated?)") from None
    if info.n_frames == 0:
        raise MediaError(path, "a video without frames (empty or truncated)")
    return Media(path, True, n, fps, frames)


class _NotAnImage(Exception):
    pass


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """The uint8 ``[H, W, 3]`` RGB pixels of an image file, upright (EXIF orientation applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    data = read_bytes(path, MAX_IMAGE_BYTES, error=MediaError)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                check_pixels(img.width, img.height, path, error=MediaError)
                img.load()  # decodes now: a truncated file fails here
                img = ImageOps.exif_transpose(img)
                return _rgb8(img, path)
    except UnidentifiedImageError:
        raise _NotAnImage from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(path, "too large an image (Pillow's decompression-bomb limit)") from None
    except OSError as e:
        raise MediaError(path, f"a damaged or truncated image ({e})") from None
    except SyntaxError as e:  # Pillow's parsers signal some malformed headers this way
        raise MediaError(path, f"a malformed image ({e})") from None


def _rgb8(img, path: Path) -> np.ndarray:
    """Pillow image -> uint8 RGB array; high bit depths scaled, not clipped."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64)
        # "I" holds 16-bit PNGs on some Pillow versions: scale by the range the file can hold
        top = 65535.0 if img.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        grey = np.clip(np.round(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        if not np.isfinite(a).all():
            raise MediaError(path, "a float image with NaN or infinite pixels")
        scale = 255.0 if a.max(initial=0) <= 1.0 else 1.0
        grey = np.clip(np.round(a * scale), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        from PIL import Image

        # transparent pixels hold any colour: show them as white, as viewers do
        flat = Image.new("RGBA", img.size, (255, 255, 255, 255))
        flat.alpha_composite(img.convert("RGBA"))
        img = flat
    rgb = np.asarray(img.convert("RGB"))
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise MediaError(path, f"cannot read its pixels as RGB (mode {img.mode})")
    return np.array(rgb)  # a writable copy: Pillow's buffer is read-only

