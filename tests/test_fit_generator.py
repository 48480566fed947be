"""Fitting the default generator: the loss goes down, resuming is exact, export sets w_avg, files are safe."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.model.checkpoints import CheckpointError, load_generator
from lab.face_prior import FacePrior
from lab.fit import (
    CHECKPOINT_NAME,
    LOG_NAME,
    FitConfig,
    LossWeights,
    TargetSource,
    batch_latents,
    evaluate,
    export_model,
    fit,
    fit_loss,
    identity_pool,
    load_checkpoint,
    mean_w,
    new_fit,
    sample_sheet,
    save_checkpoint,
    set_optimizer,
    train_step,
    update_ema,
    warm_start,
)
from tests.conftest import tiny_config

pytestmark = pytest.mark.lab  # the lab tier: scripts/test.py runs it when lab/ changed

ROOT = Path(__file__).resolve().parent.parent


def tiny_fit_config(**overrides) -> FitConfig:
    """32x32 faces; z_dim 96 because the prior reads 80 coordinates."""
    generator = tiny_config(z_dim=96, w_dim=32, use_noise=False, mapping_lr_multiplier=0.1)
    return FitConfig(generator=generator, batch_size=8, **overrides)


def run(state, path: Path, steps: int):
    return fit(state, path, max_steps=steps, handle_signals=False, stream=None)


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch() -> None:
    state = new_fit(tiny_fit_config(lr=5e-3))
    with TargetSource(state.config) as source:
        z, target, _ = source.batch(0)
    losses = [train_step(state, z, target).total for _ in range(40)]
    assert losses[-1] < 0.6 * losses[0]
    assert state.step == 40 and state.nimg == 40 * 8


def test_resume_continues_bit_identically(tmp_path: Path) -> None:
    straight = new_fit(tiny_fit_config())
    run(straight, tmp_path / "straight", 6)

    first = new_fit(tiny_fit_config())
    run(first, tmp_path / "split", 3)
    resumed = load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)
    assert (resumed.step, resumed.nimg) == (3, 24)
    assert_same_tensors(resumed.G.state_dict(), first.G.state_dict())
    assert_same_tensors(resumed.G_ema.state_dict(), first.G_ema.state_dict())
    result = run(resumed, tmp_path / "split", 6)

    assert (result.step, result.nimg) == (6, 48)
    assert_same_tensors(resumed.G.state_dict(), straight.G.state_dict())
    assert_same_tensors(resumed.G_ema.state_dict(), straight.G_ema.state_dict())
    log = [json.loads(line) for line in (tmp_path / "split" / LOG_NAME).read_text().splitlines()]
    assert [e["step"] for e in log if e["event"] == "start"] == [0, 3]
    train = [e for e in log if e["event"] == "train"]
    assert train[-1]["step"] == 6 and train[-1]["nimg"] == 48 and train[-1]["img_per_s"] > 0


def test_ema_follows_the_half_life() -> None:
    state = new_fit(tiny_fit_config(ema_nimg=8, ema_rampup=None))
    before = {k: v.clone() for k, v in state.G_ema.named_parameters()}
    with torch.no_grad():
        for p in state.G.parameters():
            p.add_(1.0)
    update_ema(state, batch=8)  # one half-life: halfway between the old average and G
    for name, p in state.G_ema.named_parameters():
        assert torch.allclose(p, before[name] + 0.5, atol=1e-5), name


def test_export_writes_a_loadable_generator_whose_w_avg_is_the_mean_w(tmp_path: Path) -> None:
    state = new_fit(tiny_fit_config())
    result = run(state, tmp_path / "run", 2)
    generator_path, json_path = export_model(state, result, tmp_path / "model")
    G, info = load_generator(generator_path)
    assert info.format == "latent-emotion" and info.config == state.config.generator
    # mean_w draws the same 20k z as the export did; fp16 storage limits the agreement.
    expected = mean_w(G, 20_000)
    assert torch.allclose(G.w_avg, expected, atol=2e-3, rtol=2e-3)
    assert G.w_avg.abs().max() > 0.01  # really set, not left at zero
    facts = json.loads(json_path.read_text())
    assert facts["steps"] == 2 and facts["images_seen"] == 16
    assert facts["generator_fingerprint"] == info.fingerprint
    assert FacePrior.from_dict(facts["face_prior"]) == state.config.prior
    sheet = sample_sheet(G, state.config.prior, list(range(4)), columns=4)
    assert sheet.shape == (3 * 32, 90 + 4 * 32, 3)


def test_warm_start_continues_an_exported_model_with_its_counters(tmp_path: Path) -> None:
    state = new_fit(tiny_fit_config(lr=1e-3))
    result = run(state, tmp_path / "run", 3)
    generator_path, _ = export_model(state, result, tmp_path / "model")
    exported, _ = load_generator(generator_path)
    again = warm_start(generator_path)
    assert again.config == state.config and (again.step, again.nimg) == (3, 24)
    assert again.seconds == pytest.approx(state.seconds, abs=0.6)  # minutes are recorded to 0.01
    for G in (again.G, again.G_ema):
        assert_same_tensors({k: v.float() for k, v in exported.state_dict().items()}, G.state_dict())
    assert all(p.dtype == torch.float32 and p.requires_grad for p in again.G.parameters())
    run(again, tmp_path / "run2", 5)  # two more steps: new z (steps 3 and 4), the loss is finite
    assert again.step == 5 and not any(torch.equal(a, b) for a, b in
                                         zip(again.G.parameters(), exported.parameters(), strict=True) if a.numel() > 1)
    # A generator that no fit exported (no training metadata) cannot be continued.
    from backend.model.checkpoints import save_generator
    bare = save_generator(exported, tmp_path / "bare.safetensors")
    with pytest.raises(CheckpointError, match="not a model exported by a fit"):
        warm_start(bare)


def test_a_new_fit_may_start_its_synthesis_network_from_an_exported_model(tmp_path: Path) -> None:
    state = new_fit(tiny_fit_config())
    generator_path, _ = export_model(state, run(state, tmp_path / "run", 2), tmp_path / "model")
    exported, _ = load_generator(generator_path)
    config = tiny_fit_config(synthesis_init=os.fspath(generator_path))
    config = dataclasses.replace(config, generator=dataclasses.replace(config.generator, mapping_layers=1))
    shallow = new_fit(config)
    for G in (shallow.G, shallow.G_ema):
        assert_same_tensors({k: v.float() for k, v in exported.synthesis.state_dict().items()},
                            G.synthesis.state_dict())
        assert G.mapping.num_layers == 1 and (shallow.step, shallow.nimg) == (0, 0)
    assert_same_tensors(new_fit(config).G.state_dict(), shallow.G.state_dict())  # the config decides it all
    # Anything but the mapping depth must match the exported synthesis network.
    larger = dataclasses.replace(config, generator=dataclasses.replace(config.generator, img_resolution=64))
    with pytest.raises(CheckpointError, match="only the mapping depth"):
        new_fit(larger)


class _Hostile:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_training_checkpoint_refuses_a_hostile_file(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    payload = _Hostile()
    payload.marker = marker
    path = tmp_path / "checkpoint.pt"
    if writer == "torch":
        torch.save({"format": "latent-emotion.fit-checkpoint", "G": payload}, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match="refused or corrupt"):
        load_checkpoint(path)
    assert not marker.exists()


def test_training_checkpoint_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a Latent Emotion training checkpoint"):
        load_checkpoint(path)
    state = new_fit(tiny_fit_config())
    save_checkpoint(state, path)
    data = torch.load(path, weights_only=True)
    data["version"] = 99
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_a_spent_budget_stops_at_once_and_still_checkpoints(tmp_path: Path) -> None:
    result = fit(new_fit(tiny_fit_config()), tmp_path, minutes=0.0, handle_signals=False, stream=None)
    assert result.stopped_by == "minutes" and result.step == 0
    assert (tmp_path / CHECKPOINT_NAME).is_file()


def test_render_pool_gives_the_same_targets_as_in_process() -> None:
    with TargetSource(tiny_fit_config()) as inline, TargetSource(tiny_fit_config(render_workers=2)) as pool:
        for step in (0, 1, 5):
            z0, t0, r0 = inline.batch(step)
            z1, t1, r1 = pool.batch(step)
            assert torch.equal(z0, z1) and torch.equal(t0, t1) and r0 is None and r1 is None


@pytest.mark.slow
def test_training_script_trains_resumes_and_exports(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "train_default_model.py"
    out, model = tmp_path / "run", tmp_path / "model"
    base = [sys.executable, str(script), "--out", str(out), "--model-dir", str(model), "--batch", "2"]
    subprocess.run(base + ["--steps", "1"], check=True, capture_output=True, timeout=300)
    again = subprocess.run(base + ["--steps", "2"], capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "--resume" in again.stderr
    subprocess.run(base + ["--steps", "2", "--resume"], check=True, capture_output=True, timeout=300)
    facts = json.loads((model / "training.json").read_text())
    assert facts["steps"] == 2 and facts["images_seen"] == 4
    assert (model / "generator.safetensors").stat().st_size < 25 * 2**20
    assert (out / "samples.png").is_file()
    # Each checkpoint logs how much of each channel G_ema draws (features probe).
    checkpoints = [json.loads(line) for line in (out / LOG_NAME).read_text().splitlines()]
    checkpoints = [e for e in checkpoints if e["event"] == "checkpoint"]
    assert checkpoints and all(len(e["fidelity"]["r_generated"]) == 9 for e in checkpoints)
    np.testing.assert_equal(load_generator(model / "generator.safetensors")[1].config.img_resolution, 128)
    # The run folder lost: --init continues the exported model.
    later = [sys.executable, str(script), "--out", str(tmp_path / "run2"), "--model-dir", str(model)]
    r = subprocess.run(later + ["--steps", "3", "--init", str(model / "generator.safetensors"), "--batch", "3",
                                "--device", "cpu", "--precision", "bf16", "--identities", "2", "--lr", "1e-3",
                                "--beta1", "0.9"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "continuing" in r.stdout and "step 2, 4 images" in r.stdout and "on cpu (bf16), batch 3" in r.stdout
    facts = json.loads((model / "training.json").read_text())
    assert facts["steps"] == 3 and facts["images_seen"] == 7
    assert facts["precision"] == "bf16" and facts["config"]["batch_size"] == 3
    assert (facts["config"]["identities"], facts["config"]["lr"], facts["config"]["betas"]) == (2, 1e-3, [0.9, 0.99])
    logged = [json.loads(line) for line in (tmp_path / "run2" / LOG_NAME).read_text().splitlines()]
    logged = [e for e in logged if e["event"] == "checkpoint"]
    assert logged and all(len(e[k]["cosine"]) == 9 for e in logged for k in ("response", "response_fixed_people"))
    # A budget relative to where the model stands: --more-minutes 0 trains no step.
    r = subprocess.run(later[:3] + [str(tmp_path / "run3"), *later[4:], "--more-minutes", "0",
                                    "--init", str(model / "generator.safetensors")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads((model / "training.json").read_text())["steps"] == 3
    # Resuming may not change the batch; a GPU that is not there is a clear error.
    for extra in (["--resume", "--batch", "4"], ["--device", "cuda"], ["--resume", "--resolution", "32"],
                  ["--resume", "--mapping-layers", "2"]):
        if extra[0] == "--device" and torch.cuda.is_available():
            continue
        r = subprocess.run(base + ["--steps", "9", *extra], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and ("--batch" in r.stderr or "CUDA" in r.stderr or "new runs" in r.stderr), r.stderr
    # A new run may be a small trial generator; without --model-dir it exports into its run folder.
    small = tmp_path / "run4" / "model"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "run4"),
                    "--batch", "2", "--steps", "1", "--resolution", "32", "--channel-base", "512",
                    "--mapping-layers", "2"], check=True, capture_output=True, timeout=300, cwd=tmp_path)
    trial = json.loads((small / "training.json").read_text())["config"]["generator"]
    assert (trial["img_resolution"], trial["channel_base"], trial["mapping_layers"]) == (32, 512, 2)
    # A new run may keep a model's synthesis network and take a fresh, shallower mapping.
    r = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "run5"), "--batch", "2", "--steps", "1",
                        "--synthesis-from", str(small / "generator.safetensors"), "--mapping-layers", "1"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    shallow = json.loads((tmp_path / "run5" / "model" / "training.json").read_text())["config"]
    assert (shallow["generator"]["img_resolution"], shallow["generator"]["mapping_layers"]) == (32, 1)
    assert shallow["synthesis_init"] == str(small / "generator.safetensors")
    r = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "run6"), "--steps", "1",
                        "--synthesis-from", str(small / "generator.safetensors"), "--resolution", "64"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2 and "size and channels" in r.stderr, r.stderr


def test_probe_loss_term_pulls_the_probe_features_of_g_toward_the_target(tmp_path: Path) -> None:
    from backend.readers.probe import FaceProbe, ProbeConfig, save_probe

    probe_path = save_probe(FaceProbe(ProbeConfig(input_size=32, width=4, depth=2, embed_dim=8, seed=3)).eval(),
                            tmp_path / "probe.safetensors")
    with pytest.raises(ValueError, match="needs a features probe"):
        tiny_fit_config(loss=LossWeights(probe=1.0))
    config = tiny_fit_config(lr=5e-3, probe=str(probe_path), loss=LossWeights(full=0, half=0, quarter=0, gradient=0,
                                                                              probe=1.0))
    state = new_fit(config)
    with TargetSource(config) as source:
        z, target, _ = source.batch(0)
    before = evaluate(state.G, z, target, config.loss, probe=state.probe)
    assert before.probe > 0 and before.total == pytest.approx(before.probe)
    for _ in range(30):
        train_step(state, z, target)
    assert evaluate(state.G, z, target, config.loss, probe=state.probe).probe < 0.8 * before.probe
    assert FitConfig.from_dict(config.to_dict()) == config


def test_region_term_weighs_the_brows_eyes_and_mouth(tmp_path: Path) -> None:
    from lab.procedural.regions import feature_regions

    config = tiny_fit_config(lr=5e-3, loss=LossWeights(full=0, half=0, quarter=0, gradient=0, region=1.0))
    params = config.prior.decode(np.random.default_rng(1).standard_normal((1, 96)).astype(np.float32))[0]
    mask = feature_regions(params, 64)
    # The eyes and mouth of a frontal face lie inside the mask, the corners of the image outside it.
    assert mask.shape == (64, 64) and 0.02 < mask.mean() < 0.2
    assert mask[:4, :4].max() == 0 and mask[-4:, -4:].max() == 0
    with TargetSource(config) as inline, TargetSource(dataclasses.replace(config, render_workers=2)) as pool:
        z, target, regions = inline.batch(0)
        assert regions is not None and regions.shape == (8, 32, 32)
        assert torch.equal(regions, pool.batch(0).regions)
    state = new_fit(config)
    before = evaluate(state.G, z, target, config.loss, regions=regions)
    assert before.region > 0 and before.total == pytest.approx(before.region)
    # A difference outside the mask costs nothing; the same difference inside it costs its size.
    outside = target + 0.5 * (regions == 0).unsqueeze(1)
    inside = target + 0.5 * (regions > 0.99).unsqueeze(1)
    assert fit_loss(outside, target, config.loss, regions=regions)[1].region == pytest.approx(0.0, abs=1e-6)
    assert fit_loss(inside, target, config.loss, regions=regions)[1].region > 0.1
    for _ in range(30):
        train_step(state, z, target, regions)
    assert evaluate(state.G, z, target, config.loss, regions=regions).region < 0.8 * before.region
    assert FitConfig.from_dict(config.to_dict()) == config


def test_bf16_autocast_steps_train_and_evaluate_in_fp32() -> None:
    """The GPU recipe's precision, run on the CPU: the loss still falls, the weights stay fp32."""
    state = new_fit(tiny_fit_config(lr=5e-3))
    state.precision = "bf16"
    state.to("cpu")
    with TargetSource(state.config) as source:
        z, target, _ = source.batch(0)
    before = evaluate(state.G, z, target, state.config.loss)
    for _ in range(30):
        parts = train_step(state, z, target)
    assert np.isfinite(parts.total)
    assert evaluate(state.G, z, target, state.config.loss).total < 0.8 * before.total
    assert all(p.dtype == torch.float32 for p in state.G.parameters())
    with pytest.raises(ValueError, match="precision"):
        dataclasses.replace(state, precision="fp8")


