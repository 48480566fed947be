from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import numpy as np
import torch

api = enable()
face = api.add_face(seed=3, truncation=0.6)
extra = [item.name for item in face.latent_emotion.extra]
api.key_channels(face, 1, interpolation="LINEAR", joy=0.0, surprise=1.0, brow_raise=0.0)
api.key_channels(face, 11, interpolation="LINEAR", joy=1.0, surprise=-0.5, brow_raise=0.8)
first = api.bake(face, 1, 11)
again = api.bake(face, 1, 11)

repo_backend()
from backend.model.checkpoints import load_generator
from backend.animation.directions import load_directions
from backend.rendering.frame_cache import snap_w
from backend.model.generator import images_to_uint8
from backend.animation.latent import compose_latent
from backend.rendering.video import decode_png

G, info = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])
w_face = G.w_from_seed(3, truncation_psi=0.6).numpy()[0]
checks = {}
for f in (1, 4, 7, 11):
    values = api.channel_values_at(face, f)
    ws = compose_latent(w_face, values, directions)
    expected = images_to_uint8(G.synthesize(torch.from_numpy(snap_w(ws)[None])))[0]
    baked = decode_png(api.frame_path(face, f).read_bytes())
    checks[f] = dict(joy=values["joy"], surprise=values["surprise"], brow=values["brow_raise"],
                     equal=bool(np.array_equal(expected, baked)), shape=list(baked.shape),
                     array_equal=bool(np.array_equal(api.frame_array(face, f), baked)))

# One key changes: only the frames after the first keyframe differ.
api.key_channels(face, 11, interpolation="LINEAR", joy=0.5)
changed = api.bake(face, 1, 11)

# Preview files are smaller; a final bake puts full-size frames back without recomputing.
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.preview_resolution = 16
preview = api.bake(face, 1, 3, preview=True)
preview_shape = list(decode_png(api.frame_path(face, 2).read_bytes()).shape)
final = api.bake(face, 1, 3)
final_shape = list(decode_png(api.frame_path(face, 2).read_bytes()).shape)
image = face.latent_emotion.image

# A duplicated face (Shift+D copies its settings) gets frames of its own at its first bake.
twin = face.copy()
twin.animation_data.action = face.animation_data.action.copy()
bpy.context.scene.collection.objects.link(twin)
api.key_channels(twin, 11, joy=-1.0)
api.bake(twin, 11, 11)
twin_files = [str(api.frame_path(t, 11)) for t in (face, twin)]
twin_materials = [t.material_slots[0].material.name for t in (face, twin)]
result(twin_files=twin_files, twin_materials=twin_materials,
       twin_images=[t.latent_emotion.image.name for t in (face, twin)],
extra=extra, checks=checks, first=[first.frames, first.computed, first.written],
       again=[again.frames, again.computed, again.written], changed=[changed.computed, changed.written],
       preview=[preview.computed, preview.written], preview_shape=preview_shape,
       final=[final.computed, final.written], final_shape=final_shape,
       image=[image.source, os.path.basename(image.filepath)])
