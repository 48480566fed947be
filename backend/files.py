"""Files in and out, bounded and whole: the one reader and the one writer every module goes through.

Writing: every output (frames, videos, checkpoints, directions, indexes, reports) goes through
``replacing``: a temporary file in the same folder, flushed to disk and renamed over the target only
once it is complete and checked, so a killed or failing writer (a full disk, a size limit) leaves at
worst a hidden temporary file, never a truncated file under the real name, and an existing good file
survives. A target that is one of the command's inputs is refused before anything is written
(``check_output`` finds that, and an unwritable folder, before the work starts).

Reading: ``read_bytes`` (regular files only, never more than a limit: no FIFO waits forever and
``/dev/zero`` is not read without end), ``read_json`` (nesting bounded), ``load_array`` (``.npy`` and
``.npz`` headers checked before anything is allocated) and ``check_pixels`` (the one pixel-count
limit, checked from image and video headers before decoding).
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FileError", "MAX_ARRAY_BYTES", "MAX_JSON_DEPTH", "MAX_PIXELS", "MAX_TEXT_BYTES", "WriteError",
           "check_finite", "check_output", "check_pixels", "image_size", "json_text", "load_array", "parse_json",
           "read_bytes", "read_json", "read_text", "replacing", "write_atomic"]

MAX_TEXT_BYTES = 64 * 2**20  # scripts, values, directions, reports: far larger than any real one
MAX_JSON_DEPTH = 32  # our JSON files nest 4 deep; deeper is an attack on the parser, not data
MAX_PIXELS = 200_000_000  # a larger "image" or video frame is a decompression bomb or a mistake
MAX_ARRAY_BYTES = 256 * 2**20  # a face code is megabytes at most, a work chunk kilobytes


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class FileError(Exception):
    """A file we cannot use; the message names the file and why (``path``, ``reason``)."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# mkstemp makes files only their owner can read (0600); a finished file gets the mode any new file
# gets (0666 less the umask), so that render-farm nodes and other users can read frames and videos.
_FILE_MODE = 0o666 & ~_umask()


# --- writing ----------------------------------------------------------------------------------------

def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_output(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None] = (), *,
                 folder: bool = False) -> Path:
    """``path`` if it can be written: not one of ``inputs``, not a folder where a file is wanted
    (nor a file where a ``folder`` is), and under a folder this user may write. Called before the work starts, so an
    unusable output fails in a second, not after an hour; ``replacing`` checks again at the end."""
    path = Path(path)
    for given in inputs:
        if given is not None and _same_file(path, Path(given)):
            raise FileError(path, f"is also the input ({given}); write the output somewhere else")
    if not folder and path.is_dir():
        raise FileError(path, "is a folder; give a file name")
    if folder and path.exists() and not path.is_dir():
        raise FileError(path, "is a file; give a folder")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise FileError(path, f"cannot write there ({parent} is not a folder this user may write)")
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open folders; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def replacing(path: str | os.PathLike[str], suffix: str = ".tmp", *,
              keep: Iterable[str | os.PathLike[str] | None] = (), durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it is flushed to disk
    (``durable``) and replaces ``path``, on an exception (Ctrl-C included) it is deleted.
    ``suffix`` lets writers that go by the file extension (ffmpeg) see the right one; ``keep``:
    input files that ``path`` must not be (refused before anything is written). ``durable=False``
    skips the fsync, for files whose reader checks them whole anyway (the frame cache)."""
    path = Path(path)
    for given in keep:
        if given is not None and _same_file(path, Path(given)):
            raise FileError(path, f"is also the input ({given}); write the output somewhere else")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise FileError(path, "nothing was written (the writer produced an empty file)")
        os.chmod(tmp, _FILE_MODE)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())  # a full disk or a failing device shows here, before the rename
        os.replace(tmp, path)
        if durable:
            _fsync_dir(path.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.filename is not None or str(path) in str(e):
            raise
        raise WriteError(path, f"could not write it ({e.strerror or e})", e.errno) from None  # name the file
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class WriteError(FileError, OSError):
    """An output that could not be written (a full disk, a size limit): names the file, keeps the errno."""

    def __init__(self, path: str | os.PathLike[str], reason: str, errno: int | None = None) -> None:
        super().__init__(path, reason)
        self.errno = errno


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *,
                 keep: Iterable[str | os.PathLike[str] | None] = (), durable: bool = True) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through ``replacing``; returns the path."""
    path = Path(path)
    with replacing(path, keep=keep, durable=durable) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def json_text(doc: Any, indent: int | None = 2) -> str:
    """``doc`` as strict JSON text (a final newline): NaN and infinities, which JSON has no words
    for, become null; numpy numbers and arrays become plain ones."""
    def plain(x: Any) -> Any:
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, np.ndarray):
            return plain(x.tolist())
        if isinstance(x, np.generic):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    return json.dumps(plain(doc), indent=indent, allow_nan=False) + "\n"


# --- reading ----------------------------------------------------------------------------------------