@pytest.mark.slow
def test_prepared_gpu_script_continues_the_export_and_brings_back_the_weights(tmp_path: Path) -> None:
    """The device run's script, tried on the CPU with no training time: it continues the shipped
    model with its recipe and leaves a loadable generator, its facts, the samples and the log under OUT."""
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "RUN": str(tmp_path / "run"), "DEVICE": "cpu", "MORE": "0",
           "BATCH": "4", "WORKERS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(["sh", str(ROOT / "scripts" / "gpu_default_model.sh")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    facts = json.loads((out / "model" / "training.json").read_text())
    started = json.loads((ROOT / "models" / "default" / "training.json").read_text())
    assert facts["steps"] == started["steps"] and facts["config"]["batch_size"] == 4
    assert facts["config"]["generator"]["mapping_layers"] == 2 and facts["config"]["identities"] == 0
    # the export's recipe (region and change terms); terms newer than the export's facts are off
    loss, recipe = facts["config"]["loss"], started["config"]["loss"]
    assert {k: loss[k] for k in recipe} == recipe and all(loss[k] == 0 for k in loss.keys() - recipe.keys())
    assert load_generator(out / "model" / "generator.safetensors")[1].resolution == 128
    assert len(json.loads((out / "fidelity.json").read_text())) == 2  # the export and the new weights
    assert {p.name for p in out.iterdir()} == {"model", "samples.png", "log.jsonl", "gpu_default_model.log",
                                                 "fidelity.json"}
    # A failing run fails the script (and still leaves its log).
    r = subprocess.run(["sh", str(ROOT / "scripts" / "gpu_default_model.sh")], cwd=ROOT,
                       env={**env, "INIT": str(tmp_path / "missing.safetensors"), "OUT": str(tmp_path / "out2")},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and (tmp_path / "out2" / "gpu_default_model.log").is_file()


def test_an_identities_phase_draws_each_face_from_a_few_fixed_people() -> None:
    config = tiny_fit_config(identities=3)
    prior, pool = config.prior, identity_pool(config)
    z = np.concatenate([batch_latents(config, step) for step in range(4)])
    assert z.dtype == np.float32 and z.shape == (32, 96)
    people = {round(p.skin_color[0], 4) for p in prior.identities(z)}
    assert people == {round(p.skin_color[0], 4) for p in prior.identities(pool)}
    # the expressions still vary as in a normal fit, and a normal fit's batch is another one
    assert len({tuple(c) for c in prior.channels(z).round(3)}) > 16
    assert not np.array_equal(z[:8], batch_latents(tiny_fit_config(), 0))
    assert FitConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="identities"):
        tiny_fit_config(identities=-1)
    # identity_share pins the first part of each batch only; the rest are anyone
    mixed = batch_latents(tiny_fit_config(identities=1, identity_share=0.5), 7)
    skins = [p.skin_color for p in prior.identities(mixed)]
    np.testing.assert_allclose(skins[:4], [prior.identities(pool[:1])[0].skin_color] * 4, atol=1e-5)
    assert len({round(s[0], 4) for s in skins[4:]}) == 4
    assert np.array_equal(mixed[4:], batch_latents(tiny_fit_config(), 7)[4:])
    with pytest.raises(ValueError, match="identity_share"):
        tiny_fit_config(identity_share=0.0)


