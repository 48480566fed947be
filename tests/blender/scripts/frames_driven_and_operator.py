from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import numpy as np
import torch

api = enable()
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
fc = face.driver_add("latent_emotion.surprise")
fc.driver.type = "SCRIPTED"
fc.driver.expression = "frame / 20"  # a simple expression: evaluated without Python auto-run
api.key_channels(face, 1, joy=0.25)
bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 5
state = list(bpy.ops.latent_emotion.bake("INVOKE_DEFAULT"))  # no window: runs to the end at once

repo_backend()
from backend.model.checkpoints import load_generator
from backend.animation.directions import load_directions
from backend.rendering.frame_cache import snap_w
from backend.model.generator import images_to_uint8
from backend.animation.latent import compose_latent
from backend.rendering.video import decode_png

G, info = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])
w = G.w_from_seed(1, truncation_psi=0.7).numpy()[0]
values = {name: 0.0 for name in directions.names}
values.update(joy=0.25, surprise=4 / 20)
expected = images_to_uint8(G.synthesize(torch.from_numpy(snap_w(compose_latent(w, values, directions))[None])))[0]
baked = decode_png(api.frame_path(face, 4).read_bytes())
result(state=state, equal=bool(np.array_equal(expected, baked)), frame=bpy.context.scene.frame_current,
       files=sorted(p.name for p in api.frame_path(face, 1).parent.glob("*.png")))
