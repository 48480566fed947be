"""Exporting a fit: G_ema in our safetensors format, with w_avg and the facts of the fit."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from backend.files import write_atomic
from backend.model.checkpoints import load_generator, save_generator
from backend.model.generator import Generator
from lab.fit.data import EVAL_SEED, eval_latents
from lab.fit.state import FitResult, FitState


@torch.no_grad()
def mean_w(G: Generator, n: int = 20_000, seed: int = 0, batch: int = 1000) -> torch.Tensor:
    """The mean of mapping(z) over n z ~ N(0, I), accumulated in float64: the truncation centre."""
    rng = np.random.default_rng(seed)
    total = torch.zeros(G.config.w_dim, dtype=torch.float64)
    for i in range(0, n, batch):
        z = torch.from_numpy(rng.standard_normal((min(batch, n - i), G.config.z_dim)).astype(np.float32))
        total += G.mapping(z)[:, 0].to(torch.float64).sum(0)
    return (total / n).to(torch.float32)


def export_generator(state: FitState, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None,
                     w_avg_samples: int = 20_000, face_prior: bool = True) -> Generator:
    """Write G_ema (fp16, our safetensors format) with w_avg set to the mean of mapping(z); returns it.
    ``face_prior`` records the fit's face prior (False for a fit whose targets are not renders)."""
    G = copy.deepcopy(state.G_ema).cpu().eval().requires_grad_(False)
    G.mapping.w_avg.copy_(mean_w(G, w_avg_samples))
    meta = {"w_avg_samples": str(w_avg_samples)}
    if face_prior:
        meta["face_prior"] = json.dumps(state.config.prior.to_dict(), sort_keys=True)
    meta.update(metadata or {})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_generator(G, path, half=True, metadata=meta)
    return G


def export_model(state: FitState, result: FitResult, model_dir: str | os.PathLike[str],
                 targets: Mapping[str, object] | None = None) -> tuple[Path, Path]:
    """``model_dir/generator.safetensors`` (G_ema, fp16) and ``model_dir/training.json`` (the facts
    of the fit); the generator is read back to check that it loads and to record its fingerprint.
    ``targets`` describes a fit whose targets were not the procedural renders (``method``, the
    source's facts): then no face prior is recorded."""
    model_dir = Path(model_dir)
    facts: dict[str, object] = {
        "method": "supervised fit of a StyleGAN2 generator to procedural renders, G(z) = render(decode(z)); not a GAN",
        "config": state.config.to_dict(),
    }
    if targets is None:
        facts["face_prior"] = state.config.prior.to_dict()
    else:
        facts.update(targets)
    facts.update({
        "steps": state.step,
        "images_seen": state.nimg,
        "training_minutes": round(state.seconds / 60, 2),
        "stopped_by": result.stopped_by,
        "final_train_loss": dataclasses.asdict(result.train_loss) if result.train_loss else None,
        "final_eval_loss": dataclasses.asdict(result.eval_loss),
        "eval_set": f"{len(eval_latents(state.config))} held-out z from default_rng([{EVAL_SEED}]), G_ema",
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(state.device),
        "precision": state.precision,
    })
    generator_path = model_dir / "generator.safetensors"
    export_generator(state, generator_path, metadata={"training": json.dumps(facts, sort_keys=True)},
                     face_prior=targets is None)
    _, info = load_generator(generator_path)
    facts["generator_fingerprint"] = info.fingerprint
    facts["generator_bytes"] = generator_path.stat().st_size
    json_path = model_dir / "training.json"
    write_atomic(json_path, json.dumps(facts, indent=2, sort_keys=True) + "\n")
    return generator_path, json_path
