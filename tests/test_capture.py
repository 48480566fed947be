"""Performance capture (video -> channel values), its One-Euro smoothing, and ACD on real faces.

The test video is the fixture photo with the face turned by a horizontal warp (the nose moved
toward the image's right between the still jaw ends, as in a head turned to the right), moved
across the frame, then mirrored (turned left), then cut to frames without a face, then back."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
from functools import cache

import cv2
import numpy as np
import pytest

from backend.animation.channels import CHANNEL_NAMES, VALUE_LIMIT
from backend.animation.timeline import load_values
from backend.cli import main
from backend.metrics.acd import content_distance
from backend.readers.capture import (
    EMOTION_LABELS,
    ChannelCalibration,
    FaceTracker,
    capture,
    capture_csv,
    fill_gaps,
    gap_ranges,
    keyframe_indices,
    reading_channels,
    rest_calibrated,
)
from backend.readers.reading import FaceGeometry, Probabilities
from backend.readers.smoothing import OneEuro, one_euro_filter
from backend.rendering.video import read_frames, video_info, write_video

from .conftest import ROOT
from .test_face_readers import astronaut, astronaut_reading, readers
from .test_render import rig  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")
FPS = 10
RIGHT, LEFT, NO_FACE, BACK = range(0, 4), range(4, 8), range(8, 10), range(10, 13)


def turned_right(image: np.ndarray, power: float = 1.6, x1: int = 160, x2: int = 290) -> np.ndarray:
    """The columns x1..x2 (the face) resampled so that their middle moves toward x2."""
    h, w = image.shape[:2]
    x = np.arange(w, dtype=np.float32)
    u = np.clip((x - x1) / (x2 - x1), 0, 1)
    source_x = np.where((x >= x1) & (x <= x2), x1 + (x2 - x1) * u ** power, x).astype(np.float32)
    map_x = np.ascontiguousarray(np.broadcast_to(source_x, (h, w)))
    map_y = np.ascontiguousarray(np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)))
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)


def performance_frames() -> list[np.ndarray]:
    right = turned_right(astronaut()["astronaut_rgb512"])
    left = np.ascontiguousarray(right[:, ::-1])
    wall = np.full_like(right, 120)
    return ([np.roll(right, 6 * i, axis=1) for i in range(len(RIGHT))]
            + [np.roll(left, -6 * i, axis=1) for i in range(len(LEFT))]
            + [wall] * len(NO_FACE) + [np.roll(right, 6 * i, axis=1) for i in range(len(BACK))])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("capture") / "performance.mp4"
    write_video(performance_frames(), path, FPS)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# --- One-Euro filter ---------------------------------------------------------------------------

def test_one_euro_follows_the_papers_equations_by_hand():
    x = np.array([0.0, 1.0, 1.0])
    settings = OneEuro(min_cutoff=1.0, beta=0.5, d_cutoff=2.0)
    rate = 10.0

    def alpha(fc):
        return 1 / (1 + 1 / (2 * np.pi * fc) * rate)

    speed1 = alpha(2.0) * (1.0 - 0.0) * rate
    y1 = alpha(1.0 + 0.5 * speed1) * 1.0
    speed2 = alpha(2.0) * (1.0 - y1) * rate + (1 - alpha(2.0)) * speed1
    y2 = alpha(1.0 + 0.5 * speed2) * 1.0 + (1 - alpha(1.0 + 0.5 * speed2)) * y1
    np.testing.assert_allclose(one_euro_filter(x, rate, settings), [0.0, y1, y2], rtol=1e-12)


def test_one_euro_stills_jitter_at_rest_but_keeps_an_onset():
    rate = 25.0
    jitter = 0.3 + 0.03 * np.random.default_rng(0).standard_normal(200)
    assert one_euro_filter(jitter, rate)[50:].std() < 0.4 * jitter[50:].std()
    step = np.r_[np.zeros(20), np.ones(20)]  # an expression's onset, from one frame to the next
    fast, slow = one_euro_filter(step, rate), one_euro_filter(step, rate, OneEuro(beta=0.0))
    assert fast[22] > 0.85 > 0.6 > slow[22]  # three frames after the onset: the speed term lets it through
    assert one_euro_filter(np.c_[step, jitter[:40]], rate)[:, 0] == pytest.approx(fast)  # columns on their own


def test_one_euro_refuses_bad_settings_and_input():
    with pytest.raises(ValueError, match="min_cutoff must be a positive"):
        OneEuro(min_cutoff=0)
    with pytest.raises(ValueError, match="beta must be 0 or more"):
        OneEuro(beta=-1)
    with pytest.raises(ValueError, match="sample rate"):
        one_euro_filter(np.zeros(3), 0)
    with pytest.raises(ValueError, match="finite"):
        one_euro_filter(np.array([0, np.nan]), 10)


# --- the mapping, gaps, keyframes ------------------------------------------------------------------

def channel(values: np.ndarray, name: str) -> float:
    return float(values[CHANNEL_NAMES.index(name)])


def with_geometry(eye: float, mouth: float, yaw: float):
    return dataclasses.replace(astronaut_reading()[0], geometry=FaceGeometry(eye, eye, mouth, yaw))


def test_emotions_come_from_face_apis_expression_reader_and_never_from_fer():
    face = astronaut_reading()[0]
    values = reading_channels(face)
    assert channel(values, "joy") == pytest.approx(face.expression["happy"]) and channel(values, "joy") > 0.9
    for name, label in (("sadness", "sad"), ("anger", "angry"), ("fear", "fearful"), ("surprise", "surprised"),
                        ("disgust", "disgusted")):
        assert channel(values, name) == pytest.approx(face.expression[label])
    sad_fer = Probabilities(face.fer_expression.labels, tuple(1.0 if lab == "sad" else 0.0
                                                              for lab in face.fer_expression.labels))
    np.testing.assert_array_equal(reading_channels(dataclasses.replace(face, fer_expression=sad_fer)), values)


def test_geometry_maps_rest_to_0_and_full_to_1_with_our_head_turn_sign():
    c = ChannelCalibration()
    rest = reading_channels(with_geometry(c.eye_open, 0.0, 0.0))
    full = reading_channels(with_geometry(c.eye_shut, c.mouth_full, c.yaw_full))
    for name in ("eye_close", "mouth_open", "head_turn"):
        assert channel(rest, name) == pytest.approx(0) and channel(full, name) == pytest.approx(1)
    # nose toward the image's left: turned left, our -1 side; wide eyes read negative
    assert channel(reading_channels(with_geometry(0.35, 0.0, -c.yaw_full / 2)), "head_turn") == pytest.approx(-0.5)
    assert channel(reading_channels(with_geometry(0.35, 0.0, 0.0)), "eye_close") < 0
    assert np.abs(reading_channels(with_geometry(0.0, 5.0, 1.0))).max() == VALUE_LIMIT  # clipped to the limit


def test_rest_calibration_zeroes_the_actors_rest_and_keeps_full_at_1():
    rest = np.zeros(len(CHANNEL_NAMES))
    rest[[CHANNEL_NAMES.index(n) for n in ("joy", "eye_close", "mouth_open", "head_turn")]] = [0.3, -0.2, 0.1, 0.15]
    full = np.ones(len(CHANNEL_NAMES))
    out = rest_calibrated(np.stack([rest, full]), rest)
    for name in ("eye_close", "mouth_open", "head_turn"):
        assert channel(out[0], name) == pytest.approx(0)
    assert channel(out[1], "eye_close") == pytest.approx(1) and channel(out[1], "mouth_open") == pytest.approx(1)
    assert channel(out[1], "head_turn") == pytest.approx(0.85) and channel(out[0], "joy") == 0.3  # emotions untouched
    shut = rest.copy()
    shut[CHANNEL_NAMES.index("eye_close")] = 0.9
    with pytest.raises(ValueError, match="rest frame reads eye_close 0.90"):
        rest_calibrated(np.stack([rest]), shut)


def test_gaps_are_found_interpolated_or_held():
    found = np.array([False, True, False, False, True, False])
    values = np.array([[9.0], [1.0], [9.0], [9.0], [4.0], [9.0]])
    assert gap_ranges(found) == ((0, 0), (2, 3), (5, 5))
    np.testing.assert_allclose(fill_gaps(values, found, "interpolate")[:, 0], [1, 1, 2, 3, 4, 4])
    np.testing.assert_allclose(fill_gaps(values, found, "hold")[:, 0], [1, 1, 1, 1, 4, 4])
    with pytest.raises(ValueError, match="no frame with a face"):
        fill_gaps(values, np.zeros(6, bool))


def test_keyframes_keep_the_corners_and_stay_within_the_tolerance():
    t = np.arange(41)
    corners = np.c_[np.interp(t, [0, 10, 30, 40], [0, 1, 1, 0]), np.interp(t, [0, 20, 40], [0, -1, 0])]
    np.testing.assert_array_equal(keyframe_indices(corners, 1e-9), [0, 10, 20, 30, 40])
    noisy = corners + 0.05 * np.random.default_rng(1).standard_normal(corners.shape)
    for tolerance in (0.02, 0.1, 0.3):
        keys = keyframe_indices(noisy, tolerance)
        rebuilt = np.stack([np.interp(t, keys, noisy[keys, c]) for c in range(2)], axis=1)
        assert np.abs(rebuilt - noisy).max() <= tolerance + 1e-12
    assert len(keyframe_indices(noisy, 0.3)) < len(keyframe_indices(noisy, 0.02)) < len(t)


def test_tracker_follows_the_chosen_face_and_not_another_person():
    photo = astronaut()["astronaut_rgb512"]
    pair = readers().read(np.concatenate([photo, photo[:, ::-1]], axis=1))
    tracker = FaceTracker(face=1)
    first = tracker.pick(pair)
    assert first is pair[1]
    moved = readers().read(np.concatenate([np.roll(photo, 20, axis=1), np.roll(photo[:, ::-1], 20, axis=1)], axis=1))
    assert tracker.pick(moved).box[0] == pytest.approx(first.box[0] + 20, abs=6)  # same side, not the larger
    stranger = dataclasses.replace(pair[0], identity=np.linalg.svd(first.identity[None])[2][1])  # orthogonal
    assert tracker.pick([stranger]) is None
    assert FaceTracker(face=2).pick(pair) is None  # waits for a frame with three faces


def test_a_region_and_minimum_size_find_the_same_face_and_skip_others():
    photo = astronaut()["astronaut_rgb512"]
    (full,) = readers().detect(photo)
    (hinted,) = readers().detect(photo, min_face_size=45)  # half the face, as capture follows it
    (near,) = readers().detect(photo, min_face_size=45, region=(90, -20, 360, 250))  # 3x the face about it
    assert np.abs(np.subtract(hinted.box, full.box)).max() < 4 and np.abs(np.subtract(near.box, full.box)).max() < 4
    assert np.abs(np.subtract(near.points, full.points)).max() < 4
    assert readers().detect(photo, min_face_size=300) == []
    assert readers().detect(photo, region=(300, 250, 512, 512)) == []
    assert readers().detect(photo, region=(600, 0, 700, 9)) == []  # outside the image


# --- tracking between detections ---------------------------------------------------------------

def moved(image: np.ndarray, dx: float, dy: float, scale: float) -> np.ndarray:
    """``image`` scaled about the face's centre (220, 130) and shifted, its borders repeated."""
    m = cv2.getRotationMatrix2D((220, 130), 0, scale)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(image, m, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


STEPS = [(7 * i, -3 * i, 1 + 0.03 * i) for i in range(8)]  # 7 px right, 3 px up and 3 % larger a frame


@cache
def moving_frames() -> tuple[np.ndarray, ...]:
    return tuple(moved(astronaut()["astronaut_rgb512"], *step) for step in STEPS)


class CountedDetector:
    """``readers().detector.detect`` with a count of the real calls."""

    def __init__(self, monkeypatch):
        self.calls, detect = 0, readers().detector.detect

        def counted(*args, **kwargs):
            self.calls += 1
            return detect(*args, **kwargs)

        monkeypatch.setattr(readers().detector, "detect", counted)


def test_the_last_stage_alone_refines_a_box_and_tells_a_face_from_a_wall():
    photo = astronaut()["astronaut_rgb512"]
    (full,) = readers().detect(photo)
    again = readers().detector.refine(photo, full.box)
    assert again.score > 0.9 and np.abs(np.subtract(again.box, full.box)).max() < 4
    assert np.abs(np.subtract(again.points, full.points)).max() < 4
    assert readers().detector.refine(np.full_like(photo, 120), full.box).score < 0.1
    assert readers().detector.refine(photo, (600, 600, 700, 700)) is None  # outside the image


def test_tracking_follows_a_moving_growing_face_without_the_detector():
    frames = moving_frames()
    tracker = FaceTracker()
    first = tracker.pick(readers().read(frames[0]))
    (cx, cy), side = tracker.centre, tracker.size
    for frame, (dx, dy, scale) in list(zip(frames, STEPS))[1:]:
        found = tracker.track(readers(), frame)
        assert found is not None and found.score > 0.9
        x1, y1, x2, y2 = found.box  # where the first box went under the frame's warp
        expected = np.array([220 + (cx - 220) * scale + dx, 130 + (cy - 130) * scale + dy])
        assert np.hypot(*(np.array([(x1 + x2) / 2, (y1 + y2) / 2]) - expected)) < 0.05 * side * scale
        assert max(x2 - x1, y2 - y1) == pytest.approx(side * scale, rel=0.08)
    assert first is not None and tracker.track(readers(), np.full_like(frames[0], 120)) is None  # lost
    assert tracker.box is None and tracker.track(readers(), frames[0]) is None  # stays lost until detected


def test_capture_tracks_between_detections_and_reads_as_detecting_every_frame(monkeypatch):
    frames = moving_frames()
    counted = CountedDetector(monkeypatch)
    every = capture(frames, 25, readers(), detect_every=1)
    assert counted.calls == every.detector_runs == len(frames)  # the region about the last face held it
    counted.calls = 0
    tracked = capture(frames, 25, readers(), detect_every=4)
    assert counted.calls == tracked.detector_runs == 2  # frames 0 and 4
    assert tracked.found.all() and (tracked.face_counts == 1).all()
    emotions = [CHANNEL_NAMES.index(n) for n in EMOTION_LABELS]
    assert np.abs(tracked.raw[:, emotions] - every.raw[:, emotions]).max() < 0.01
    # eye_close, mouth_open, head_turn move by up to 0.07 between two detections of one frame
    # (a region about the last face against the whole frame): the tracked box is one more such box
    assert np.abs(tracked.raw - every.raw).max() < 0.08 and np.abs(tracked.values - every.values).max() < 0.06
    np.testing.assert_array_equal(capture(frames[:4], 25, readers(), detect_every=4).raw, tracked.raw[:4])  # same again
    one_by_one = capture(frames[:4], 25, readers(), detect_every=4, batch=1).raw
    np.testing.assert_allclose(one_by_one, tracked.raw[:4], atol=1e-5)  # batched readers: the same readings


def test_tracked_frames_meet_the_refusals_detected_ones_do(monkeypatch):
    """A tracked frame is read only if ``reading.refusal`` accepts its box and landmarks, as a
    detected one; refused, it is a gap and the next frame is detected. And a tracked box under the
    readers' size is lost, not read."""
    import backend.readers.capture as capture_module

    frames = moving_frames()
    checked = []

    def refuse_tracked_landmarks(face, landmarks=None):  # detected frames are checked in reading.py
        checked.append(landmarks is not None)
        return "disagree (test)" if landmarks is not None else None

    monkeypatch.setattr(capture_module, "refusal", refuse_tracked_landmarks)
    counted = CountedDetector(monkeypatch)
    result = capture(frames, 25, readers(), detect_every=4)
    np.testing.assert_array_equal(result.found, [True, False, False, False, True, False, False, False])
    assert sum(checked) == 6 and counted.calls == result.detector_runs == 2  # frames 1-3, 5-7 tracked, refused
    monkeypatch.undo()

    tracker = FaceTracker()
    tracker.pick(readers().read(frames[0]))
    small = cv2.resize(frames[0], None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    tracker.box, tracker.size = tuple(0.2 * v for v in tracker.box), 0.2 * tracker.size  # now under MIN_READ_SIDE
    assert readers().detector.refine(small, tracker.box).score > 0.8  # still a face to the detector
    assert tracker.track(readers(), small) is None and tracker.box is None


def test_capture_detects_again_when_the_face_leaves_and_returns(monkeypatch):
    frames = moving_frames()
    wall = np.full_like(frames[0], 120)
    counted = CountedDetector(monkeypatch)
    result = capture([*frames[:3], wall, wall, frames[6], frames[7]], 25, readers(), detect_every=100)
    np.testing.assert_array_equal(result.found, [True, True, True, False, False, True, True])
    # frame 0; each wall frame: the region about the last face, then the whole frame; frame 5 in its region
    assert counted.calls == result.detector_runs == 1 + 2 + 2 + 1
    assert result.gaps == ((3, 4),)


def test_capture_refuses_a_detection_interval_or_batch_under_1(capsys):
    with pytest.raises(ValueError, match="detect_every and batch must be at least 1"):
        capture(moving_frames(), 25, readers(), detect_every=0)
    with pytest.raises(SystemExit):
        main(["capture", "clip.mp4", "--out", "v.csv", "--detect-every", "0"])
    assert "--detect-every must be" in capsys.readouterr().err


# --- the capture command on the built video -----------------------------------------------------

def test_capture_gives_steady_sensible_channels_and_reports_the_gap(clip, tmp_path, capsys):
    code, out, err = run(capsys, "capture", clip, "--out", tmp_path / "v.csv")
    assert code == 0, err
    assert "missing in frames 8-9 (2), interpolated" in err and "reading 13/13" in err
    assert "13 rows for 13 frames at 10 fps; face 0 read in 11 of 13 frames (gaps: 8-9" in out
    # frame 0, the region then the whole frame in each wall frame, the region at its return: the rest tracked
    assert "6 detector scans)" in out
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert lines[0] == "frame," + ",".join(CHANNEL_NAMES) and len(lines) == 14
    timeline = load_values(tmp_path / "v.csv")
    v = {name: timeline.values[:, i] for i, name in enumerate(timeline.channels)}
    np.testing.assert_array_equal(timeline.frames, np.arange(13))
    assert np.abs(timeline.values).max() <= VALUE_LIMIT
    assert (v["joy"] > 0.9).all()  # the photo smiles throughout, gap included (interpolated)
    assert max(np.abs(v[n]).max() for n in ("sadness", "anger", "fear", "surprise", "disgust")) < 0.05
    assert (v["head_turn"][list(RIGHT)] > 0.2).all() and (v["head_turn"][list(BACK)[1:]] > 0.2).all()
    assert (v["head_turn"][list(LEFT)[1:]] < -0.15).all()  # the mirror turns the other way (smoothing: one frame late)
    assert np.abs(v["eye_close"]).max() < 0.3 and (0.15 < v["mouth_open"]).all() and (v["mouth_open"] < 0.5).all()
    assert np.abs(np.diff(v["eye_close"])).max() < 0.05  # steady where nothing changes


def test_captured_values_render_with_render_values(clip, rig, tmp_path, capsys):  # noqa: F811
    _, model, directions = rig
    assert run(capsys, "capture", clip, "--out", tmp_path / "v.csv", "--keyframes-tolerance", "0.05")[0] == 0
    keys = load_values(tmp_path / "v.csv")
    assert keys.first == 0 and keys.last == 12 and len(keys.frames) < 13
    code, out, err = run(capsys, "render", "--model", model, "--directions", directions, "--values", tmp_path / "v.csv",
                         "--cache", tmp_path / "cache", "--device", "cpu", "--fps", FPS, "--out", tmp_path / "face.mp4")
    assert code == 0, err
    assert video_info(tmp_path / "face.mp4").n_frames == 13


def test_capture_of_a_second_face_that_never_appears_and_of_a_photo_are_errors(clip, tmp_path, capsys):
    code, _, err = run(capsys, "capture", clip, "--out", tmp_path / "v.csv", "--face", "1")
    assert code == 2 and "no frame has 2 faces (at most 1)" in err and not (tmp_path / "v.csv").exists()
    cv2.imwrite(str(tmp_path / "still.png"), astronaut()["astronaut_rgb512"])
    code, _, err = run(capsys, "capture", tmp_path / "still.png", "--out", tmp_path / "v.csv")
    assert code == 2 and "a still image; capture takes a video" in err


def test_a_rest_frame_reads_0_and_must_show_the_face(clip, tmp_path, capsys):
    code, _, err = run(capsys, "capture", clip, "--out", tmp_path / "v.csv", "--rest-frame", "2", "--min-cutoff", "0")
    assert code == 0, err
    timeline = load_values(tmp_path / "v.csv")
    for name in ("eye_close", "mouth_open", "head_turn"):
        assert timeline.values[2, timeline.channels.index(name)] == 0
    assert timeline.values[2, timeline.channels.index("joy")] > 0.9
    code, _, err = run(capsys, "capture", clip, "--out", tmp_path / "w.csv", "--rest-frame", "8")
    assert code == 2 and "face 0 is missing in the rest frame 8" in err and not (tmp_path / "w.csv").exists()
    code, _, err = run(capsys, "capture", clip, "--out", tmp_path / "w.csv", "--rest-frame", "13")
    assert code == 2 and "the rest frame 13 is not one of the video's frames (0-12)" in err


def test_capture_holds_gaps_when_asked_and_takes_png_folders_with_fps(clip, tmp_path, capsys):
    from backend.rendering.video import write_png_sequence

    write_png_sequence(list(read_frames(clip)), tmp_path / "frames")
    code, _, err = run(capsys, "capture", tmp_path / "frames", "--out", tmp_path / "v.csv")
    assert code == 2 and "pass --fps" in err
    code, _, err = run(capsys, "capture", tmp_path / "frames", "--out", tmp_path / "v.csv", "--fps", FPS,
                       "--gaps", "hold", "--min-cutoff", "0", "--detect-every", "1")
    assert code == 0 and "holding the last values" in err
    v = load_values(tmp_path / "v.csv").values
    np.testing.assert_array_equal(v[8], v[7])
    np.testing.assert_array_equal(v[9], v[7])


def test_a_variable_rate_video_is_resampled_to_a_constant_rate(clip, tmp_path):
    import imageio_ffmpeg

    from backend.readers.images import open_media
    from backend.rendering.video import write_png_sequence

    # frame k is grey level 20 k; shown 0.04 s each for the first five, then 0.2 s each
    write_png_sequence([np.full((64, 64, 3), 20 * k, np.uint8) for k in range(10)], tmp_path / "src")
    times = "setpts='if(lt(N,5),N*0.04,0.2+(N-5)*0.2)/TB'"
    source = str(tmp_path / "src" / "frame_%05d.png")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", source, "-vf", times,
                    "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "0", "-pix_fmt", "yuv444p",
                    str(tmp_path / "vfr.mkv")], check=True)
    media = open_media(tmp_path / "vfr.mkv", constant_rate=True, fps=25)
    shown = [round(f.mean() / 20) for f in media.frames]
    assert shown == [0, 1, 2, 3, 4] + [5] * 5 + [6] * 5 + [7] * 5 + [8] * 5 + [9]  # frame i: what plays at i / 25 s
    plain = list(read_frames(clip))  # a constant-rate video at its own rate: the same frames
    resampled = list(open_media(clip, constant_rate=True).frames)
    assert len(resampled) == len(plain) and all((a == b).all() for a, b in zip(plain, resampled, strict=True))


