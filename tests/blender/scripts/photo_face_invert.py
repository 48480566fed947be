from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
from backend.model.checkpoints import load_generator
from backend.rendering.frame_cache import generator_synthesizer
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
