#!/usr/bin/env python3
"""Measure the default model's directions with the evaluation probe, on the paper's protocol.

    python scripts/eval_default_model.py [--model models/default/generator.safetensors]
        [--directions models/default/directions.json] [--probe models/default/probe_eval.safetensors]
        [--faces 35] [--frames 32] [--json eval.json] [--sheet sheet.png]

Zhang & Pollett (2021), Sec. 4: ``--faces`` neutral start faces (drawn neutral by the face
prior, truncation ψ = ``--truncation``; none is a calibration face) × the six emotions, each a
video of ``--frames`` frames whose channel goes linearly from 0 to 1 — 35 × 6 = 210 videos of
32 frames by default. Eye-close, mouth-open and head-turn get the same videos with
``--extra-frames`` frames. The eval probe, trained apart from everything that made the model
and its directions, reads every frame. Per channel:

- Spearman: rank correlation of channel value and the probe's reading of that channel, per
  video, averaged over the videos (target ≥ 0.9);
- dominant: share of faces where, at value 1.0, the channel's emotion reads highest of the six
  (eye-close, mouth-open: reads ≥ 0.5; head-turn: reads ≥ 0.5 to the right) (target ≥ 80 %);
- identity drift: distance in the probe's identity embedding (unit vectors) between the frames
  at value 0 and 1, with the direction on its own rows (the directions file's) and, the paper's
  Fig. 4 ablation, at the same strength on the paper's mask (the first 8 rows: its 8 of 18 at
  1024 px are the same 4-32 px layers) and on every row (with each one's reading at 1.0);
- ACD: mean distance between consecutive frames' identity embeddings (the paper's Table 1
  variant; ``backend.acd``), and the pairwise (MoCoGAN) variant.
``--sheet`` writes a PNG: one row per face (up to ``--sheet-faces``), the neutral face and each
channel at value 1.0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

from backend.acd import content_distance  # noqa: E402
from backend.channels import CHANNEL_NAMES  # noqa: E402
from backend.direction_learning import MEASURE_BATCH, Reader, probe_reader  # noqa: E402
from backend.generator import synthesize_frames  # noqa: E402
from backend.directions import DirectionSet, load_directions  # noqa: E402
from backend.latent import compose_latent  # noqa: E402
from backend.sheet import sample_sheet  # noqa: E402
from lab.default_directions import model_prior, neutral_faces  # noqa: E402
from lab.procedural import EMOTION_NAMES as EMOTIONS  # noqa: E402

FACE_SEED = 1000  # neutral_faces stream of the eval faces; make_default_directions calibrates on seed 0
SPEARMAN_TARGET = 0.9
DOMINANT_TARGET = 0.8
PAPER_MASK_ROWS = 8  # the paper's first 8 W+ rows: the 4-32 px layers at any resolution from 32 px up


@dataclass(frozen=True)
class ChannelScores:
    """One channel's numbers over its videos."""

    name: str
    videos: int
    frames: int
    spearman: float  # mean over videos
    spearman_min: float
    dominant: float  # share of faces
    reading_at_0: float
    reading_at_1: float
    drift_masked: float  # identity drift 0 → 1 on the direction's own rows
    drift_paper_mask: float  # ... on the paper's mask, the first PAPER_MASK_ROWS rows
    drift_all_rows: float  # ... on every row
    reading_at_1_paper_mask: float
    reading_at_1_all_rows: float
    acd_consecutive: float
    acd_pairwise: float
    layers: tuple[int, int]


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of (V, T) arrays (ties get average ranks; a constant row 0)."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    return np.where(den > 0, (rx * ry).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)


def dominant(readings: np.ndarray, name: str) -> np.ndarray:
    """Per face (readings (N, 9) at value 1.0): does the channel show as the intended one?"""
    c = CHANNEL_NAMES.index(name)
    if name in EMOTIONS:
        return np.argmax(readings[:, :len(EMOTIONS)], axis=1) == c
    return readings[:, c] >= 0.5