def test_an_identity_period_draws_new_fixed_people_every_period_steps() -> None:
    # z_dim 160: with 96, some z with a donor's identity set hold more than the prior's 80 coordinates can
    config = FitConfig(generator=tiny_config(z_dim=160, w_dim=32, use_noise=False), batch_size=8,
                       identities=1, identity_period=5)
    prior = config.prior
    skin = [prior.identities(batch_latents(config, step)[:1])[0].skin_color for step in (0, 4, 5, 9, 10)]
    np.testing.assert_allclose(skin[0], skin[1], atol=1e-5)  # one period, one person
    np.testing.assert_allclose(skin[2], skin[3], atol=1e-5)
    assert not np.allclose(skin[0], skin[2]) and not np.allclose(skin[2], skin[4])
    np.testing.assert_allclose(identity_pool(config, 7), identity_pool(config, 5))
    # without a period the people stay for the whole run, as runs made before it drew them
    steady = tiny_fit_config(identities=1)
    np.testing.assert_allclose(identity_pool(steady, 10_000), identity_pool(steady))
    assert FitConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="identity_period"):
        tiny_fit_config(identity_period=-1)


def test_set_optimizer_changes_the_running_adam_and_the_config() -> None:
    state = new_fit(tiny_fit_config())
    set_optimizer(state, lr=1e-4, beta1=0.9)
    assert state.config.lr == 1e-4 and state.config.betas == (0.9, 0.99)
    assert all(g["lr"] == 1e-4 and g["betas"] == (0.9, 0.99) for g in state.optimizer.param_groups)
    set_optimizer(state, beta1=0.5)
    assert state.config.lr == 1e-4 and state.optimizer.param_groups[0]["betas"] == (0.5, 0.99)


