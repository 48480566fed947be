"""Low-resolution previews: a model bigger than the preview size stops synthesis at a smaller block
for previews (live and Bake Preview), never for final frames."""

from __future__ import annotations

from .test_preview import HELPERS

LOWRES = HELPERS + '''
def lowres(face, frame, seed):
    w = G.w_from_seed(seed, truncation_psi=0.7).numpy()[0]
    ws = compose_latent(w, api.channel_values_at(face, frame), directions)
    return images_to_uint8(G.synthesize(torch.from_numpy(snap_w(ws)[None]), stop_at=16))[0]

def shown(face, frame):
    return decode_png(api.frame_path(face, frame).read_bytes())

def compare(image, face, frame, seed=3):
    return dict(size=list(image.shape), lowres=image.shape[0] == 16 and bool(np.array_equal(image, lowres(face, frame, seed))),
                scaled=bool(np.array_equal(image, resize(expected(face, frame, seed), image.shape[0]))),
                full=bool(np.array_equal(image, expected(face, frame, seed))))

face = api.add_face(seed=3)
api.key_channels(face, 1, interpolation="LINEAR", joy=0.0, surprise=1.0)
api.key_channels(face, 20, interpolation="LINEAR", joy=1.0, surprise=-1.0)
prefs.preview_resolution = 16
out = {"default": prefs.lowres_previews}

api.bake(face, 4, 4, preview=True)
out["bake_preview"] = compare(shown(face, 4), face, 4)
scene.frame_set(6)
drive()
out["live"] = compare(shown(face, 6), face, 6)
out["live_shown"] = last_shown()
api.bake(face, 4, 4)  # final: full size, whatever the preview left in the file
out["final"] = compare(shown(face, 4), face, 4)
prefs.lowres_previews = False
api.bake(face, 8, 8, preview=True)
out["off"] = compare(shown(face, 8), face, 8)
result(**out)
'''


def test_previews_of_a_bigger_model_stop_early_and_final_frames_do_not(blender):
    out = blender.run(LOWRES)
    assert out["default"] is True
    low = {"size": [16, 16, 3], "lowres": True, "scaled": False, "full": False}
    assert out["bake_preview"] == low  # the 16 px block's own image, not the 32 px frame scaled down
    assert out["live"] == low and out["live_shown"] == 6  # the preview worker takes the same path
    assert out["final"] == {"size": [32, 32, 3], "lowres": False, "scaled": True, "full": True}
    assert out["off"] == {"size": [16, 16, 3], "lowres": False, "scaled": True, "full": False}  # preference off
