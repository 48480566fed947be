"""The shipped default model: its directions, its probes, inversion of its own images, the main job.

These tests read ``models/default/`` (written by scripts/train_default_model.py,
scripts/train_probe.py and scripts/make_default_directions.py); a missing file fails with the
command that makes it rather than skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.directions import DirectionSet, load_directions
from backend.animation.latent import compose_latent
from backend.animation.script import load_script
from backend.animation.timeline import timeline_from_clip
from backend.learning.labels import probe_reader
from backend.model.checkpoints import load_generator
from backend.model.generator import Generator, synthesize_frames
from backend.photos.inversion import invert_batch, w_statistics
from backend.readers.probe import load_probe, probe_predict
from backend.rendering.video import read_frames, video_info
from lab.default_directions import model_prior, neutral_z, render_drift
from lab.procedural import Emotions, face_params_from_emotions, render_face, sample_identity

from .conftest import ROOT, backend_cli

pytestmark = pytest.mark.usefixtures("one_thread")

MODEL_DIR = ROOT / "models" / "default"
GENERATOR = MODEL_DIR / "generator.safetensors"
DIRECTIONS = MODEL_DIR / "directions.json"
PROBES = {role: MODEL_DIR / f"probe_{role}.safetensors" for role in ("features", "eval")}
MAKES = {GENERATOR: "python scripts/train_default_model.py, the four runs the model card lists (lab/runs/mixed-continue-2)",
         DIRECTIONS: "python scripts/make_default_directions.py",
         **{path: f"python scripts/train_probe.py --role {role} --out {path.relative_to(ROOT)} --half"
            for role, path in PROBES.items()}}


def _need(path):
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: the default model ships it (made by `{MAKES[path]}`)",
                    pytrace=False)
    return path


@pytest.fixture(scope="module")
def shipped(one_thread) -> tuple[Generator, str]:
    G, info = load_generator(_need(GENERATOR))
    return G.eval().requires_grad_(False), info.fingerprint


@pytest.fixture(scope="module")
def directions(shipped) -> DirectionSet:
    G, fingerprint = shipped
    # Raises DirectionsError if the file was made for another generator (fingerprint) or shape.
    return load_directions(_need(DIRECTIONS), expect_fingerprint=fingerprint, num_ws=G.num_ws, w_dim=G.w_dim)


def test_shipped_directions_are_the_nine_channels_for_the_shipped_generator(directions):
    assert directions.names == CHANNEL_NAMES


def test_shipped_directions_are_unit_vectors_with_sane_rows_and_strengths(shipped, directions):
    G, _ = shipped
    _, _, w_std = w_statistics(G)
    for d in directions:
        assert np.linalg.norm(d.vector) == pytest.approx(1.0, abs=1e-5), d.name
        start, stop = d.layers
        assert start == 0 and 2 <= stop <= G.num_ws, (d.name, d.layers)  # coarse rows always: pose and shape
        # Value 1 moves a face by a fraction of W's spread, neither nothing nor far off the distribution.
        assert 0.05 * w_std < d.strength < 2.0 * w_std, (d.name, d.strength, w_std)
        assert d.method == "logistic" and d.calibration.startswith("features-probe")
        assert d.accuracy is not None and d.accuracy >= 0.7, (d.name, d.accuracy)


def test_channel_directions_differ_from_each_other(directions):
    vectors = np.stack([d.vector for d in directions])
    cos = vectors @ vectors.T
    np.fill_diagonal(cos, 0.0)
    assert np.abs(cos).max() < 0.95, np.round(cos, 2)


# Small-scale inversion of the shipped model's own faces: w = mapping(z) of seeds 0 and 1 at
# ψ = 0.7, G(w) inverted in W from w_avg (100 steps, pixel loss). Measured on a 90-minute
# snapshot of the model, seeds 0-7: pixel MAE 1.1-2.2 (0..255; from w_avg 10-28). W is not
# identifiable from the image as a whole (many codes draw the same face: |w − w_true| stays at
# 0.7-1.2 × |w_true − w_avg|), so the code error is measured where faces differ, in W's main
# principal directions (80 % of its variance, 7 of 256 there): 0.18-0.58 of the start's error.
# And what the rig needs: the inverted code edits like the true one — G at value 1.0 of joy,
# surprise and head turn differs between the two by MAE 2.0-4.1.
SEEDS = (0, 1)
STEPS = 100
MAX_PIXEL_MAE = 4.0
MAX_RELATIVE_W_ERROR = 0.75
MAX_EDIT_MAE = 6.0


def test_inversion_recovers_known_latents_of_the_shipped_model(shipped, directions):
    G, _ = shipped
    ws = torch.cat([G.w_from_seed(s, truncation_psi=0.7) for s in SEEDS])
    with torch.no_grad():
        images = G.synthesis(ws)
        W = G.mapping(torch.randn(2000, G.config.z_dim, generator=torch.Generator().manual_seed(0)))[:, 0].numpy()
    result = invert_batch(G, images, space="w", steps=STEPS)
    assert result.pixel_mae.max() < MAX_PIXEL_MAE, result.pixel_mae
    start = invert_batch(G, images, space="w", steps=0)
    assert (start.pixel_mae > 2 * MAX_PIXEL_MAE).all(), start.pixel_mae  # the average face is far off

    _, s, vt = np.linalg.svd(W - W.mean(axis=0), full_matrices=False)
    main = vt[:int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), 0.8)) + 1]
    true, found, avg = ws[:, 0].numpy(), result.w_plus[:, 0], G.w_avg.numpy()
    relative = np.linalg.norm((found - true) @ main.T, axis=1) / np.linalg.norm((true - avg) @ main.T, axis=1)
    assert relative.max() < MAX_RELATIVE_W_ERROR, relative

    for name in ("joy", "surprise", "head_turn"):
        edited = [synthesize_frames(G, compose_latent(np.repeat(w[:, None], G.num_ws, axis=1), {name: 1.0}, directions))
                  for w in (found, true)]
        mae = np.abs(edited[0].astype(np.float64) - edited[1]).mean(axis=(1, 2, 3))
        assert mae.max() < MAX_EDIT_MAE, (name, mae)


@pytest.mark.parametrize("role", sorted(PROBES))
def test_shipped_probes_read_the_channels_of_renders(role):
    path = _need(PROBES[role])
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["role"] == role  # the eval probe is not the features net
    probe = load_probe(path)
    rng = np.random.default_rng([7, 7])  # identities neither probe was trained on in this order
    identities = [sample_identity(rng) for _ in range(6)]
    for c, name in enumerate(CHANNEL_NAMES):
        v = np.zeros(len(CHANNEL_NAMES), np.float32)
        images = {}
        for value in (0.0, 1.0):
            v[c] = value
            images[value] = np.stack([render_face(face_params_from_emotions(p, Emotions.from_array(v)), 128)
                                      for p in identities])
        off, on = (probe_predict(probe, images[x]).emotions[:, c] for x in (0.0, 1.0))
        assert on.mean() - off.mean() > 0.5, (role, name, off.round(2), on.round(2))


def test_the_renders_own_identity_drift_is_the_floor_the_eval_reports():
    """eval_default_model.py's scale: the renderer's own faces, each channel at 1.0, read as that
    channel by the eval probe while keeping most of their identity (measured: drift 0.16 of the
    distance between faces); a probe whose identity followed expression would fail here."""
    prior = model_prior(GENERATOR, 256)
    read = probe_reader(load_probe(_need(PROBES["eval"])))
    floor = render_drift(prior, neutral_z(prior, 8, seed=99), read, 128)
    assert floor["faces"] == 8 and set(floor["drift"]) == set(CHANNEL_NAMES)
    assert all(v > 0.5 for v in floor["reading_at_1"].values()), floor["reading_at_1"]
    assert 0.0 < floor["drift_mean"] < 0.3 * floor["identity_distance_between_faces"], floor


def test_main_job_renders_fig7_with_the_default_model_and_no_arguments_but_the_script(tmp_path):
    """The README's main job: the default model and directions, no network, an mp4 of Fig. 7's first clip."""
    _need(GENERATOR), _need(DIRECTIONS)
    out = tmp_path / "fig7.mp4"
    r = backend_cli("render", "--script", "examples/fig7.txt", "--device", "cpu", "--cache", tmp_path / "cache",
                    "--out", out)
    assert r.returncode == 0, r.stderr
    clip = load_script(ROOT / "examples" / "fig7.txt").clips[0]
    n = len(timeline_from_clip(clip))
    info = video_info(out)
    assert (info.n_frames, info.width, info.height) == (n, 128, 128)
    frames = list(read_frames(out))
    # The face moves through the script: keyframes differ from each other, in-betweens are smooth.
    key = [k.frame - clip.keyframes[0].frame for k in clip.keyframes]
    diffs = [np.abs(frames[a].astype(int) - frames[b].astype(int)).mean() for a, b in zip(key, key[1:], strict=False)]
    steps = [np.abs(frames[i + 1].astype(int) - frames[i].astype(int)).mean() for i in range(n - 1)]
    assert min(diffs) > 1.0 and max(steps) < min(diffs), (diffs, max(steps))


@pytest.mark.slow
@pytest.mark.lab
def test_direction_and_eval_scripts_run_small_on_a_chosen_device(tmp_path):
    """make_default_directions.py and eval_default_model.py at toy sizes with --device cpu write
    their files; a GPU that is not there is a clear error (exit 2), not a traceback."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    made = subprocess.run([sys.executable, "scripts/make_default_directions.py", "--labeled", "14", "--steps", "2",
                           "--self-labeled", "20", "--faces", "1", "--choose-faces", "2", "--rows", "0:8",
                           "--model-dir", str(tmp_path),
                           "--device", "cpu"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    directions = load_directions(tmp_path / "directions.json")
    assert directions.generator_fingerprint == load_generator(GENERATOR)[1].fingerprint
    recipes = {src: load_directions(tmp_path / f) for src, f in
               (("inversion", "directions_paper.json"), ("self-labeled", "directions_self_labeled.json"))}
    choice = json.loads((tmp_path / "directions_report.json").read_text())["choice"]["channels"]
    assert [c["name"] for c in choice] == [d.name for d in directions]
    for c in choice:  # each shipped direction is its chosen recipe's, bit for bit
        np.testing.assert_array_equal(directions[c["name"]].vector, recipes[c["source"]][c["name"]].vector)
    out = tmp_path / "eval.json"
    ev = subprocess.run([sys.executable, "scripts/eval_default_model.py", "--faces", "2", "--frames", "2", "--extra-frames", "2", "--device", "cpu", "--json", str(out)],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stdout + ev.stderr
    assert out.is_file() and "emotions_spearman_mean" in out.read_text()
    assert "the renders themselves" in ev.stdout and '"renders"' in out.read_text()
    if not torch.cuda.is_available():
        for script in ("make_default_directions.py", "eval_default_model.py"):
            r = subprocess.run([sys.executable, f"scripts/{script}", "--device", "cuda"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 2 and "CUDA" in r.stderr, r.stderr


@pytest.mark.lab
def test_fidelity_measures_how_much_of_each_channel_a_fit_draws():
    """lab.fit.fidelity with the shipped features probe: the renders themselves score their own
    ceiling (r of 0.8+ on every channel, identity cosine 1); the shipped generator (2-layer
    mapping) draws head turn and surprise almost as the renders do and the other channels partly
    (model card: r 0.99 and 0.90; the rest 0.00-0.63)."""
    from lab.fit import FitConfig, eval_latents, render_batch
    from lab.fit.fidelity import expression_fidelity, fidelity_of_images

    G, _ = load_generator(_need(GENERATOR))
    G = G.float().eval().requires_grad_(False)
    probe = load_probe(_need(PROBES["features"]))
    prior = model_prior(GENERATOR, G.config.z_dim)
    z = eval_latents(FitConfig(generator=G.config), 96)
    perfect = fidelity_of_images(render_batch(prior, z, 128), prior, probe, z)
    assert perfect.r_generated == perfect.r_rendered and perfect.identity_cosine == pytest.approx(1.0, abs=1e-5)
    assert min(perfect.r_rendered) > 0.8 and all(k > 0 for k in perfect.shown)
    shipped = expression_fidelity(G, prior, probe, z)
    assert shipped.r_rendered == perfect.r_rendered
    drawn = [CHANNEL_NAMES.index(n) for n in ("head_turn", "surprise")]
    r = np.array(shipped.r_generated)
    assert r[drawn].min() > 0.85 and np.delete(r, drawn).max() < 0.8, r
    assert 0.7 < shipped.identity_cosine < 0.95, shipped.identity_cosine
    assert "head_turn" in shipped.table()
    # The response needs no probe: the renderer drawing itself answers every channel fully; a
    # drawer that ignores the channels, not at all; the shipped generator follows every channel
    # part of the way on faces it was not shown (measured: cosine 0.14-0.56 on these 8 faces).
    from lab.face_prior import CHANNEL_COORDINATES
    from lab.fit.fidelity import channel_response, response_of

    itself = response_of(lambda zs: render_batch(prior, zs.astype(np.float32), 64), prior, z[:6])
    np.testing.assert_allclose(itself.cosine + itself.gain, 1.0, atol=1e-9)
    blind = response_of(lambda zs: render_batch(prior, prior.with_coordinates(zs, list(CHANNEL_COORDINATES), 0.0)
                                                .astype(np.float32), 64), prior, z[:6])
    assert blind.gain == (0.0,) * 9 and "head_turn 0.00/0.00" in blind.line()
    response = channel_response(G, prior, z[:8])
    turn = CHANNEL_NAMES.index("head_turn")
    assert min(response.cosine) > 0.08 and response.cosine[turn] > 0.4 and min(response.gain) > 0.1, response.line()
    r = subprocess.run([sys.executable, "scripts/fit_fidelity.py", str(GENERATOR), "--probe", str(PROBES["eval"])],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "eval probe" in r.stderr


def test_image_quality_measures_error_and_sharpness_against_the_renders():
    """lab.fit.fidelity.image_quality on the shipped generator: its held-out L1 (model card: 0.139),
    about the same on stacked expressions (0.137), and samples far blurrier than the renders
    (Laplacian variance ratio 0.16 on the 64 held-out z)."""
    from lab.fit import FitConfig, eval_latents
    from lab.fit.fidelity import image_quality

    G, _ = load_generator(_need(GENERATOR))
    G = G.float().eval().requires_grad_(False)
    prior = model_prior(GENERATOR, G.config.z_dim)
    quality = image_quality(G, prior, eval_latents(FitConfig(generator=G.config), 16))
    assert 0.12 < quality.l1 < 0.19 and 0.12 < quality.l1_stacked < 0.2, quality.line()
    assert quality.sharpness_rendered > 500 and 0.05 < quality.sharpness_ratio < 0.3, quality.line()
    assert "Laplacian variance" in quality.line()
