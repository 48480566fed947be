#!/usr/bin/env python3
"""Measure stacked channels, the plain sum of the paper's rig against the capped one, with the
evaluation probe (it measures; nothing that makes the model or the rig uses it).

    python scripts/eval_stacking.py [--model models/default/generator.safetensors]
        [--directions DIR.json] [--probe models/default/probe_eval.safetensors] [--seed 313]
        [--faces 8] [--json out.json] [--strip fig7.png] [--text-strip text.png]

For each composition (``add``: w + Σ value·strength·direction; ``cap``: the summed offset on a
W+ row held to the largest single channel's, ``backend.animation.latent.compose_latent``):

1. **Fig. 7** (``examples/fig7.txt``, both clips, 32 frames between keyframes, the main job's
   face: seed 0, ψ 0.7): every frame's identity drift from the clip's neutral face (its frame 0)
   as a fraction of the distance between faces, and the face region's mean-colour shift from
   neutral (CIE ΔE 1976 of the mean L*a*b* inside the face outline, outside the brows, eyes and
   mouth); the worst frame of each clip and of the 11 keyframes.
2. **Stacked pairs**: ``--faces`` neutral faces of face seed 1000 + ``--seed`` (as
   ``eval_default_model.py`` draws them); every pair of channels at 1.0 each: each channel's
   reading beside its reading alone (ratio of the means over the faces), the pair's drift and ΔE.
3. **Single channels**: every channel at 0 … 1 (and −1, 2) on those faces composes to the same
   bits under both, so single-channel frames, readings and cached frames are unchanged.
4. **The README's text example** ("She smiles slightly, then suddenly looks shocked and turns to
   the left": surprise 1.3 with head turn −1): the same two numbers at its keyframes.

The distance between faces is the mean eval-probe identity distance between ``--between`` neutral
faces of the same face seed. The face region comes from the renderer's geometry for the face the
face prior draws for that z with the frame's channel values (so it follows the head turn and the
jaw), shrunk by 3 px at 128 px, since the generator draws the face only roughly where the renderer
would. ``--strip`` writes the neutral face and the 11 keyframes of Fig. 7, a row per composition;
``--text-strip`` the same for the text example.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402
from backend.animation.directions import DirectionSet, load_directions  # noqa: E402
from backend.animation.latent import compose_latent  # noqa: E402
from backend.animation.script import Clip, load_script  # noqa: E402
from backend.animation.timeline import iter_latents, timeline_from_clip  # noqa: E402
from backend.learning.labels import MEASURE_BATCH, probe_reader  # noqa: E402
from backend.metrics.evaluation import between_faces, colour_shift  # noqa: E402
from backend.model.generator import Generator, synthesize_frames  # noqa: E402
from lab.default_directions import _renders, model_prior, neutral_faces, neutral_z  # noqa: E402
from lab.face_prior import FacePrior  # noqa: E402
from lab.procedural import Emotions, Identity, face_params_from_emotions  # noqa: E402
from lab.procedural.regions import skin_region  # noqa: E402

FACE_SEED = 1000  # eval_default_model.py's stream: face seed = FACE_SEED + --seed
README_TEXT = "She smiles slightly, then suddenly looks shocked and turns to the left."
DRIFT_TARGET, DELTA_E_TARGET, READING_TARGET = 0.5, 8.0, 0.5
STACKING_MODES = ("add", "cap")  # before, after


def skin_mask(person: Identity, values: np.ndarray, size: int) -> np.ndarray:
    """Where the renderer draws ``person``'s skin showing channel ``values`` (9,; clipped to the
    renderer's ranges), outside the brows, eyes and mouth (``skin_region``)."""
    values = np.clip(np.asarray(values, np.float32), [0.0] * 8 + [-1.0], 1.0)
    return skin_region(face_params_from_emotions(person, Emotions.from_array(values)), size)


def delta_e(frame: np.ndarray, neutral: np.ndarray, person: Identity, values: np.ndarray) -> float:
    """ΔE of the skin's mean colour in ``frame`` (showing ``values``) from the ``neutral`` frame."""
    size = frame.shape[0]
    return colour_shift(frame, neutral, skin_mask(person, values, size),
                        skin_mask(person, np.zeros(len(CHANNEL_NAMES)), size))


