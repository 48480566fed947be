"""Timelines and the render command: script → per-frame values → W+ → cached frames → video."""

from __future__ import annotations

import re
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.directions import save_directions
from backend.animation.script import parse_script
from backend.animation.timeline import Timeline, iter_latents, load_values, timeline_from_clip
from backend.model.checkpoints import fingerprint, save_generator
from backend.rendering.video import read_frames, video_info
from lab.rigs import random_directions

from .conftest import FIG7_VIDEO1, ROOT, backend_cli


@pytest.fixture
def rig(tiny_G, tmp_path):
    model = save_generator(tiny_G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(tiny_G), tmp_path / "directions.json")
    return tiny_G, model, directions


def render(*args: str) -> subprocess.CompletedProcess:
    return backend_cli("render", *args)


def counts(stdout: str) -> tuple[int, int]:
    m = re.search(r"\((\d+) computed, (\d+) from cache\)", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


# --- timelines -------------------------------------------------------------------------------------

def test_clip_timeline_covers_every_frame_between_first_and_last_keyframe():
    clip = parse_script(FIG7_VIDEO1, frames_between=4).clips[0]
    tl = timeline_from_clip(clip, CHANNEL_NAMES)
    assert len(tl) == 26 and (tl.first, tl.last) == (0, 25)
    chunks = list(tl.chunks(10))
    assert [f.tolist() for f, _ in chunks] == [list(range(0, 10)), list(range(10, 20)), list(range(20, 26))]
    values = np.concatenate([v for _, v in chunks])
    joy = values[:, CHANNEL_NAMES.index("joy")]
    assert joy[0] == 0 and joy[5] == 1 and joy[2] == pytest.approx(0.4)
    turn = values[:, CHANNEL_NAMES.index("head_turn")]
    assert turn[15] == 1 and turn[20] == 1 and turn[25] == 0


def test_zero_channels_the_directions_lack_are_ignored_but_used_ones_are_an_error(tiny_G):
    only_joy = random_directions(tiny_G, names=("joy",))
    w = tiny_G.w_from_seed(0).numpy()
    tl = Timeline(("joy", "anger"), np.arange(3), np.array([[0, 0], [0.5, 0], [1, 0]]))
    ws = np.concatenate(list(iter_latents(w, tl, only_joy)))
    assert ws.shape == (3, tiny_G.num_ws, tiny_G.w_dim)
    assert np.array_equal(ws[0], w[0])
    with pytest.raises(ValueError, match="the directions have no channel anger"):
        next(iter_latents(w, Timeline(("joy", "anger"), np.arange(1), np.array([[0, 0.3]])), only_joy))


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


def test_stacking_add_renders_new_stacked_frames_and_reuses_neutral_and_single_channel_ones(rig, tmp_path):
    G, model, directions = rig
    (tmp_path / "fig7.txt").write_text(FIG7_VIDEO1)
    common = ["--model", str(model), "--directions", str(directions), "--script", str(tmp_path / "fig7.txt"),
              "--frames-between", "4", "--cache", str(tmp_path / "cache"), "--device", "cpu"]
    capped = render(*common, "--out", str(tmp_path / "cap"))
    plain = render(*common, "--stacking", "add", "--out", str(tmp_path / "add"))
    assert capped.returncode == 0 and plain.returncode == 0, capped.stderr + plain.stderr
    computed, cached = counts(plain.stdout)
    assert computed + cached == 26 and computed >= 15 and cached >= 2
    cap, add = sorted((tmp_path / "cap").glob("*.png")), sorted((tmp_path / "add").glob("*.png"))
    # Frame 0 is the neutral face, frame 10 joy alone: the same files; frame 5 is joy with disgust.
    assert cap[0].read_bytes() == add[0].read_bytes() and cap[10].read_bytes() == add[10].read_bytes()
    assert cap[5].read_bytes() != add[5].read_bytes()
    bad = render(*common, "--stacking", "clip", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "invalid choice: 'clip'" in bad.stderr


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
    every = np.arange(26)
    changed = int((tl[0].values_at(every) != tl[1].values_at(every)).any(axis=1).sum())
    assert changed == 5  # the last segment: frames 21-25
    assert counts(r.stdout) == (changed, 26 - changed)
    a, b = sorted((tmp_path / "out0").glob("*.png")), sorted((tmp_path / "out1").glob("*.png"))
    assert len(a) == len(b) == 26
    same = [np.array_equal(iio.imread(x), iio.imread(y)) for x, y in zip(a, b, strict=True)]
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
    from backend.model.generator import images_to_uint8

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
    from backend.model.generator import Generator

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
    r = backend_cli("train-directions", "--latents", tmp_path / "w.npy", "--labels", tmp_path / "labels.txt",
                    "--names", "joy", "--model", model, "--out", tmp_path / "d.json")
    assert r.returncode == 0, r.stderr
    acc = float(re.search(r"joy\s+held-out accuracy ([\d.]+)", r.stdout).group(1))
    assert acc >= 0.9
    from backend.animation.directions import load_directions

    learned = load_directions(tmp_path / "d.json", expect_fingerprint=fingerprint(tiny_G))
    assert float(learned["joy"].vector @ d) >= 0.95
    info = backend_cli("info", tmp_path / "d.json")
    assert info.returncode == 0 and "joy" in info.stdout and "rows 0-3" in info.stdout


def test_acd_command_of_a_constant_video_is_zero(tmp_path):
    frames = np.full((6, 32, 32, 3), 90, np.uint8)
    from backend.rendering.video import write_png_sequence

    write_png_sequence(frames, tmp_path / "still")
    r = backend_cli("acd", tmp_path / "still")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("0.000000")


def test_acd_command_with_a_probe_uses_its_identity_embedding(tmp_path):
    from backend.metrics.acd import content_distance
    from backend.readers.probe import FaceProbe, ProbeConfig, probe_predict, save_probe
    from backend.rendering.video import write_png_sequence

    probe = FaceProbe(ProbeConfig(input_size=32, width=4, depth=2, embed_dim=8, seed=1)).eval()
    path = save_probe(probe, tmp_path / "probe.safetensors")
    frames = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    write_png_sequence(frames, tmp_path / "noise")
    r = backend_cli("acd", tmp_path / "noise", "--probe", path, "--variant", "consecutive")
    assert r.returncode == 0, r.stderr
    assert f"identity embedding of {path}" in r.stdout
    want = content_distance(probe_predict(probe, frames).embedding, "consecutive")
    assert float(r.stdout.strip().rsplit(" ", 1)[1]) == pytest.approx(want, abs=2e-6) and want > 0


# --- long ranges, value files, bad arguments, signals ----------------------------------------------

def test_value_rows_are_keyframes_and_frame_numbers_mean_frames(tiny_G, tmp_path):
    (tmp_path / "v.csv").write_text("frame,joy\n0,0\n1000000,1\n")
    tl = load_values(tmp_path / "v.csv")
    assert len(tl) == 1_000_001 and (tl.first, tl.last) == (0, 1_000_000)
    assert tl.values_at(np.array([500_000]))[0, 0] == pytest.approx(0.5)
    from backend.animation.timeline import CHUNK

    chunks = iter_latents(tiny_G.w_from_seed(0).numpy(), tl, random_directions(tiny_G, names=("joy",)))
    first = next(chunks)  # a chunk at a time: the million frames' codes are never all held
    assert first.shape == (CHUNK, tiny_G.num_ws, tiny_G.w_dim)


@pytest.mark.parametrize("text, message", [
    ("frame,joy,anger\n0,0,0\n5,1\n", "row 3 has 2 cells, the header has 3"),
    ("frame,joy\n0,0,1\n", "row 2 has 3 cells, the header has 2"),
    ("frame,joy\n", "the header has no rows under it"),
    ("", "empty file"),
    ("joy\n1\n", "has no 'frame' column"),
    ("frame,joy\n0,nan\n", "row 2, joy: nan is not a finite number"),
    ("frame,joy\n0,50\n", r"row 2, joy: 50 is outside \[-2, 2\]"),
    ("frame,joy\n0,lots\n", "row 2, joy: 'lots' is not a number"),
    ("frame,joy\n1.5,0\n", "row 2: frame '1.5' is not a whole number"),
    ("frame,joy\n-3,0\n", "frame numbers must be 0 or more"),
    ("frame,joy\n4,0\n2,1\n", "strictly increasing"),
])
def test_bad_value_files_say_what_and_where_with_the_file_name(tmp_path, text, message):
    (tmp_path / "v.csv").write_text(text)
    with pytest.raises(ValueError, match=message) as e:
        load_values(tmp_path / "v.csv")
    assert str(e.value).startswith(f"{tmp_path / 'v.csv'}:")
    assert "Traceback" not in str(e.value) and "KeyError" not in str(e.value)


def test_value_file_columns_are_case_insensitive_and_non_utf8_names_the_file(tmp_path):
    (tmp_path / "v.csv").write_text("Frame,JOY,Eye-Close\n0,0.5,1\n")
    tl = load_values(tmp_path / "v.csv")
    assert tl.channels == ("joy", "eye_close") and tl.values.tolist() == [[0.5, 1.0]]
    (tmp_path / "latin1.csv").write_bytes("frame,joy\n0,0\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.csv: not UTF-8 text"):
        load_values(tmp_path / "latin1.csv")


def test_png_frames_are_numbered_by_their_frame(rig, tmp_path):
    G, model, directions = rig
    (tmp_path / "v.csv").write_text("frame,joy\n3,0\n6,1\n")
    r = render("--model", str(model), "--directions", str(directions), "--values", str(tmp_path / "v.csv"),
               "--cache", str(tmp_path / "cache"), "--device", "cpu", "--out", str(tmp_path / "png"))
    assert r.returncode == 0, r.stderr
    assert [p.name for p in sorted((tmp_path / "png").glob("*.png"))] == [f"frame_0000{i}.png" for i in (3, 4, 5, 6)]
    assert "4 frames (3-6)" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--size", "0"], "--size must be within [8, 8192], got 0"),
    (["--size", "99999"], "--size must be within [8, 8192], got 99999"),
    (["--truncation", "5"], "--truncation must be within [0, 1], got 5"),
    (["--out", "clip.flv"], "cannot write .flv videos; use .mp4, .mov, .mkv, .avi, .webm, .gif"),
])
def test_bad_render_arguments_are_one_clear_error(rig, tmp_path, args, message):
    G, model, directions = rig
    (tmp_path / "s.txt").write_text("joy\n")
    base = {"--out": str(tmp_path / "o.mp4")}
    base.update(dict(zip(args[::2], args[1::2])))
    if base["--out"] == "clip.flv":
        base["--out"] = str(tmp_path / "clip.flv")
    r = render("--model", str(model), "--directions", str(directions), "--script", str(tmp_path / "s.txt"),
               "--cache", str(tmp_path / "c"), *[x for kv in base.items() for x in kv])
    assert r.returncode == 2 and "Traceback" not in r.stderr and message in r.stderr, r.stderr
    assert not (tmp_path / "clip.flv").exists()