def test_sigterm_stops_a_capture_and_leaves_no_csv(tmp_path):
    write_video([astronaut()["astronaut_rgb512"]] * 60, tmp_path / "long.mp4", 25)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = subprocess.Popen([sys.executable, "-m", "backend", "capture", str(tmp_path / "long.mp4"), "--out",
                          str(out_dir / "v.csv")], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = b""
        while b"reading 1/60" not in seen:  # reading frames: progress is on stderr
            byte = p.stderr.read(1)
            assert byte, (seen, p.communicate())
            seen += byte
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 128 + signal.SIGTERM and b"terminated" in err
    assert list(out_dir.iterdir()) == []


def test_capture_csv_rows_are_every_frame_or_the_keyframes():
    from backend.readers.capture import CaptureResult

    t = np.arange(20)
    values = np.zeros((20, len(CHANNEL_NAMES)))
    values[:, 0] = np.interp(t, [0, 10, 19], [0, 1, 0])
    result = CaptureResult(25.0, values, values, np.ones(20, bool), np.ones(20, int), (), "interpolate")
    assert capture_csv(result)[1] == 20
    text, rows = capture_csv(result, tolerance=0.001)
    assert rows == 3 and text.splitlines()[2].startswith("10,1.0000,0.0000")


# --- ACD with the face identity embedding ------------------------------------------------------------

def test_acd_with_the_face_embedder_skips_frames_without_a_face(clip, capsys):
    code, out, err = run(capsys, "acd", clip, "--embedder", "face", "--variant", "consecutive")
    assert code == 0, err
    assert "(2 frames without a face skipped)" in out and "face-api identity of the largest face" in out
    value = float(out.strip().rsplit(" ", 1)[1])
    frames = np.stack(list(read_frames(clip)))
    e = readers().identities(frames)
    assert np.isnan(e[list(NO_FACE)]).all() and np.isfinite(np.delete(e, list(NO_FACE), axis=0)).all()
    assert value == pytest.approx(content_distance(np.delete(e, list(NO_FACE), axis=0), "consecutive"), abs=1e-6)
    assert 0 < value < 0.5  # one person throughout: the descriptors stay close
    pixel = float(run(capsys, "acd", clip, "--variant", "consecutive")[1].strip().rsplit(" ", 1)[1])
    print(f"ACD consecutive on the test video: face {value:.4f}, pixel {pixel:.4f}")


def test_the_face_embedder_passes_over_detections_the_readers_refuse(monkeypatch):
    """ACD's identities take the largest face ``read`` would read: a detection whose landmarks
    ``refusal`` turns down is passed over for the next, and a frame with none is a NaN row."""
    import backend.readers.reading as reading

    photo = astronaut()["astronaut_rgb512"]
    blurred = cv2.resize(cv2.resize(photo, None, fx=0.5, fy=0.5), (512, 512))  # the same face, softer
    two = np.ascontiguousarray(np.concatenate([photo, blurred], axis=1))
    accepted = readers().identities(two[None])
    real = reading.refusal
    monkeypatch.setattr(reading, "refusal", lambda face, landmarks=None: (
        "disagree (test)" if landmarks is not None and face.box == largest[0].box else real(face, landmarks)))
    largest = readers().detect(two)
    assert len(largest) >= 2
    passed_over = readers().identities(two[None])
    assert np.isfinite(accepted).all() and np.isfinite(passed_over).all()
    assert float(accepted[0] @ passed_over[0]) < 1 - 1e-6  # another face's crop
    monkeypatch.setattr(reading, "refusal", lambda face, landmarks=None: "disagree (test)" if landmarks is not None else None)
    assert np.isnan(readers().identities(two[None])).all()


def test_acd_face_embedder_needs_two_frames_with_a_face_and_is_not_the_probe(tmp_path, capsys):
    wall = np.full((512, 512, 3), 90, np.uint8)
    write_video([astronaut()["astronaut_rgb512"], wall, wall], tmp_path / "one.mp4", 10)
    code, _, err = run(capsys, "acd", tmp_path / "one.mp4", "--embedder", "face")
    assert code == 2 and "only 1 of its 3 frames could be embedded" in err
    code, _, err = run(capsys, "acd", tmp_path / "one.mp4", "--embedder", "face", "--probe", tmp_path / "p")
    assert code == 2 and "pass one" in err