# --- frames ------------------------------------------------------------------------------------------

def clip_frames(G: Generator, w_face: np.ndarray, clip: Clip, channels: tuple[str, ...], directions: DirectionSet,
                stacking: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame numbers, channel values (F, 9), frames) of a script clip, as ``backend render`` makes them."""
    timeline = timeline_from_clip(clip, channels)
    ws = np.concatenate(list(iter_latents(w_face, timeline, directions, stacking=stacking)))
    frames = np.arange(timeline.first, timeline.last + 1)
    values = timeline.values_at(frames)
    full = np.zeros((len(frames), len(CHANNEL_NAMES)))
    for i, c in enumerate(timeline.channels):
        full[:, CHANNEL_NAMES.index(c)] = values[:, i]
    return frames, full, synthesize_frames(G, ws, MEASURE_BATCH)


def clip_measures(read, images: np.ndarray, values: np.ndarray, person: Identity, between: float) -> dict:
    """Per frame: drift from frame 0 (neutral) / between, and ΔE from frame 0."""
    emb = read(images).embedding
    drift = np.linalg.norm(emb - emb[0], axis=1) / between
    de = np.array([delta_e(f, images[0], person, v) for f, v in zip(images, values)])
    return {"drift": drift, "delta_e": de}


def strip(rows: list[np.ndarray]) -> np.ndarray:
    """One row of tiles per entry (each (K, H, W, 3)), 2-px gaps."""
    k, h, w = rows[0].shape[:3]
    out = np.full((len(rows) * (h + 2) - 2, k * (w + 2) - 2, 3), 255, np.uint8)
    for r, tiles in enumerate(rows):
        for i, tile in enumerate(tiles):
            out[r * (h + 2):r * (h + 2) + h, i * (w + 2):i * (w + 2) + w] = tile
    return out


def main(argv: list[str] | None = None) -> int:
    from backend.animation.script import parse_script
    from backend.files import write_atomic
    from backend.language import describe
    from backend.model.checkpoints import load_generator
    from backend.readers.probe import load_probe
    from backend.rendering.video import encode_png

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default/generator.safetensors"))
    p.add_argument("--directions", type=Path, default=None, help="default: directions.json beside the model")
    p.add_argument("--probe", type=Path, default=Path("models/default/probe_eval.safetensors"), help="the EVAL probe")
    p.add_argument("--script", type=Path, default=Path("examples/fig7.txt"))
    p.add_argument("--face-seed", type=int, default=0, help="the Fig. 7 face: a seed, as the main job's --seed")
    p.add_argument("--seed", type=int, default=313, help="the pairs' faces: face seed 1000 + SEED")
    p.add_argument("--faces", type=int, default=8)
    p.add_argument("--between", type=int, default=35, help="neutral faces for the distance between faces")
    p.add_argument("--truncation", type=float, default=0.7)
    p.add_argument("--json", type=Path)
    p.add_argument("--strip", type=Path, help="PNG: neutral + Fig. 7's keyframes, a row per composition")
    p.add_argument("--text-strip", type=Path, help="PNG: the README's text example's keyframes")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.faces < 1 or args.between < 2:
        p.error("--faces must be >= 1 and --between >= 2")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    G, info = load_generator(args.model)
    G.eval().requires_grad_(False)
    directions_path = args.directions or args.model.parent / "directions.json"
    directions = load_directions(directions_path, expect_fingerprint=info.fingerprint, num_ws=G.num_ws, w_dim=G.w_dim)
    read = probe_reader(load_probe(args.probe))
    prior: FacePrior = model_prior(args.model, G.config.z_dim)
    face_seed = FACE_SEED + args.seed
    z = neutral_z(prior, max(args.between, args.faces), seed=face_seed)
    faces = neutral_faces(G, prior, max(args.between, args.faces), seed=face_seed, truncation_psi=args.truncation)
    neutral_images = synthesize_frames(G, faces, MEASURE_BATCH)
    between = between_faces(read(neutral_images[:args.between]).embedding)
    people = prior.identities(z[:args.faces])
    faces, neutral_images = faces[:args.faces], neutral_images[:args.faces]
    print(f"model {args.model} ({info.fingerprint[:12]}), directions {directions_path}, eval probe {args.probe}; "
          f"{args.threads} thread(s)")
    print(f"distance between faces (eval probe, {args.between} neutral faces of face seed {face_seed}): {between:.3f}")
    doc: dict = {"model": str(args.model), "directions": str(directions_path), "face_seed": face_seed,
                 "between_faces": between, "fig7": {}, "pairs": {}, "text_example": {}}

    # 1. Fig. 7 -------------------------------------------------------------------------------------
    script = load_script(args.script)
    w_face = G.w_from_seed(args.face_seed, truncation_psi=args.truncation)[0].cpu().numpy()
    fig_person = prior.identities(G.z_from_seed(args.face_seed).cpu().numpy())[0]
    print(f"\n1. {args.script}, face seed {args.face_seed} (the main job's): worst frame of each clip, "
          f"drift / between faces and ΔE from neutral (targets <= {DRIFT_TARGET}, <= {DELTA_E_TARGET:g})")
    print(f"{'clip':<6}{'frames':>7}  " + "".join(f"{m + ': drift (frame)   ΔE (frame)':<38}" for m in STACKING_MODES))
    strip_rows = {m: [] for m in STACKING_MODES}
    for clip in script.clips:
        line = f"{clip.index:<6}"
        for mode in STACKING_MODES:
            frames, values, images = clip_frames(G, w_face, clip, script.channels, directions, mode)
            m = clip_measures(read, images, values, fig_person, between)
            keys = [k.frame - frames[0] for k in clip.keyframes]
            if not strip_rows[mode]:
                strip_rows[mode].append(images[0])
            strip_rows[mode].extend(images[k] for k in keys[1:])
            i, j = int(np.argmax(m["drift"])), int(np.argmax(m["delta_e"]))
            if mode == STACKING_MODES[0]:
                line += f"{len(frames):>7}  "
            line += f"{m['drift'][i]:>6.2f} ({frames[i]:>3})   {m['delta_e'][j]:>6.1f} ({frames[j]:>3}){'':<12}"
            doc["fig7"].setdefault(str(clip.index), {})[mode] = {
                "frames": len(frames), "worst_drift": float(m["drift"][i]), "worst_drift_frame": int(frames[i]),
                "worst_delta_e": float(m["delta_e"][j]), "worst_delta_e_frame": int(frames[j]),
                "keyframes": [int(frames[k]) for k in keys],
                "keyframe_drift": [float(m["drift"][k]) for k in keys],
                "keyframe_delta_e": [float(m["delta_e"][k]) for k in keys],
                "frames_over_drift_target": int((m["drift"] > DRIFT_TARGET).sum()),
                "frames_over_delta_e_target": int((m["delta_e"] > DELTA_E_TARGET).sum())}
        print(line)
    print("keyframes (clip:frame): drift / ΔE, add → cap")
    for clip in script.clips:
        r = doc["fig7"][str(clip.index)]
        for k, f in enumerate(r["add"]["keyframes"][1:], start=1):
            words = " ".join(f"{c}:{v:g}" for c, v in clip.keyframes[k].values.items() if v)
            print(f"  {clip.index}:{f:<4} {words:<44} {r['add']['keyframe_drift'][k]:.2f} / "
                  f"{r['add']['keyframe_delta_e'][k]:4.1f}  →  {r['cap']['keyframe_drift'][k]:.2f} / "
                  f"{r['cap']['keyframe_delta_e'][k]:4.1f}")
    if args.strip is not None:
        write_atomic(args.strip, encode_png(strip([np.stack(strip_rows[m]) for m in STACKING_MODES])))
        print(f"wrote {args.strip} (rows: {', '.join(STACKING_MODES)}; neutral, then the keyframes)")

    # 2. Stacked pairs --------------------------------------------------------------------------------
    names = [n for n in CHANNEL_NAMES if n in directions]
    size = neutral_images.shape[1]
    neutral_read = read(neutral_images)

    def measure(values: dict[str, float], mode: str) -> dict:
        images = synthesize_frames(G, compose_latent(faces, values, directions, mode), MEASURE_BATCH)
        r = read(images)
        full = np.zeros(len(CHANNEL_NAMES))
        for c, v in values.items():
            full[CHANNEL_NAMES.index(c)] = v
        return {"reading": r.values, "images": images,
                "drift": float(np.mean(np.linalg.norm(r.embedding - neutral_read.embedding, axis=1)) / between),
                "delta_e": float(np.mean([delta_e(f, n, person, full) for f, n, person
                                          in zip(images, neutral_images, people)]))}

    def rendered(values: dict[str, float]) -> np.ndarray:
        """The eval probe's readings (F, 9) of the renderer's own faces of these people showing ``values``."""
        full = np.zeros(len(CHANNEL_NAMES), np.float32)
        for c, v in values.items():
            full[CHANNEL_NAMES.index(c)] = v
        return read(_renders(people, full, size)).values

    single = {n: measure({n: 1.0}, "add") for n in names}
    render_single = {n: rendered({n: 1.0}) for n in names}
    print(f"\n2. every pair of channels at 1.0 on {args.faces} faces (face seed {face_seed}): each channel's mean "
          f"reading / its mean reading alone (target >= {READING_TARGET}), mean drift / between faces "
          f"(<= {DRIFT_TARGET}), mean ΔE")
    print("(renders: the same ratios on the renderer's own faces of these people, both channels drawn at 1.0)")
    print(f"{'pair':<24}{'renders: a, b':<16}" + "".join(f"{m + ': ratio a, ratio b, drift, ΔE':<36}"
                                                         for m in STACKING_MODES))
    for a, b in itertools.combinations(names, 2):
        ca, cb = CHANNEL_NAMES.index(a), CHANNEL_NAMES.index(b)
        both = rendered({a: 1.0, b: 1.0})
        ceiling = (float(both[:, ca].mean() / render_single[a][:, ca].mean()),
                   float(both[:, cb].mean() / render_single[b][:, cb].mean()))
        doc["pairs"].setdefault(f"{a}+{b}", {})["renders"] = {"ratio_a": ceiling[0], "ratio_b": ceiling[1]}
        line = f"{a + ' + ' + b:<24}{ceiling[0]:>6.2f} {ceiling[1]:>6.2f}{'':<3}"
        for mode in STACKING_MODES:
            m = measure({a: 1.0, b: 1.0}, mode)
            ra = float(m["reading"][:, ca].mean() / single[a]["reading"][:, ca].mean())
            rb = float(m["reading"][:, cb].mean() / single[b]["reading"][:, cb].mean())
            ok = min(ra, rb) >= READING_TARGET and m["drift"] <= DRIFT_TARGET
            line += f"{ra:>6.2f} {rb:>6.2f} {m['drift']:>6.2f} {m['delta_e']:>6.1f}{'' if ok else ' *':<2}{'':<8}"
            doc["pairs"].setdefault(f"{a}+{b}", {})[mode] = {"ratio_a": ra, "ratio_b": rb, "drift": m["drift"],
                                                            "delta_e": m["delta_e"], "meets": ok}
        print(line)
    for mode in STACKING_MODES:
        rows = [r[mode] for r in doc["pairs"].values()]
        ceilings = [min(r["renders"]["ratio_a"], r["renders"]["ratio_b"]) for r in doc["pairs"].values()]
        s = {"pairs_meeting": sum(r["meets"] for r in rows), "pairs": len(rows),
             "min_ratio": min(min(r["ratio_a"], r["ratio_b"]) for r in rows),
             "pairs_ratio_met": sum(min(r["ratio_a"], r["ratio_b"]) >= READING_TARGET for r in rows),
             "pairs_drift_met": sum(r["drift"] <= DRIFT_TARGET for r in rows),
             "pairs_ratio_met_where_renders_meet_it": sum(min(r["ratio_a"], r["ratio_b"]) >= READING_TARGET
                                                          for r, c in zip(rows, ceilings) if c >= READING_TARGET),
             "pairs_where_renders_meet_ratio": sum(c >= READING_TARGET for c in ceilings),
             "mean_drift": float(np.mean([r["drift"] for r in rows])), "max_drift": max(r["drift"] for r in rows),
             "mean_delta_e": float(np.mean([r["delta_e"] for r in rows])),
             "max_delta_e": max(r["delta_e"] for r in rows)}
        doc.setdefault("pairs_summary", {})[mode] = s
        print(f"{mode}: {s['pairs_meeting']}/{s['pairs']} pairs meet both (reading ratio met {s['pairs_ratio_met']}, "
              f"drift met {s['pairs_drift_met']}; ratio met on {s['pairs_ratio_met_where_renders_meet_it']} of the "
              f"{s['pairs_where_renders_meet_ratio']} pairs whose renders meet it); lowest ratio {s['min_ratio']:.2f}; "
              f"drift mean {s['mean_drift']:.2f}, "
              f"max {s['max_drift']:.2f}; ΔE mean {s['mean_delta_e']:.1f}, max {s['max_delta_e']:.1f}")
    print("single channels at 1.0 (the ratios' denominators): " + ", ".join(
        f"{n} {single[n]['reading'][:, CHANNEL_NAMES.index(n)].mean():.2f} (drift {single[n]['drift']:.2f}, "
        f"ΔE {single[n]['delta_e']:.1f})" for n in names))
    doc["single"] = {n: {"reading": float(single[n]["reading"][:, CHANNEL_NAMES.index(n)].mean()),
                         "drift": single[n]["drift"], "delta_e": single[n]["delta_e"]} for n in names}

    # 3. Single channels unchanged ----------------------------------------------------------------------
    values = np.concatenate([np.linspace(0.0, 1.0, 32), [-1.0, 2.0]])
    same = all(compose_latent(f, {n: values}, directions, "cap").tobytes()
               == compose_latent(f, {n: values}, directions, "add").tobytes() for f in faces for n in names)
    doc["single_channel_codes_bit_identical"] = same
    print(f"\n3. single channels: {len(names)} channels x {args.faces} faces x {len(values)} values (0..1, -1, 2): "
          f"codes under cap {'bit for bit the same as' if same else 'DIFFER from'} add")

    # 4. The README's text example ----------------------------------------------------------------------
    text_script = parse_script(describe(README_TEXT, fps=25).script)
    clip = text_script.clips[0]
    rows = []
    print(f"\n4. '{README_TEXT}' (rules only; keyframes: "
          + "; ".join(" ".join(f"{c}:{v:g}" for c, v in k.values.items() if v) or "neutral" for k in clip.keyframes)
          + ")")
    for mode in STACKING_MODES:
        frames, vals, images = clip_frames(G, w_face, clip, text_script.channels, directions, mode)
        m = clip_measures(read, images, vals, fig_person, between)
        keys = [k.frame - frames[0] for k in clip.keyframes]
        rows.append(images[keys])
        i, j = int(np.argmax(m["drift"])), int(np.argmax(m["delta_e"]))
        doc["text_example"][mode] = {"worst_drift": float(m["drift"][i]), "worst_delta_e": float(m["delta_e"][j]),
                                     "last_keyframe_drift": float(m["drift"][keys[-1]]),
                                     "last_keyframe_delta_e": float(m["delta_e"][keys[-1]])}
        print(f"  {mode}: worst drift {m['drift'][i]:.2f} (frame {frames[i]}), worst ΔE {m['delta_e'][j]:.1f} "
              f"(frame {frames[j]}); last keyframe {m['drift'][keys[-1]]:.2f} / {m['delta_e'][keys[-1]]:.1f}")
    if args.text_strip is not None:
        write_atomic(args.text_strip, encode_png(strip(rows)))
        print(f"wrote {args.text_strip} (rows: {', '.join(STACKING_MODES)}; its keyframes)")

    doc["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"\n{doc['seconds']:.0f} s")
    if args.json is not None:
        write_atomic(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