def test_a_folder_given_as_model_is_called_a_folder(tmp_path):
    (tmp_path / "s.txt").write_text("joy\n")
    r = render("--model", str(tmp_path), "--script", str(tmp_path / "s.txt"), "--out", str(tmp_path / "o.mp4"))
    assert r.returncode == 2 and "a folder, not a checkpoint file" in r.stderr, r.stderr


def test_sigterm_stops_a_render_and_leaves_no_partial_video(rig, tmp_path):
    import signal
    import time

    G, model, directions = rig
    (tmp_path / "v.csv").write_text("frame,joy\n0,0\n100000,1\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = subprocess.Popen([sys.executable, "-m", "backend", "render", "--model", str(model), "--directions",
                          str(directions), "--values", str(tmp_path / "v.csv"), "--cache", str(tmp_path / "c"),
                          "--device", "cpu", "--out", str(out_dir / "x.mp4")],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(f.stat().st_size > 0 for f in out_dir.iterdir()):  # the partial video is being written
            assert p.poll() is None and time.monotonic() < deadline, p.communicate()
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 128 + signal.SIGTERM and "terminated" in err
    assert list(out_dir.iterdir()) == []


def test_cache_command_reports_and_prunes(rig, tmp_path):
    G, model, directions = rig
    (tmp_path / "s.txt").write_text("joy\n")
    cache = tmp_path / "cache"
    r = render("--model", str(model), "--directions", str(directions), "--script", str(tmp_path / "s.txt"),
               "--frames-between", "3", "--cache", str(cache), "--device", "cpu", "--out", str(tmp_path / "png"))
    assert r.returncode == 0, r.stderr

    def cache_cmd(*args):
        return backend_cli("cache", *args, "--cache", cache)

    info = cache_cmd("info")
    assert info.returncode == 0 and re.search(r": 5 frames, [\d.]+ MiB", info.stdout), info.stdout
    pruned = cache_cmd("prune", "--max-size", "0")
    assert pruned.returncode == 0 and "removed 5 " in pruned.stdout and ": 0 frames" in pruned.stdout
    assert len(list((tmp_path / "png").glob("*.png"))) == 5  # what was rendered stays
    bad = cache_cmd("prune", "--max-size", "lots")
    assert bad.returncode == 2 and "sizes look like 500M or 2G" in bad.stderr