def evaluate_channel(G, directions: DirectionSet, read: Reader, faces: np.ndarray, name: str,
                     frames: int) -> tuple[ChannelScores, np.ndarray]:
    """Scores of one channel's videos from ``faces`` (W+ codes); also the frames at value 1.0."""
    d = directions[name]
    c = CHANNEL_NAMES.index(name)
    values = np.linspace(0.0, 1.0, frames)
    ws = np.stack([compose_latent(face, {name: values}, directions) for face in faces])  # (F, T, rows, w)
    n, t = ws.shape[:2]
    images = synthesize_frames(G, ws.reshape(n * t, *ws.shape[2:]), MEASURE_BATCH)
    reading = read(images)
    vals = reading.values.reshape(n, t, -1)
    emb = reading.embedding.reshape(n, t, -1)
    rho = spearman_rows(np.broadcast_to(values, (n, t)), vals[:, :, c])
    def at_one(rows: int) -> object:
        moved = replace(directions, directions=(replace(d, layers=(0, rows)),))
        return read(synthesize_frames(G, np.stack([compose_latent(face, {name: 1.0}, moved) for face in faces]),
                                     MEASURE_BATCH))

    mask, full = at_one(min(PAPER_MASK_ROWS, directions.num_ws)), at_one(directions.num_ws)
    scores = ChannelScores(
        name, n, t, float(rho.mean()), float(rho.min()), float(dominant(vals[:, -1], name).mean()),
        float(vals[:, 0, c].mean()), float(vals[:, -1, c].mean()),
        float(np.linalg.norm(emb[:, -1] - emb[:, 0], axis=1).mean()),
        float(np.linalg.norm(mask.embedding - emb[:, 0], axis=1).mean()),
        float(np.linalg.norm(full.embedding - emb[:, 0], axis=1).mean()),
        float(mask.values[:, c].mean()), float(full.values[:, c].mean()),
        float(np.mean([content_distance(e, "consecutive") for e in emb])),
        float(np.mean([content_distance(e, "pairwise") for e in emb])), d.layers)
    last = images.reshape(n, t, *images.shape[1:])
    return scores, np.stack([last[:, 0], last[:, -1]], axis=1)


def evaluate(G, directions: DirectionSet, read: Reader, faces: np.ndarray, frames: int, extra_frames: int,
             channels: tuple[str, ...] = CHANNEL_NAMES,
             log=print) -> tuple[list[ChannelScores], np.ndarray, dict[str, np.ndarray]]:
    """Every channel's scores, and the sheet's columns (neutral frames, frames at 1.0 per channel)."""
    scores, edited = [], {}
    neutral = None
    for name in channels:
        start = time.perf_counter()
        s, ends = evaluate_channel(G, directions, read, faces, name, frames if name in EMOTIONS else extra_frames)
        scores.append(s)
        neutral = ends[:, 0] if neutral is None else neutral
        edited[name] = ends[:, 1]
        log(f"  {name}: {s.videos} videos x {s.frames} frames, {time.perf_counter() - start:.0f} s")
    return scores, neutral, edited


def print_table(scores: list[ChannelScores]) -> None:
    print(f"\n{'':<26}{'':>25}{'identity drift 0->1 (reading at 1)':^39}{'ACD':^16}")
    print(f"{'channel':<11}{'rows':>6}{'videos':>7}{'Spearman':>9}{'(min)':>7}{'dominant':>9}{'read 0':>7}"
          f"{'own rows':>13}{f'0-{PAPER_MASK_ROWS}':>13}{'all rows':>13}{'consec':>8}{'pairs':>8}")
    for s in scores:
        flag = "" if s.spearman >= SPEARMAN_TARGET and s.dominant >= DOMINANT_TARGET else "  *"
        print(f"{s.name:<11}{f'{s.layers[0]}-{s.layers[1]}':>6}{s.videos:>7}{s.spearman:>9.3f}{s.spearman_min:>7.2f}"
              f"{s.dominant:>8.0%} {s.reading_at_0:>7.2f}"
              f"{s.drift_masked:>7.3f} ({s.reading_at_1:4.2f})"
              f"{s.drift_paper_mask:>7.3f} ({s.reading_at_1_paper_mask:4.2f})"
              f"{s.drift_all_rows:>7.3f} ({s.reading_at_1_all_rows:4.2f}){s.acd_consecutive:>8.4f}"
              f"{s.acd_pairwise:>8.4f}{flag}")


def between_faces(embedding: np.ndarray) -> float:
    """Mean identity-embedding distance between different faces (N, D): the scale drift is read on."""
    d = np.linalg.norm(embedding[:, None] - embedding[None], axis=2)
    return float(d[np.triu_indices(len(embedding), 1)].mean()) if len(embedding) > 1 else 0.0


def summary(scores: list[ChannelScores]) -> dict[str, float | int]:
    emo = [s for s in scores if s.name in EMOTIONS]
    return {
        "emotions_measured": len(emo),
        "emotions_spearman_mean": float(np.mean([s.spearman for s in emo])),
        "emotions_dominant_mean": float(np.mean([s.dominant for s in emo])),
        "emotions_meeting_spearman_target": sum(s.spearman >= SPEARMAN_TARGET for s in emo),
        "emotions_meeting_dominant_target": sum(s.dominant >= DOMINANT_TARGET for s in emo),
        "drift_masked_mean": float(np.mean([s.drift_masked for s in scores])),
        "drift_paper_mask_mean": float(np.mean([s.drift_paper_mask for s in scores])),
        "drift_all_rows_mean": float(np.mean([s.drift_all_rows for s in scores])),
        "acd_consecutive_emotion_videos": float(np.mean([s.acd_consecutive for s in emo])),
        "acd_pairwise_emotion_videos": float(np.mean([s.acd_pairwise for s in emo])),
    }


