"""Face from Photo: a face's start latent inverted from a photo, kept in the .blend."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ..test_face_readers import astronaut
from .harness import script


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The astronaut fixture photo as a PNG, a photo without a face, and a file that is no image."""
    tmp = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(tmp / "astronaut.png"), cv2.cvtColor(astronaut()["astronaut_rgb512"], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp / "wall.png"), np.full((96, 96, 3), 120, np.uint8))
    (tmp / "notes.png").write_text("not an image")
    return tmp


INVERT = script("photo_face_invert")

REOPEN = script("photo_face_reopen")


def test_face_from_photo_starts_the_face_from_the_stored_code_and_reopens_without_inverting(shared_blender, blender,
                                                                                            photos, tmp_path):
    blend = str(tmp_path / "photo.blend")
    out = shared_blender.run(INVERT, str(photos / "astronaut.png"), str(photos / "wall.png"), str(photos / "notes.png"),
                      blend)
    assert out["status"] == ["FINISHED"]
    assert out["code_size"] == out["num_ws"] * out["w_dim"] and out["use_photo"] and out["fingerprint_ok"]
    assert out["frame"] != out["seed_frame"]  # the photo's face, not the seed's
    # The stored code's frame (to the last bit of rounding: the add-on's threads may differ), far from the seed's.
    assert out["pixel_gap"] <= 1 and out["seed_gap"] > 5, (out["pixel_gap"], out["seed_gap"])
    assert out["strip_changed"]  # a strip face too
    assert "no face found in the photo" in out["errors"]["wall"]
    assert "notes.png" in out["errors"]["notes"] and "not an image" in out["errors"]["notes"]
    assert out["other_model"] is not None and "run Face from Photo again" in out["other_model"]
    assert out["kept"]  # a failed Face from Photo leaves the face's code alone
    assert out["cancelled"] is not None and "cancelled" in out["cancelled"]
    assert out["images"] == {"Emotion Photo: Emotion Face": [[32, 32], True],
                             "Emotion Reconstruction: Emotion Face": [[32, 32], True]}

    # The panel: the button, the switch back to the seed, the photo beside its reconstruction.
    assert ["operator", "latent_emotion.face_from_photo"] in out["drawn"]
    assert out["drawn"].count(["template_icon", "icon"]) == 2, out["drawn"]

    again = blender.run(REOPEN, blend)  # a fresh process: nothing of the inversion left in memory
    assert again["inverted"] == 0
    assert again["code"] == out["code"] and again["frame"] == out["frame"]
    assert again["seed_frame"] == out["seed_frame"]  # the seed's face is still there, and its cache keys apart
    assert again["images"] == sorted(out["images"])


# Blender's event loop does not run in the bpy module: the test sends the modal operator the events
# a window would (as tests/blender/test_video_keys.py does).
MODAL = script("photo_face_modal")


def test_the_modal_operator_inverts_on_the_worker_and_esc_cancels(shared_blender, photos):
    out = shared_blender.run(MODAL, str(photos / "astronaut.png"))
    assert out["cancelled"] == "CANCELLED" and not out["code_after_cancel"]
    assert out["cancel_reports"][0][0] == "WARNING" and "cancelled" in out["cancel_reports"][0][1]
    assert out["done"] == "FINISHED" and out["use_photo"]
    # The test model (a tiny untrained generator, 2 steps) cannot draw the astronaut: the result says so.
    kind, message = out["reports"][0]
    assert kind == "WARNING" and "astronaut.png" in message and "fer distance" in message
    assert "cannot draw this face" in message