@pytest.mark.slow
def test_compiled_render_is_close_to_the_plain_one_and_cached_apart(tmp_path):
    # An 8-pixel generator (two synthesis blocks, one upsampling): compiling it costs 24 CPU-seconds,
    # the 32-pixel one 37 (measured, both a 7-frame render in its own process).
    from backend.model.generator import Generator

    from .conftest import randomize_, tiny_config

    G = randomize_(Generator(tiny_config(img_resolution=8))).eval()
    model = save_generator(G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(G), tmp_path / "directions.json")
    (tmp_path / "s.txt").write_text("joy\nanger\n")
    common = ["--model", str(model), "--directions", str(directions), "--script", str(tmp_path / "s.txt"),
              "--frames-between", "2", "--cache", str(tmp_path / "cache"), "--device", "cpu"]
    plain = render(*common, "--out", str(tmp_path / "plain"))
    # A process of its own: torch.compile's state and its cache folder stay out of the test process.
    compiled = subprocess.run([sys.executable, "-m", "backend", "render", *common, "--compile", "--out",
                               str(tmp_path / "with_compile")], cwd=ROOT, capture_output=True, text=True)
    assert plain.returncode == 0 and compiled.returncode == 0, compiled.stderr[-2000:]
    assert counts(compiled.stdout) == counts(plain.stdout) == (7, 0)  # nothing served from the plain frames
    for a, b in zip(sorted((tmp_path / "plain").glob("*.png")), sorted((tmp_path / "with_compile").glob("*.png")), strict=True):
        assert np.abs(iio.imread(a).astype(int) - iio.imread(b).astype(int)).max() <= 2