def test_delta_term_trains_on_pairs_of_one_person_with_two_expressions() -> None:
    config = tiny_fit_config(loss=LossWeights(delta=1.0))
    prior, z = config.prior, batch_latents(config, 3)
    first, second = prior.identities(z[:4]), prior.identities(z[4:])
    assert [(a.hair_style, a.beard) for a in first] == [(b.hair_style, b.beard) for b in second]
    np.testing.assert_allclose([a.skin_color for a in first], [b.skin_color for b in second], atol=1e-5)
    assert not np.allclose(prior.channels(z[:4]), prior.channels(z[4:]))
    assert np.array_equal(z[:4], batch_latents(tiny_fit_config(), 3)[:4])  # the first half as without pairs
    with pytest.raises(ValueError, match="even"):
        dataclasses.replace(config, batch_size=5)
    # What the pair shares cancels; only a wrong change counts, and only where the render changed.
    from lab.fit.loss import delta_loss
    real = torch.zeros(4, 3, 16, 16)
    real[0, :, 4:6, 4:6] = 1.0  # the first pair's render changes in a 2x2 patch
    shared = real + torch.randn(1, 3, 16, 16).repeat(4, 1, 1, 1)
    assert float(delta_loss(shared, real)) < 1e-6
    missed = real.clone()
    missed[0] = 0.0  # G draws no change
    assert float(delta_loss(missed, real)) > 0.05
    elsewhere = real.clone()
    elsewhere[1, :, 12:, 12:] += 1.0  # a change far from any the render made
    assert float(delta_loss(elsewhere, real)) < 1e-6
    # ... which the still term counts instead: G's change where the render made none
    from lab.fit.loss import still_loss
    assert float(still_loss(shared, real)) < 1e-6 and float(still_loss(missed, real)) < 1e-6
    assert float(still_loss(elsewhere, real)) == pytest.approx(16 / (2 * 256 - 36))  # per unchanged pixel
    assert float(still_loss(real, real)) == 0.0
    state = new_fit(tiny_fit_config(loss=LossWeights(delta=1.0)))
    with TargetSource(state.config) as source:
        parts = train_step(state, *source.batch(0))
    assert parts.delta > 0 and parts.total > parts.full and parts.still == 0.0
    # the still term alone also trains on pairs
    still = tiny_fit_config(loss=LossWeights(still=1.0))
    assert still.loss.paired and np.array_equal(batch_latents(still, 3), z)
    state = new_fit(still)
    with TargetSource(still) as source:
        parts = train_step(state, *source.batch(0))
    assert parts.still > 0 and parts.delta == 0.0
    with pytest.raises(ValueError, match="even"):
        dataclasses.replace(still, batch_size=5)


