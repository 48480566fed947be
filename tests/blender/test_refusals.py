"""Bad input to the add-on gets one clear error and leaves nothing half-made: NaN frames (API),
a cache folder that cannot be written (Add › Emotion Face), an empty photo (Face from Photo)."""

from __future__ import annotations
from .harness import script

NAN_FRAMES = script("refusals_nan_frames")


def test_nan_frames_are_refused_with_a_clear_error_and_key_nothing(shared_blender):
    out = shared_blender.run(NAN_FRAMES)
    for name, error in out["errors"].items():
        assert error is not None and error.startswith("ValueError: "), (name, error)
        assert "finite frame number" in error, (name, error)
    assert not out["keyed"]


UNWRITABLE_CACHE = script("refusals_unwritable_cache")


def test_add_face_with_an_unwritable_cache_says_so_and_makes_nothing(shared_blender, tmp_path):
    out = shared_blender.run(UNWRITABLE_CACHE, str(tmp_path))
    assert out["refused"] is not None and "cannot make the face's frames folder" in out["refused"]
    assert "Traceback" not in out["refused"]
    assert "FaceFolderError" in out["strip_refused"] and "choose a writable Cache Folder" in out["strip_refused"]
    assert out["after"] == out["before"] and out["strips"] == 0


EMPTY_PHOTO = script("refusals_empty_photo")


def test_an_empty_photo_is_refused_in_one_line_and_changes_nothing(shared_blender, tmp_path):
    out = shared_blender.run(EMPTY_PHOTO, str(tmp_path))
    assert out["api_error"] == f"MediaError: {tmp_path / 'empty.png'}: the file is empty (0 bytes), not a photo"
    assert "the file is empty (0 bytes)" in out["op_error"] and "cv2" not in out["op_error"]
    assert not out["code"] and not out["use_photo"] and out["images"] == []