def _regular(path: Path, error: type[FileError]) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise error(path, "no such file") from None
    except OSError as e:
        raise error(path, f"cannot read it ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(path, "a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(path, "not a regular file (a pipe, a device or a socket)")
    return st


def _size_text(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def read_bytes(path: str | os.PathLike[str], limit: int = MAX_TEXT_BYTES, *,
               error: type[FileError] = FileError) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else raises ``error``."""
    path = Path(path)
    st = _regular(path, error)
    if st.st_size > limit:
        raise error(path, f"{_size_text(st.st_size)} is more than the {_size_text(limit)} this file may have")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)  # a file that grew since the stat is still cut off here
    except OSError as e:
        raise error(path, f"cannot read it ({e.strerror or e})") from None
    if len(data) > limit:
        raise error(path, f"more than the {_size_text(limit)} this file may have")
    return data


def read_text(path: str | os.PathLike[str], limit: int = MAX_TEXT_BYTES, *,
              error: type[FileError] = FileError) -> str:
    """A UTF-8 text file (a byte-order mark is dropped) through ``read_bytes``."""
    try:
        return read_bytes(path, limit, error=error).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(path, f"not UTF-8 text (byte {e.start}); save it as UTF-8") from None


def parse_json(text: str | bytes, path: str | os.PathLike[str], *, error: type[FileError] = FileError,
               depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON text; nesting deeper than ``depth``, and NaN or Infinity, are refused like bad syntax."""
    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        doc = json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as e:
        raise error(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise error(path, f"JSON nested deeper than {depth} levels") from None
    except ValueError as e:
        raise error(path, f"not valid JSON ({e})") from None
    _check_depth(doc, depth, path, error)
    return doc


def _check_depth(doc: Any, depth: int, path: str | os.PathLike[str], error: type[FileError]) -> None:
    level = [doc]
    for _ in range(depth + 1):
        level = [v for x in level if isinstance(x, (dict, list))
                 for v in (x.values() if isinstance(x, dict) else x)]
        if not level:
            return
    raise error(path, f"JSON nested deeper than {depth} levels")


def read_json(path: str | os.PathLike[str], limit: int = MAX_TEXT_BYTES, *,
              error: type[FileError] = FileError) -> Any:
    """A JSON file through ``read_text`` and ``parse_json``."""
    return parse_json(read_text(path, limit, error=error), path, error=error)


def check_finite(value: Any, what: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """``value`` as a float if it is a real number (not a bool) that is finite and within [lo, hi];
    a ValueError naming ``what`` otherwise. The one check for numbers a user or a file gives."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    number = float(value)
    shown = f"{number:g}" if isinstance(value, (float, np.floating)) else value
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {shown}")
    if not lo <= number <= hi:
        raise ValueError(f"{what} must be within [{lo:g}, {hi:g}], got {shown}")
    return number


def check_pixels(width: int, height: int, path: str | os.PathLike[str], *,
                 error: type[FileError] = FileError, what: str = "an image") -> None:
    """The one pixel-count limit (``MAX_PIXELS``), checked from a header before anything is decoded."""
    if width <= 0 or height <= 0:
        raise error(path, f"{what} of {width}x{height} pixels has no pixels")
    if width * height > MAX_PIXELS:
        raise error(path, f"{width}x{height} is too large {what} (more than {MAX_PIXELS / 1e6:g} megapixels)")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_size(data: bytes, path: str | os.PathLike[str], *, error: type[FileError] = FileError) -> tuple[int, int]:
    """Width and height from an image file's header (any format Pillow knows; nothing decoded),
    checked against ``MAX_PIXELS``."""
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    else:
        import io
        import warnings

        from PIL import Image, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:  # reads the header only
                    width, height = img.size
        except Image.DecompressionBombError:
            raise error(path, f"too large an image (more than {MAX_PIXELS / 1e6:g} megapixels)") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise error(path, "not an image file (or a damaged one)") from None
    check_pixels(width, height, path, error=error)
    return width, height


def load_array(path: str | os.PathLike[str], limit: int = MAX_ARRAY_BYTES, *,
               error: type[FileError] = FileError) -> np.ndarray | dict[str, np.ndarray]:
    """A ``.npy`` array or the arrays of an ``.npz`` (a dict), no pickles; each array's header is
    read first and one that declares more bytes than the file holds, or than ``limit``, is refused
    before anything is allocated."""
    path = Path(path)
    _regular(path, error)
    try:
        if zipfile.is_zipfile(path):
            out = {}
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if not info.filename.endswith(".npy"):
                        raise error(path, f"an .npz holding {info.filename!r}, which is not an array")
                    with z.open(info) as f:
                        _check_npy_header(f, info.file_size, limit, path, error, info.filename)
                    with z.open(info) as f:
                        out[info.filename[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
            return out
        with open(path, "rb") as f:
            _check_npy_header(f, path.stat().st_size, limit, path, error)
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False)
    except FileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, MemoryError, SyntaxError, TypeError) as e:
        raise error(path, f"not a .npy or .npz array file ({type(e).__name__}: {str(e)[:200]})") from None


def _check_npy_header(f: Any, size: int, limit: int, path: Path, error: type[FileError], member: str = "") -> None:
    where = f" ({member})" if member else ""
    version = np.lib.format.read_magic(f)
    # numpy's own header readers: a dict literal parsed with ast.literal_eval (runs nothing)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10_000)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10_000)
    else:
        raise error(path, f"unsupported .npy version {version}{where}")
    if dtype.hasobject:
        raise error(path, f"an array of Python objects{where}, which is refused")
    count = math.prod(shape) if shape else 1
    nbytes = count * dtype.itemsize
    if nbytes > limit:
        raise error(path, f"an array of shape {shape}{where} ({_size_text(nbytes)}) is more than the "
                          f"{_size_text(limit)} allowed")
    if nbytes > size:
        raise error(path, f"its header declares {_size_text(nbytes)} of data{where}, but the file holds "
                          f"{_size_text(size)} (truncated or forged)")
