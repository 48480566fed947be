"""Face from Photo: a face's start latent inverted from a photo, kept in the .blend."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ..test_face_readers import astronaut


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The astronaut fixture photo as a PNG, a photo without a face, and a file that is no image."""
    tmp = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(tmp / "astronaut.png"), cv2.cvtColor(astronaut()["astronaut_rgb512"], cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp / "wall.png"), np.full((96, 96, 3), 120, np.uint8))
    (tmp / "notes.png").write_text("not an image")
    return tmp


INVERT = '''
import hashlib
import numpy as np
api = enable()
photo = addon("photo")
worker = addon("worker")
astronaut, wall, notes, blend = sys.argv[1:5]

def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()

face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
seed_frame = api.frame_array(face, 1)
status = sorted(bpy.ops.latent_emotion.face_from_photo(filepath=astronaut, steps=2))
settings = face.latent_emotion
code = np.array(settings[addon("properties").FACE_CODE].to_list(), np.float32)
frame = api.frame_array(face, 1)

# Independently: the repository's backend draws the stored code (all channels are 0 at frame 1).
backend = repo_backend()
from backend.checkpoints import load_generator
from backend.frame_cache import generator_synthesizer
G, info = load_generator(os.environ["LE_TEST_MODEL"], "cpu")
expected = generator_synthesizer(G)(code.reshape(1, info.num_ws, info.w_dim))[0]

strip = api.add_strip(frame_start=1, length=4, channel=3)
strip_seed = api.frame_array(strip, 1)
api.face_from_photo(strip, astronaut, steps=2)
strip_frame = api.frame_array(strip, 1)

errors = {}
for name, path in (("wall", wall), ("notes", notes)):
    try:
        bpy.ops.latent_emotion.face_from_photo(filepath=path, steps=2)
        errors[name] = None
    except RuntimeError as e:  # an ERROR report
        errors[name] = str(e)
after_errors = np.array(settings[addon("properties").FACE_CODE].to_list(), np.float32)

made_for = settings.photo_fingerprint  # a code made for another model is refused, with what to do
settings.photo_fingerprint = "0" * 64
try:
    api.frame_array(face, 1)
    other_model = None
except addon("rig").RigError as e:
    other_model = str(e)
settings.photo_fingerprint = made_for

order = photo.start_inversion(astronaut, steps=500)
worker.shared_worker().cancel(order)
try:
    photo.wait(order)
    cancelled = None
except addon("backend.jobs").Cancelled as e:
    cancelled = str(e)

class Layout:
    """Records what the panel draws."""
    def __init__(self, log): self.log = log
    def __getattr__(self, name):
        def call(*args, **kw):
            self.log.append([name, args[0] if args else kw.get("text", kw.get("icon_value", ""))])
            return Layout(self.log)
        return call

drawn = []
addon("ui").draw_photo(Layout(drawn), face, settings)
drawn = [[call, arg if isinstance(arg, str) else "icon"] for call, arg in drawn]
images = {im.name: [list(im.size), im.packed_file is not None] for im in photo.photo_images(face)}
bpy.ops.wm.save_as_mainfile(filepath=blend)
result(status=status, code_size=int(code.size), num_ws=info.num_ws, w_dim=info.w_dim, code=digest(code),
       seed_frame=digest(seed_frame), frame=digest(frame), expected=digest(expected),
       pixel_gap=float(np.abs(frame.astype(int) - expected.astype(int)).max()),
       seed_gap=float(np.abs(seed_frame.astype(int) - expected.astype(int)).mean()),
       use_photo=settings.use_photo, fingerprint_ok=settings.photo_fingerprint == info.fingerprint,
       strip_changed=digest(strip_seed) != digest(strip_frame), errors=errors,
       kept=digest(after_errors) == digest(code), cancelled=cancelled, images=images, drawn=drawn,
       other_model=other_model)
'''

REOPEN = '''
import hashlib
import numpy as np
api = enable()
worker = addon("worker")
inverted = []
worker.invert_photo = lambda order: inverted.append(order) or 1 / 0  # reopening must not invert again
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
face = bpy.data.objects["Emotion Face"]
code = np.array(face.latent_emotion[addon("properties").FACE_CODE].to_list(), np.float32)
frame = api.frame_array(face, 1)
images = sorted(im.name for im in addon("photo").photo_images(face))
face.latent_emotion.use_photo = False  # back to the seed's face
seed_frame = api.frame_array(face, 1)
digest = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
result(code=digest(code), frame=digest(frame), seed_frame=digest(seed_frame), images=images, inverted=len(inverted))
'''


def test_face_from_photo_starts_the_face_from_the_stored_code_and_reopens_without_inverting(blender, photos,
                                                                                            tmp_path):
    blend = str(tmp_path / "photo.blend")
    out = blender.run(INVERT, str(photos / "astronaut.png"), str(photos / "wall.png"), str(photos / "notes.png"),
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

    again = blender.run(REOPEN, blend)
    assert again["inverted"] == 0
    assert again["code"] == out["code"] and again["frame"] == out["frame"]
    assert again["seed_frame"] == out["seed_frame"]  # the seed's face is still there, and its cache keys apart
    assert again["images"] == sorted(out["images"])


# Blender's event loop does not run in the bpy module: the test sends the modal operator the events
# a window would (as tests/blender/test_video_keys.py does).
MODAL = '''
import time, types
api = enable()
Op = addon("photo").LATENT_EMOTION_OT_face_from_photo
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face

def operator(steps):
    op = types.SimpleNamespace(reports=[], filepath=sys.argv[1], steps=steps)
    op.report = lambda kind, message: op.reports.append([sorted(kind)[0], message])
    for name in ("begin", "start", "modal", "status", "_finish", "cancelled_report", "error_report", "apply",
                 "still_active"):
        setattr(op, name, types.MethodType(getattr(Op, name), op))
    assert op.begin(bpy.context)
    return op

op = operator(500)
cancelled = events_until_done(op, first="ESC")
cancel_reports, code_after_cancel = op.reports, face.latent_emotion.get("photo_code") is not None
op = operator(2)
done = events_until_done(op)
result(cancelled=cancelled, cancel_reports=cancel_reports, code_after_cancel=code_after_cancel, done=done,
       reports=op.reports, use_photo=face.latent_emotion.use_photo)
'''


def test_the_modal_operator_inverts_on_the_worker_and_esc_cancels(blender, photos):
    out = blender.run(MODAL, str(photos / "astronaut.png"))
    assert out["cancelled"] == "CANCELLED" and not out["code_after_cancel"]
    assert out["cancel_reports"][0][0] == "WARNING" and "cancelled" in out["cancel_reports"][0][1]
    assert out["done"] == "FINISHED" and out["use_photo"]
    assert out["reports"][0][0] == "INFO" and "astronaut.png" in out["reports"][0][1]