def main(argv: list[str] | None = None) -> int:
    from backend.checkpoints import load_generator
    from backend.files import write_atomic
    from backend.probe import load_probe
    from backend.video import encode_png

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default/generator.safetensors"))
    p.add_argument("--directions", type=Path, default=None, help="default: directions.json beside the model")
    p.add_argument("--probe", type=Path, default=Path("models/default/probe_eval.safetensors"), help="the EVAL probe")
    p.add_argument("--faces", type=int, default=35)
    p.add_argument("--frames", type=int, default=32, help="frames per emotion video")
    p.add_argument("--extra-frames", type=int, default=8, help="frames per eye-close/mouth-open/head-turn video")
    p.add_argument("--truncation", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    p.add_argument("--sheet", type=Path, default=None, help="write a faces x channels PNG here")
    p.add_argument("--sheet-faces", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.faces < 1 or args.frames < 2 or args.extra_frames < 2:
        p.error("--faces must be >= 1 and --frames, --extra-frames >= 2")
    torch.set_num_threads(args.threads)
    directions_path = args.directions or args.model.parent / "directions.json"
    t0 = time.perf_counter()

    G, info = load_generator(args.model)
    G.eval().requires_grad_(False)
    directions = load_directions(directions_path, expect_fingerprint=info.fingerprint, num_ws=G.num_ws,
                                 w_dim=G.w_dim)
    missing = [n for n in CHANNEL_NAMES if n not in directions]
    if missing:
        print(f"note: {directions_path} has no direction for {', '.join(missing)}; those are not measured")
    read = probe_reader(load_probe(args.probe))
    faces = neutral_faces(G, model_prior(args.model, G.config.z_dim), args.faces, seed=FACE_SEED + args.seed,
                          truncation_psi=args.truncation)
    print(f"model {args.model} ({info.fingerprint[:12]}), directions {directions_path}, eval probe {args.probe}")
    print(f"{args.faces} neutral faces x 6 emotions x {args.frames} frames "
          f"(+ 3 channels x {args.extra_frames} frames), {args.threads} thread(s)")
    channels = tuple(n for n in CHANNEL_NAMES if n in directions)
    if not channels:
        print(f"error: {directions_path} has none of the channels {', '.join(CHANNEL_NAMES)}", file=sys.stderr)
        return 2
    scores, neutral, edited = evaluate(G, directions, read, faces, args.frames, args.extra_frames, channels)
    print_table(scores)
    totals = summary(scores)
    totals["identity_distance_between_faces"] = between_faces(read(neutral).embedding)
    seconds = time.perf_counter() - t0
    t = totals
    print(f"\nemotions: mean Spearman {t['emotions_spearman_mean']:.3f} ({t['emotions_meeting_spearman_target']}/"
          f"{t['emotions_measured']} >= {SPEARMAN_TARGET}), mean dominant {t['emotions_dominant_mean']:.0%} "
          f"({t['emotions_meeting_dominant_target']}/{t['emotions_measured']} >= {DOMINANT_TARGET:.0%})")
    print(f"identity distance between different start faces (for scale): "
          f"{t['identity_distance_between_faces']:.3f}")
    print(f"identity drift 0->1, mean over channels: own rows {t['drift_masked_mean']:.3f}, paper's mask "
          f"{t['drift_paper_mask_mean']:.3f}, all rows {t['drift_all_rows_mean']:.3f}")
    print(f"ACD of the emotion videos: {t['acd_consecutive_emotion_videos']:.4f} (consecutive), "
          f"{t['acd_pairwise_emotion_videos']:.4f} (pairwise); {seconds:.0f} s")
    print("(* below a target: Spearman >= 0.9 and dominant >= 80 %)")
    if args.json is not None:
        doc = {"model": str(args.model), "generator_fingerprint": info.fingerprint,
               "directions": str(directions_path), "probe": str(args.probe),
               "protocol": {"faces": args.faces, "frames": args.frames, "extra_frames": args.extra_frames,
                            "truncation": args.truncation, "face_seed": FACE_SEED + args.seed},
               "channels": [asdict(s) for s in scores], "missing_channels": missing, "summary": totals,
               "seconds": round(seconds, 1)}
        write_atomic(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.sheet is not None:
        k = min(args.sheet_faces, len(faces))
        write_atomic(args.sheet, encode_png(sample_sheet(neutral[:k], {n: v[:k] for n, v in edited.items()})))
        print(f"wrote {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
