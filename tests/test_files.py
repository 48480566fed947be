"""backend.files: a file appears whole or not at all, with the mode any new file gets."""

from __future__ import annotations

import os
import stat

import pytest

from backend.animation.directions import DirectionsError, load_directions
from backend.files import FileError, replacing, write_atomic
from backend.model.checkpoints import CheckpointError, load_generator


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_written_files_get_the_ordinary_mode_not_mkstemps_private_one(tmp_path):
    path = write_atomic(tmp_path / "a" / "clip.json", "{}")
    assert path.read_text() == "{}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_atomic(tmp_path / "frame.png", b"old")
    with pytest.raises(RuntimeError), replacing(path, suffix=".png") as tmp:
        assert tmp.name.endswith(".png") and tmp.parent == path.parent
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frame.png"]


@pytest.mark.parametrize("load, error", [(load_generator, CheckpointError), (load_directions, DirectionsError)])
def test_unusable_files_raise_one_kind_of_error_naming_the_file_and_the_reason(tmp_path, load, error):
    missing = tmp_path / "missing.file"
    with pytest.raises(error) as info:
        load(missing)
    assert isinstance(info.value, FileError)
    assert info.value.path == str(missing) and info.value.reason == "no such file"
    assert str(info.value) == f"{missing}: no such file"