def test_a_mix_share_stacks_channels_in_part_of_each_half_and_leaves_the_rest() -> None:
    generator = tiny_config(z_dim=160, w_dim=32, use_noise=False)
    plain = FitConfig(generator=generator, batch_size=8, loss=LossWeights(delta=1.0))
    mixed = dataclasses.replace(plain, mix_share=0.5)
    prior = plain.prior
    a, b = batch_latents(plain, 11), batch_latents(mixed, 11)
    # two of each half of four stack two or three channels at 0.5 or more; the rest are unchanged
    for rows in (slice(0, 2), slice(4, 6)):
        on = np.abs(prior.channels(b[rows]))
        assert (((on >= 0.5 - 1e-5).sum(axis=1) >= 2) & ((on > 0).sum(axis=1) <= 3)).all()
        before, after = prior.identities(a[rows]), prior.identities(b[rows])
        assert [(x.hair_style, x.beard) for x in after] == [(y.hair_style, y.beard) for y in before]
        np.testing.assert_allclose([x.skin_color for x in after], [y.skin_color for y in before], atol=1e-5)
    np.testing.assert_array_equal(a[2:4], b[2:4])
    np.testing.assert_array_equal(a[6:], b[6:])
    assert FitConfig.from_dict(mixed.to_dict()) == mixed
    assert FitConfig.from_dict({k: v for k, v in plain.to_dict().items() if k != "mix_share"}) == plain
    with pytest.raises(ValueError, match="mix_share"):
        dataclasses.replace(plain, mix_share=1.5)
