"""The stand-in teacher (our DCGAN module for gan-face-generate's weights) and its distillation with lab.fit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from backend.model.checkpoints import generator_metadata, load_generator
from lab.fit import (
    FitConfig,
    LossWeights,
    eval_latents,
    export_model,
    fit,
    fit_loss,
    generate,
    load_checkpoint,
    new_fit,
    sample_sheet,
    save_checkpoint,
    train_step,
    warm_start,
)
from lab.fit.adversarial import generator_adversarial_loss
from lab.fit.config import FACE_NET_NAMES
from lab.fit.face_features import FACE_NETS, load_face_features
from lab.fit.fidelity import laplacian_variance
from lab.fit.loss import stage_l1
from lab.standin import (
    TeacherDCGAN,
    TeacherFormatError,
    TeacherTargets,
    load_teacher,
    normalized,
    standin_quality,
    teacher_images,
    upscaled,
)
from tests.conftest import tiny_config

Z = 96  # lab.fit's configs need z_dim >= the face prior's 80 coordinates


def teacher_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random DCGAN generator state dict laid out as gan-face-generate's (main.<i>.*): 16 px."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    shapes = [(Z, 16), (16, 8), (8, 3)]
    for k, (c_in, c_out) in enumerate(shapes):
        sd[f"main.{3 * k}.weight"] = torch.randn(c_in, c_out, 4, 4, generator=g) * 0.2
        if k < len(shapes) - 1:
            sd[f"main.{3 * k + 1}.weight"] = 1 + 0.1 * torch.randn(c_out, generator=g)
            sd[f"main.{3 * k + 1}.bias"] = 0.1 * torch.randn(c_out, generator=g)
            sd[f"main.{3 * k + 1}.running_mean"] = 0.1 * torch.randn(c_out, generator=g)
            sd[f"main.{3 * k + 1}.running_var"] = 1 + torch.rand(c_out, generator=g)
            sd[f"main.{3 * k + 1}.num_batches_tracked"] = torch.tensor(100)
    return sd


def reference(sd: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """The DCGAN generator written out with functional ops: the layout the module must match."""
    x = z[:, :, None, None]
    for k, i in enumerate((0, 3)):
        x = F.conv_transpose2d(x, sd[f"main.{i}.weight"], stride=1 if k == 0 else 2, padding=0 if k == 0 else 1)
        n = f"main.{i + 1}"
        x = F.relu(F.batch_norm(x, sd[f"{n}.running_mean"], sd[f"{n}.running_var"], sd[f"{n}.weight"],
                                sd[f"{n}.bias"], training=False, eps=1e-5))
    return torch.tanh(F.conv_transpose2d(x, sd["main.6.weight"], stride=2, padding=1))


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("teacher") / "weights.tar"
    torch.save({"netG_state_dict": teacher_state_dict()}, path)
    return path


def student_config() -> FitConfig:
    return FitConfig(generator=tiny_config(z_dim=Z, w_dim=32, img_resolution=16, use_noise=False), batch_size=4,
                     loss=LossWeights())


def test_teacher_module_reproduces_the_dcgan_from_its_state_dict(teacher_file: Path) -> None:
    teacher = load_teacher(teacher_file)
    assert load_teacher(teacher_file.read_bytes()).state_dict().keys() == teacher.state_dict().keys()
    assert teacher.z_dim == Z and teacher.resolution == 16 and not teacher.training
    z = torch.randn(3, Z)
    out = teacher(z)
    assert out.shape == (3, 3, 16, 16) and out.abs().max() <= 1.0
    torch.testing.assert_close(out, reference(teacher_state_dict(), z), atol=1e-5, rtol=1e-5)
    # the images of z depend only on its direction (our mapping network normalises z alike)
    zn = np.random.default_rng(0).standard_normal((2, Z))
    np.testing.assert_array_equal(teacher_images(teacher, zn), teacher_images(teacher, 3 * zn))
    np.testing.assert_allclose(np.linalg.norm(normalized(zn), axis=1), np.sqrt(Z))
    assert teacher_images(teacher, zn).dtype == np.uint8
    assert upscaled(teacher_images(teacher, zn), 64).shape == (2, 64, 64, 3)


def test_teacher_files_that_are_not_the_dcgan_are_refused(tmp_path: Path) -> None:
    bad = teacher_state_dict()
    bad["main.9.extra"] = torch.zeros(1)
    torch.save({"netG_state_dict": bad}, tmp_path / "extra.tar")
    with pytest.raises(TeacherFormatError, match="unexpected entry"):
        load_teacher(tmp_path / "extra.tar")
    torch.save({"other": 1}, tmp_path / "other.tar")
    with pytest.raises(TeacherFormatError, match="netG_state_dict"):
        load_teacher(tmp_path / "other.tar")
    missing = teacher_state_dict()
    del missing["main.4.running_var"]
    torch.save({"netG_state_dict": missing}, tmp_path / "missing.tar")
    with pytest.raises(TeacherFormatError, match="running_var"):
        load_teacher(tmp_path / "missing.tar")
    torch.save({"netG_state_dict": TeacherDCGAN}, tmp_path / "code.tar")  # a class: weights_only refuses it
    with pytest.raises(TeacherFormatError, match="cannot read"):
        load_teacher(tmp_path / "code.tar")
    with pytest.raises(TeacherFormatError, match="cannot read"):
        load_teacher(b"not a torch file")


def test_distillation_fits_the_teacher_resumes_exactly_and_exports_without_a_face_prior(
        teacher_file: Path, tmp_path: Path) -> None:
    teacher = load_teacher(teacher_file)
    config = student_config()
    with pytest.raises(ValueError, match="does not match the teacher"):
        TeacherTargets(teacher, FitConfig(generator=tiny_config(z_dim=Z, w_dim=32, use_noise=False)))
    with pytest.raises(ValueError, match="procedural renders"):
        TeacherTargets(teacher, FitConfig(generator=config.generator, loss=LossWeights(region=1.0)))

    def run(state, steps: int):
        return fit(state, tmp_path / "run", max_steps=steps, handle_signals=False, stream=None,
                   source=TeacherTargets(teacher, state.config))

    straight = new_fit(config)
    first = run(straight, 40)
    assert first.eval_loss.full < 0.9 * run(new_fit(config), 1).eval_loss.full  # it learns the teacher
    # stopped and resumed gives the same weights as not stopped
    (tmp_path / "run" / "checkpoint.pt").unlink()
    half = new_fit(config)
    run(half, 20)
    resumed = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    run(resumed, 40)
    for a, b in zip(resumed.G.parameters(), straight.G.parameters(), strict=True):
        torch.testing.assert_close(a, b)

    generator_path, json_path = export_model(straight, first, tmp_path / "model",
                                             targets={"method": "distillation", "teacher": {"package": "x"}})
    facts = json.loads(json_path.read_text())
    assert facts["method"] == "distillation" and "face_prior" not in facts and facts["steps"] == 40
    assert "face_prior" not in generator_metadata(generator_path)
    assert warm_start(generator_path).step == 40  # a later session continues the export
    G, _ = load_generator(generator_path)
    z = np.random.default_rng(1).standard_normal((8, Z))
    quality = standin_quality(G, teacher, z)
    assert quality.n == 8 and 0 < quality.l1 < 1 and quality.sharpness_teacher > 0
    assert "held-out L1 teacher-ours" in quality.line()
    sheet = sample_sheet(G, None, [0, 1], columns=2, targets=("teacher", lambda zz: teacher_images(teacher, zz)))
    assert sheet.shape == (3 * 16, 90 + 2 * 16, 3)


def test_laplacian_variance_falls_with_blur() -> None:
    import cv2

    img = (np.random.default_rng(0).random((2, 32, 32, 3)) * 255).astype(np.uint8)
    blurred = np.stack([cv2.GaussianBlur(i, (5, 5), 1.5) for i in img])
    sharp, soft = laplacian_variance(img), laplacian_variance(blurred)
    assert sharp.shape == (2,) and (soft < 0.5 * sharp).all()


def test_feature_nets_list_their_stages_for_small_images_and_name_the_loss_terms() -> None:
    assert tuple(FACE_NETS) == FACE_NET_NAMES
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    widths = {"landmark": [32, 64, 128, 256, 136], "identity": [32, 64, 128, 256, 128]}
    for name in FACE_NET_NAMES:
        feats = load_face_features(name).features(x)
        assert [f.shape[1] for f in feats] == widths[name] and all(f.shape[0] == 2 for f in feats)
    with pytest.raises(ValueError, match="no face net"):
        load_face_features("mtcnn")
    with pytest.raises(ValueError, match="face_landmark weight must be >= 0"):
        dataclasses.replace(student_config(), loss=LossWeights(face_landmark=-1.0))
    assert LossWeights(face_identity=2.0).face_nets == {"identity": 2.0} and LossWeights().face_nets == {}


@pytest.mark.parametrize("name", FACE_NET_NAMES)
def test_feature_loss_is_positive_and_reaches_the_generator(teacher_file: Path, name: str) -> None:
    teacher = load_teacher(teacher_file)
    weights = LossWeights(**{f"face_{name}": 1.0})
    state = new_fit(dataclasses.replace(student_config(), loss=weights))
    z, real, _ = TeacherTargets(teacher, state.config).batch(0)
    fake = generate(state.G, z)
    with pytest.raises(ValueError, match=f"needs face-api's {name} net"):
        fit_loss(fake, real, weights)
    total, parts = fit_loss(fake, real, weights, faces=state.faces)
    term = getattr(parts, f"face_{name}")
    _, plain = fit_loss(fake, real, LossWeights())
    assert term > 0 and total.item() == pytest.approx(plain.total + term, rel=1e-5)
    assert fit_loss(real, real, weights, faces=state.faces)[1].total == 0.0  # the teacher's own image
    grads = torch.autograd.grad(stage_l1(state.faces[name], fake, real), list(state.G.parameters()), allow_unused=True)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    assert all(not p.requires_grad for p in state.faces[name].parameters())  # the net stays frozen


def test_feature_loss_weight_round_trips_and_a_resumed_run_keeps_the_weights(teacher_file: Path, tmp_path: Path) -> None:
    config = dataclasses.replace(student_config(), loss=LossWeights(face_landmark=2.0))
    source = TeacherTargets(load_teacher(teacher_file), config)
    straight = new_fit(config)
    parts = [train_step(straight, *source.batch(step)) for step in range(2)]
    assert all(p.face_landmark > 0 for p in parts)
    half = new_fit(config)
    train_step(half, *source.batch(0))
    save_checkpoint(half, tmp_path / "checkpoint.pt")
    resumed = load_checkpoint(tmp_path / "checkpoint.pt")
    assert resumed.config.loss.face_landmark == 2.0 and resumed.config.loss.face_nets == {"landmark": 2.0}
    train_step(resumed, *source.batch(1))
    for a, b in zip(resumed.G.parameters(), straight.G.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    # training.json and an exported model's metadata record the config as to_dict writes it
    assert FitConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_checkpoint_lines_measure_the_stand_in_sharpness(teacher_file: Path, tmp_path: Path) -> None:
    teacher = load_teacher(teacher_file)
    source = TeacherTargets(teacher, student_config())
    state = new_fit(student_config())
    fit(state, tmp_path, max_steps=2, handle_signals=False, stream=None, source=source, measure=source.measure)
    entry = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()][-2]
    assert entry["event"] == "checkpoint"
    quality = standin_quality(state.G_ema, teacher, eval_latents(state.config))
    assert entry["measure"]["l1"] == pytest.approx(quality.l1)
    assert entry["measure"]["sharpness_ratio"] == pytest.approx(quality.sharpness_ours / quality.sharpness_teacher)


def test_adversarial_term_trains_a_patch_discriminator_that_a_resumed_run_keeps(
        teacher_file: Path, tmp_path: Path) -> None:
    teacher = load_teacher(teacher_file)
    config = dataclasses.replace(student_config(), loss=LossWeights(adversarial=0.1), r1_gamma=1.0)
    with pytest.raises(ValueError, match="the adversarial weight must be >= 0"):
        dataclasses.replace(config, loss=LossWeights(adversarial=-1.0))
    assert new_fit(student_config()).discriminator is None  # off: no discriminator, none in checkpoints

    def run(state, steps: int):
        return fit(state, tmp_path / "run", max_steps=steps, handle_signals=False, stream=None,
                   source=TeacherTargets(teacher, state.config))

    straight = new_fit(config)
    fresh = [p.clone() for p in straight.discriminator.parameters()]
    parts = run(straight, 4).train_loss
    assert parts.adversarial > 0 and parts.discriminator > 0 and parts.r1 > 0
    assert parts.total > parts.full + parts.half + parts.quarter + parts.gradient  # the weighted term is in it
    assert any(not torch.equal(a, b) for a, b in zip(fresh, straight.D.parameters(), strict=True))
    z, _, _ = TeacherTargets(teacher, config).batch(99)
    grads = torch.autograd.grad(generator_adversarial_loss(straight.D, generate(straight.G, z)),
                                list(straight.G.parameters()), allow_unused=True)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0
    assert straight.D(torch.zeros(2, 3, 16, 16)).shape == (2, 1, 2, 2)
    with pytest.raises(ValueError, match="discriminator takes"):
        straight.D(torch.zeros(2, 16, 16))

    (tmp_path / "run" / "checkpoint.pt").unlink()
    run(new_fit(config), 2)
    resumed = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert resumed.config.loss.adversarial == 0.1 and resumed.D is not None
    run(resumed, 4)
    for a, b in zip([*resumed.G.parameters(), *resumed.D.parameters()],
                    [*straight.G.parameters(), *straight.D.parameters()], strict=True):
        torch.testing.assert_close(a, b)
