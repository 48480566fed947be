from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

repo_backend()
import torch
from backend.model.checkpoints import load_generator
from backend.animation.directions import load_directions
from backend.rendering.frame_cache import snap_w
from backend.model.generator import images_to_uint8
from backend.animation.latent import compose_latent

G, _ = load_generator(os.environ["LE_TEST_MODEL"])
directions = load_directions(os.environ["LE_TEST_DIRECTIONS"])

def expected_frame(seed, frame):
    w = G.w_from_seed(seed, truncation_psi=0.7).numpy()[0]
    ws = compose_latent(w, expected_values(frame), directions)
    return images_to_uint8(G.synthesize(torch.from_numpy(snap_w(ws)[None])))[0]
