"""Writing files so that a reader never sees half of one.

Every file the project writes (frames, videos, checkpoints, directions, indexes) goes through a
temporary file in the same folder that is renamed over the target only once it is complete: a
killed or failing writer leaves at worst a hidden temporary file, never a truncated file under
the real name, and a file that another process is reading is swapped whole.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["FileError", "replacing", "write_atomic"]


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


@contextmanager
def replacing(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it replaces ``path``, on an
    exception (Ctrl-C included) it is deleted. ``suffix`` lets writers that go by the file
    extension (ffmpeg) see the right one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through ``replacing``; returns the path."""
    path = Path(path)
    with replacing(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path
