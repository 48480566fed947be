from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
