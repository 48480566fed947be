"""Timelines and the render command: script → per-frame values → W+ → cached frames → video."""

from __future__ import annotations

import re
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from backend.channels import CHANNEL_NAMES
from backend.checkpoints import fingerprint, save_generator
from backend.directions import Direction, DirectionSet, save_directions
from backend.script import parse_script
from backend.timeline import Timeline, latents_for_timeline, load_values, timeline_from_clip
from backend.video import read_frames, video_info

from .conftest import FIG7_VIDEO1, ROOT


def random_directions(G, names=CHANNEL_NAMES, strength=2.0, seed=0) -> DirectionSet:
    rng = np.random.default_rng(seed)
    dirs = []
    for name in names:
        v = rng.standard_normal(G.w_dim).astype(np.float32)
        dirs.append(Direction(name, v / np.linalg.norm(v), (0, 4), strength, "test", "random", None))
    return DirectionSet(fingerprint(G), G.num_ws, G.w_dim, tuple(dirs))


@pytest.fixture
def rig(tiny_G, tmp_path):
    model = save_generator(tiny_G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(tiny_G), tmp_path / "directions.json")
    return tiny_G, model, directions


def render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend", "render", *args], cwd=ROOT, capture_output=True, text=True)


def counts(stdout: str) -> tuple[int, int]:
    m = re.search(r"\((\d+) computed, (\d+) from cache\)", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


# --- timelines -------------------------------------------------------------------------------------

def test_clip_timeline_covers_every_frame_between_first_and_last_keyframe():
    clip = parse_script(FIG7_VIDEO1, frames_between=4).clips[0]
    tl = timeline_from_clip(clip, CHANNEL_NAMES)
    assert tl.frames.tolist() == list(range(26))
    joy = tl.values[:, CHANNEL_NAMES.index("joy")]
    assert joy[0] == 0 and joy[5] == 1 and joy[2] == pytest.approx(0.4)
    turn = tl.values[:, CHANNEL_NAMES.index("head_turn")]
    assert turn[15] == 1 and turn[20] == 1 and turn[25] == 0


def test_zero_channels_the_directions_lack_are_ignored_but_used_ones_are_an_error(tiny_G):
    only_joy = random_directions(tiny_G, names=("joy",))
    w = tiny_G.w_from_seed(0).numpy()
    tl = Timeline(("joy", "anger"), np.arange(3), np.array([[0, 0], [0.5, 0], [1, 0]]))
    ws = latents_for_timeline(w, tl, only_joy)
    assert ws.shape == (3, tiny_G.num_ws, tiny_G.w_dim)
    assert np.array_equal(ws[0], w[0])
    with pytest.raises(ValueError, match="the directions have no channel anger"):
        latents_for_timeline(w, Timeline(("joy", "anger"), np.arange(1), np.array([[0, 0.3]])), only_joy)


def test_values_files_csv_and_json(tmp_path):
    (tmp_path / "v.csv").write_text("frame,joy,anger\n1,0,0\n2,0.5,0.1\n")
    tl = load_values(tmp_path / "v.csv")
    assert tl.channels == ("joy", "anger") and tl.frames.tolist() == [1, 2] and tl.values[1, 1] == 0.1
    (tmp_path / "v.json").write_text('{"frames": [0, 4], "channels": {"fear": [0.0, 1.0]}}')
    assert load_values(tmp_path / "v.json").values[:, 0].tolist() == [0.0, 1.0]
    (tmp_path / "bad.csv").write_text("joy\n1\n")
    with pytest.raises(ValueError, match="bad.csv: not a values file"):
        load_values(tmp_path / "bad.csv")


# --- the render command ----------------------------------------------------------------------------

def test_render_script_to_mp4_with_the_right_frames_and_fps(rig, tmp_path):
    G, model, directions = rig
    (tmp_path / "fig7.txt").write_text(FIG7_VIDEO1)
    out = tmp_path / "clip.mp4"
    r = render("--model", str(model), "--directions", str(directions), "--script", str(tmp_path / "fig7.txt"),
               "--frames-between", "4", "--fps", "12", "--seed", "3", "--cache", str(tmp_path / "cache"),
               "--device", "cpu", "--out", str(out))
    assert r.returncode == 0, r.stderr
    info = video_info(out)
    assert (info.n_frames, info.fps, info.width, info.height) == (26, 12, 32, 32)
    assert counts(r.stdout) == (26, 0)
    frames = list(read_frames(out))
    assert np.abs(frames[0].astype(int) - frames[5].astype(int)).mean() > 1  # joy + disgust changed the face


def test_changing_one_keyframe_recomputes_only_the_frames_that_changed(rig, tmp_path):
    G, model, directions = rig
    before, after = FIG7_VIDEO1, FIG7_VIDEO1.replace("joy anger", "joy:0.5 anger")
    common = ["--model", str(model), "--directions", str(directions), "--frames-between", "4",
              "--cache", str(tmp_path / "cache"), "--device", "cpu"]
    for i, text in enumerate((before, after)):
        (tmp_path / f"s{i}.txt").write_text(text)
        r = render(*common, "--script", str(tmp_path / f"s{i}.txt"), "--out", str(tmp_path / f"out{i}"))
        assert r.returncode == 0, r.stderr
    tl = [timeline_from_clip(parse_script(t, frames_between=4).clips[0], CHANNEL_NAMES) for t in (before, after)]
    changed = int((tl[0].values != tl[1].values).any(axis=1).sum())
    assert changed == 5  # the last segment: frames 21-25
    assert counts(r.stdout) == (changed, 26 - changed)
    a, b = sorted((tmp_path / "out0").glob("*.png")), sorted((tmp_path / "out1").glob("*.png"))
    assert len(a) == len(b) == 26
    same = [np.array_equal(iio.imread(x), iio.imread(y)) for x, y in zip(a, b)]
    assert same == [True] * 21 + [False] * 5


def test_render_from_per_frame_values(rig, tmp_path):
    G, model, directions = rig
    (tmp_path / "v.csv").write_text("frame,joy\n" + "".join(f"{f},{f / 9:.3f}\n" for f in range(10)))
    r = render("--model", str(model), "--directions", str(directions), "--values", str(tmp_path / "v.csv"),
               "--size", "64", "--cache", str(tmp_path / "cache"), "--device", "cpu", "--out", str(tmp_path / "png"))
    assert r.returncode == 0, r.stderr
    files = sorted((tmp_path / "png").glob("*.png"))
    assert len(files) == 10 and iio.imread(files[0]).shape == (64, 64, 3)


def test_neutral_frame_is_the_face_itself(rig, tmp_path):
    G, model, directions = rig
    (tmp_path / "s.txt").write_text("joy\n")
    r = render("--model", str(model), "--directions", str(directions), "--script", str(tmp_path / "s.txt"),
               "--frames-between", "1", "--seed", "5", "--truncation", "0.5", "--cache", str(tmp_path / "c"),
               "--device", "cpu", "--out", str(tmp_path / "png"))
    assert r.returncode == 0, r.stderr
    first = iio.imread(sorted((tmp_path / "png").glob("*.png"))[0]).astype(int)
    from backend.generator import images_to_uint8

    face = images_to_uint8(G.synthesize(G.w_from_seed(5, truncation_psi=0.5)))[0].astype(int)
    # Frames are rendered from the cache's snapped code (±5e-5 per value): equal up to rounding.
    assert np.abs(first - face).max() <= 2


@pytest.mark.parametrize("script, message", [
    ("joy\nhapy\n", r"line 2, column 1: unknown emotion word 'hapy'"),
    ("joy:7\n", r"line 1"),
])
def test_bad_script_is_one_line_with_its_line_number(rig, tmp_path, script, message):
    G, model, directions = rig
    (tmp_path / "s.txt").write_text(script)
    r = render("--model", str(model), "--directions", str(directions), "--script", str(tmp_path / "s.txt"),
               "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o.mp4"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert re.search(message, r.stderr), r.stderr


def test_directions_of_another_generator_are_refused(rig, tmp_path):
    from backend.generator import Generator

    from .conftest import randomize_, tiny_config

    G, model, _ = rig
    other = randomize_(Generator(tiny_config()), seed=99)
    wrong = save_directions(random_directions(other), tmp_path / "other.json")
    (tmp_path / "s.txt").write_text("joy\n")
    r = render("--model", str(model), "--directions", str(wrong), "--script", str(tmp_path / "s.txt"),
               "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "o.mp4"))
    assert r.returncode == 2 and "made for another generator" in r.stderr


def test_train_directions_command(tiny_G, tmp_path):
    model = save_generator(tiny_G, tmp_path / "g.safetensors")
    rng = np.random.default_rng(0)
    d = rng.standard_normal(32)
    d /= np.linalg.norm(d)
    latents = rng.standard_normal((300, 32)).astype(np.float32)
    labels = np.where(latents @ d > 0, "joy", "neutral")
    np.save(tmp_path / "w.npy", latents)
    (tmp_path / "labels.txt").write_text("\n".join(labels))
    r = subprocess.run([sys.executable, "-m", "backend", "train-directions", "--latents", str(tmp_path / "w.npy"),
                        "--labels", str(tmp_path / "labels.txt"), "--names", "joy", "--model", str(model),
                        "--out", str(tmp_path / "d.json")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    acc = float(re.search(r"joy\s+held-out accuracy ([\d.]+)", r.stdout).group(1))
    assert acc >= 0.9
    from backend.directions import load_directions

    learned = load_directions(tmp_path / "d.json", expect_fingerprint=fingerprint(tiny_G))
    assert float(learned["joy"].vector @ d) >= 0.95
    info = subprocess.run([sys.executable, "-m", "backend", "info", str(tmp_path / "d.json")], cwd=ROOT,
                          capture_output=True, text=True)
    assert info.returncode == 0 and "joy" in info.stdout and "layers 0-4" in info.stdout


def test_acd_command_of_a_constant_video_is_zero(tmp_path):
    frames = np.full((6, 32, 32, 3), 90, np.uint8)
    from backend.video import write_png_sequence

    write_png_sequence(frames, tmp_path / "still")
    r = subprocess.run([sys.executable, "-m", "backend", "acd", str(tmp_path / "still")], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("0.000000")


def test_acd_command_with_a_probe_uses_its_identity_embedding(tmp_path):
    from backend.acd import content_distance
    from backend.probe import FaceProbe, ProbeConfig, probe_predict, save_probe
    from backend.video import write_png_sequence

    probe = FaceProbe(ProbeConfig(input_size=32, width=4, depth=2, embed_dim=8, seed=1)).eval()
    path = save_probe(probe, tmp_path / "probe.safetensors")
    frames = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    write_png_sequence(frames, tmp_path / "noise")
    r = subprocess.run([sys.executable, "-m", "backend", "acd", str(tmp_path / "noise"), "--probe", str(path),
                        "--variant", "consecutive"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"identity embedding of {path}" in r.stdout
    want = content_distance(probe_predict(probe, frames).embedding, "consecutive")
    assert float(r.stdout.strip().rsplit(" ", 1)[1]) == pytest.approx(want, abs=2e-6) and want > 0
