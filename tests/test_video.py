"""Video out and in: MP4 frame count, rate and size; lossless PNG sequences; clear errors."""

from __future__ import annotations

import imageio.v2 as imageio
import numpy as np
import pytest

from backend.rendering.video import (
    decode_png,
    encode_png,
    is_complete_png,
    read_frames,
    video_info,
    write_png_sequence,
    write_video,
)


def smooth_frames(n: int, height: int = 32, width: int = 48) -> list[np.ndarray]:
    """Moving gradients: content x264 codes well, so decoded frames stay close to these."""
    y, x = np.mgrid[0:height, 0:width]
    return [np.stack([(x * 4 + 8 * t) % 256, (y * 6) % 256, np.full_like(x, 30 * t % 256)], -1).astype(np.uint8)
            for t in range(n)]


def noise_frames(n: int, height: int = 16, width: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(n)]


def test_mp4_has_the_frame_count_fps_and_size_written(tmp_path):
    path = tmp_path / "out.mp4"
    assert write_video(smooth_frames(10), path, fps=12) == 10
    reader = imageio.get_reader(path, "ffmpeg")
    meta = reader.get_meta_data()
    frames = list(reader.iter_data())
    reader.close()
    assert meta["fps"] == 12 and meta["size"] == (48, 32)
    assert len(frames) == 10 and frames[0].shape == (32, 48, 3)
    assert video_info(path) == (10, 12.0, 48, 32)


def test_mp4_frames_read_back_close_to_the_written_ones(tmp_path):
    written = smooth_frames(6)
    write_video(written, tmp_path / "out.mp4", fps=24)
    read = list(read_frames(tmp_path / "out.mp4"))
    assert len(read) == 6
    for a, b in zip(read, written, strict=True):
        assert a.dtype == np.uint8 and np.abs(a.astype(int) - b).mean() < 4


@pytest.mark.parametrize("suffix, tolerance", [(".mov", 4), (".mkv", 4), (".avi", 6), (".webm", 8), (".gif", 40)])
def test_other_containers_hold_the_frames_written(tmp_path, suffix, tolerance):
    written = smooth_frames(5)
    path = tmp_path / f"out{suffix}"
    assert write_video(written, path, fps=10) == 5
    read = list(read_frames(path))
    assert len(read) == 5 and read[0].shape == (32, 48, 3)
    assert np.abs(read[3].astype(int) - written[3]).mean() < tolerance  # GIF: a 256-colour palette
    assert video_info(path)[2:] == (48, 32)


def test_unsupported_video_suffix_is_refused_with_the_supported_list(tmp_path):
    with pytest.raises(ValueError, match=r"cannot write \.flv videos; use \.mp4, \.mov"):
        write_video(smooth_frames(2), tmp_path / "out.flv", fps=10)
    assert list(tmp_path.iterdir()) == []


def test_odd_size_is_padded_to_even_or_refused(tmp_path):
    odd = noise_frames(3, height=15, width=17)
    write_video(odd, tmp_path / "padded.mp4", fps=10)
    assert video_info(tmp_path / "padded.mp4") == (3, 10.0, 18, 16)
    with pytest.raises(ValueError, match="even"):
        write_video(odd, tmp_path / "refused.mp4", fps=10, pad_odd=False)
    assert not (tmp_path / "refused.mp4").exists()


def test_fractional_fps_is_kept_to_two_decimals(tmp_path):
    write_video(smooth_frames(4), tmp_path / "ntsc.mp4", fps=29.97)
    assert video_info(tmp_path / "ntsc.mp4").fps == pytest.approx(29.97, abs=1e-6)


def test_write_video_reports_progress(tmp_path):
    seen: list[tuple[str, int, int]] = []
    write_video(iter(smooth_frames(3)), tmp_path / "p.mp4", fps=5, progress=lambda *a: seen.append(a))
    assert seen == [("encoding", 1, 0), ("encoding", 2, 0), ("encoding", 3, 0)]


def test_empty_and_mismatched_frames_are_clear_errors_and_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "empty.mp4", fps=10)
    frames = smooth_frames(2) + smooth_frames(1, height=16)
    with pytest.raises(ValueError, match="frame 2 is 48x16, frame 0 was 48x32"):
        write_video(frames, tmp_path / "mixed.mp4", fps=10)
    with pytest.raises(ValueError, match="uint8"):
        write_video([np.zeros((8, 8, 3), np.float32)], tmp_path / "float.mp4", fps=10)
    with pytest.raises(ValueError, match="fps"):
        write_video(smooth_frames(1), tmp_path / "still.mp4", fps=0)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no frames"):
        write_png_sequence([], tmp_path / "seq")


def test_missing_and_unreadable_sources_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such video"):
        read_frames(tmp_path / "nope.mp4")
    with pytest.raises(FileNotFoundError, match="no such video"):
        video_info(tmp_path / "nope.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match="junk.mp4"):
        read_frames(tmp_path / "junk.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no PNG frames"):
        video_info(tmp_path / "empty")


def test_png_sequence_round_trip_is_lossless(tmp_path):
    frames = noise_frames(12, height=9, width=13)
    paths = write_png_sequence(frames, tmp_path / "seq")
    assert [p.name for p in paths[:2]] == ["frame_00000.png", "frame_00001.png"]
    read = list(read_frames(tmp_path / "seq"))
    assert len(read) == 12
    for a, b in zip(read, frames, strict=True):
        np.testing.assert_array_equal(a, b)
    assert video_info(tmp_path / "seq") == (12, None, 13, 9)


def test_png_folder_is_read_in_natural_order(tmp_path):
    frames = noise_frames(11)
    write_png_sequence(frames, tmp_path, pattern="f{}.png")  # f10.png sorts before f2.png by name
    for a, b in zip(read_frames(tmp_path), frames, strict=True):
        np.testing.assert_array_equal(a, b)


def test_png_codec_is_lossless_and_spots_truncation(tmp_path):
    frame = noise_frames(1, height=7, width=5)[0]
    data = encode_png(frame)
    np.testing.assert_array_equal(decode_png(data), frame)
    assert decode_png(data[:-1]) is None and decode_png(data[: len(data) // 2]) is None
    assert decode_png(b"") is None
    (tmp_path / "ok.png").write_bytes(data)
    (tmp_path / "cut.png").write_bytes(data[:-20])
    assert is_complete_png(tmp_path / "ok.png") and not is_complete_png(tmp_path / "cut.png")
    assert not is_complete_png(tmp_path / "absent.png")
