from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import threading, time
from pathlib import Path
import numpy as np
import torch

api = enable()
preview, handlers = addon("preview"), addon("handlers")
scene = bpy.context.scene
prefs = bpy.context.preferences.addons[MODULE].preferences
prefs.preview_resolution = 0

def drive(timeout=60.0):
    end = time.time() + timeout
    while bpy.app.timers.is_registered(preview._poll):
        if preview._poll() is None:
            bpy.app.timers.unregister(preview._poll)  # what Blender does when a timer returns None
        elif time.time() > end:
            raise SystemExit("the preview did not finish")
        time.sleep(0.005)

repo_backend()
from backend.model.checkpoints import load_generator
from backend.animation.directions import load_directions
from backend.rendering.frame_cache import snap_w
from backend.model.generator import images_to_uint8
from backend.animation.latent import compose_latent
from backend.rendering.render import resize
from backend.rendering.video import decode_png

G, _ = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])

def expected(face, frame, seed):
    w = G.w_from_seed(seed, truncation_psi=0.7).numpy()[0]
    ws = compose_latent(w, api.channel_values_at(face, frame), directions)
    return images_to_uint8(G.synthesize(torch.from_numpy(snap_w(ws)[None])))[0]

def shows(face, frame, seed, size=32):
    path = api.frame_path(face, frame)
    if not path.is_file():
        return False
    want = expected(face, frame, seed)
    return bool(np.array_equal(decode_png(path.read_bytes()), want if size == 32 else resize(want, size)))

def last_shown():
    return preview.stats.shown[-1][1] if preview.stats.shown else None
