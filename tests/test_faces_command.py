"""``python -m backend faces``: photos and videos in, readings out; every odd file a clear answer.

The files are made here: Pillow writes CMYK JPEGs and EXIF orientation tags, OpenCV 16-bit PNGs,
ffmpeg (backend.rendering.video) the videos."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

import backend.files
from backend.cli import main
from backend.readers.images import MediaError, load_image, open_media
from backend.rendering.video import write_video

from .test_face_readers import astronaut, astronaut_reading

pytestmark = pytest.mark.usefixtures("one_thread")


def photo() -> np.ndarray:
    return astronaut()["astronaut_rgb512"]


def faces_cmd(capsys, *args) -> tuple[int, str, str]:
    code = main(["faces", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


# --- image files of every kind -----------------------------------------------------------------

def test_cmyk_jpeg_reads_as_the_rgb_photo(tmp_path):
    Image.fromarray(photo()).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    rgb = load_image(tmp_path / "cmyk.jpg")
    assert rgb.dtype == np.uint8 and rgb.shape == (512, 512, 3)
    assert np.abs(rgb.astype(int) - photo()).mean() < 4


@pytest.mark.parametrize("orientation, stored", [(6, lambda a: np.rot90(a, 1)), (8, lambda a: np.rot90(a, -1)),
                                                 (3, lambda a: a[::-1, ::-1])])
def test_exif_orientation_stands_the_photo_up(tmp_path, orientation, stored):
    upright = np.ascontiguousarray(photo()[:, :400])  # not square, so a wrong turn shows in the shape
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(stored(upright))).save(tmp_path / "phone.jpg", quality=95, exif=exif)
    rgb = load_image(tmp_path / "phone.jpg")
    assert rgb.shape == upright.shape
    assert np.abs(rgb.astype(int) - upright).mean() < 3


def test_16_bit_png_grey_and_colour_scale_to_8_bits(tmp_path):
    grey16 = (photo()[:, :, 1].astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "grey16.png"), grey16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), photo()[:, :, ::-1].astype(np.uint16) * 257)
    grey = load_image(tmp_path / "grey16.png")
    assert grey.shape == (512, 512, 3) and (grey == photo()[:, :, 1:2]).all()
    assert np.abs(load_image(tmp_path / "rgb16.png").astype(int) - photo()).max() <= 1


def test_grey_palette_and_transparent_images_become_rgb(tmp_path):
    Image.fromarray(photo()[:, :, 0]).save(tmp_path / "grey.png")
    assert (load_image(tmp_path / "grey.png") == photo()[:, :, :1]).all()
    Image.fromarray(photo()).quantize(64).save(tmp_path / "palette.png")
    assert np.abs(load_image(tmp_path / "palette.png").astype(int) - photo()).mean() < 12
    rgba = np.dstack([photo(), np.zeros((512, 512), np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    assert (load_image(tmp_path / "clear.png") == 255).all()  # fully transparent shows as white


@pytest.mark.parametrize("name", ["cut.jpg", "cut.png"])
def test_truncated_images_are_an_error_naming_the_file(tmp_path, name):
    Image.fromarray(photo()).save(tmp_path / name)
    data = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match=rf"{name}: a damaged or truncated image"):
        load_image(tmp_path / name)


def test_garbage_and_truncated_videos_are_errors(tmp_path):
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError, match=r"noise.jpg: not a readable .jpg image"):
        open_media(tmp_path / "noise.jpg")
    (tmp_path / "noise.bin").write_bytes((tmp_path / "noise.jpg").read_bytes())
    with pytest.raises(MediaError, match="noise.bin: neither an image nor a video that ffmpeg can read"):
        open_media(tmp_path / "noise.bin")
    write_video([photo()] * 3, tmp_path / "clip.mp4", 10)
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError, match="cut.mp4: neither an image nor a video that ffmpeg can read"):
        open_media(tmp_path / "cut.mp4")
    with pytest.raises(MediaError, match="no such file"):
        open_media(tmp_path / "missing.png")


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    Image.fromarray(photo()).save(tmp_path / "big.png")
    monkeypatch.setattr(backend.files, "MAX_PIXELS", 512 * 511)  # the one limit, in backend.files
    with pytest.raises(MediaError, match="512x512 is too large an image"):
        load_image(tmp_path / "big.png")


# --- the command ---------------------------------------------------------------------------------

def test_faces_command_reads_a_photo_to_json_and_aligned_crops(tmp_path, capsys):
    Image.fromarray(photo()).save(tmp_path / "a.png")
    code, out, _ = faces_cmd(capsys, tmp_path / "a.png", "--json", tmp_path / "r.json", "--crops", tmp_path / "crops",
                             "--crop-size", 64)
    assert code == 0 and out.startswith("face 0: box") and "expression happy" in out and "joy=1.00" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["video"] is False and len(report["frames"]) == 1
    (face,) = report["frames"][0]["faces"]
    assert len(face["landmarks68"]) == 68 and len(face["points5"]) == 5 and "identity" not in face
    assert max(face["expression"], key=face["expression"].get) == "happy"
    assert max(face["fer_expression"], key=face["fer_expression"].get) == "happy"
    assert face["channels"]["joy"] > 0.9 and abs(face["channels"]["head_turn"]) < 0.1
    crop = cv2.imread(str(tmp_path / "crops" / "face0.png"))
    assert crop.shape == (64, 64, 3)
    assert faces_cmd(capsys, tmp_path / "a.png", "--json", tmp_path / "i.json", "--identity")[0] == 0
    identity = json.loads((tmp_path / "i.json").read_text())["frames"][0]["faces"][0]["identity"]
    assert len(identity) == 128 and np.linalg.norm(identity) == pytest.approx(1, abs=1e-4)


def test_faces_command_on_a_photo_turned_by_exif_finds_the_upright_face(tmp_path, capsys):
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(photo(), 1))).save(tmp_path / "phone.jpg", quality=95, exif=exif)
    code, _, _ = faces_cmd(capsys, tmp_path / "phone.jpg", "--json", tmp_path / "r.json")
    (face,) = json.loads((tmp_path / "r.json").read_text())["frames"][0]["faces"]
    eyes_y = np.mean([p[1] for p in face["points5"][:2]])
    mouth_y = np.mean([p[1] for p in face["points5"][3:]])
    assert code == 0 and eyes_y < mouth_y  # upright: eyes above the mouth


def test_no_face_tiny_and_huge_images(tmp_path, capsys):
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(tmp_path / "wall.png")
    assert faces_cmd(capsys, tmp_path / "wall.png") == (0, f"{tmp_path / 'wall.png'}: no face found\n", "")
    Image.fromarray(photo()[100:110, 200:210]).save(tmp_path / "tiny.png")
    code, out, _ = faces_cmd(capsys, tmp_path / "tiny.png")
    assert code == 0 and "no face found (the image is 10x10; the detector finds faces of 20 px and more)" in out
    # a face the detector finds but too small to read (22 px): not read, and the message says why
    Image.fromarray(cv2.resize(photo(), (112, 112), interpolation=cv2.INTER_AREA)).save(tmp_path / "small.png")
    code, out, _ = faces_cmd(capsys, tmp_path / "small.png")
    assert code == 0 and "no face found (1 detection(s) not read: 22 px, under the 24 px the readers need)" in out
    # a 3400x2000 poster with the photo 3x up: detected on a downsized copy, read on the full image
    poster = np.full((2000, 3400, 3), 200, np.uint8)
    poster[100:1636, 900:2436] = cv2.resize(photo(), (1536, 1536), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(poster).save(tmp_path / "poster.png")
    code, _, _ = faces_cmd(capsys, tmp_path / "poster.png", "--json", tmp_path / "p.json")
    faces = json.loads((tmp_path / "p.json").read_text())["frames"][0]["faces"]
    assert code == 0 and len(faces) == 1
    want = np.array(astronaut_reading()[0].box) * 3 + [900, 100, 900, 100]
    assert np.abs(np.array(faces[0]["box"]) - want).max() < 20
    assert faces[0]["channels"]["joy"] > 0.9


def test_faces_command_on_a_video_reads_every_frame_and_counts_those_without_a_face(tmp_path, capsys):
    frames = [photo(), np.full_like(photo(), 120), photo()[:, ::-1]]
    write_video(frames, tmp_path / "clip.mp4", 10)
    code, out, _ = faces_cmd(capsys, tmp_path / "clip.mp4", "--json", tmp_path / "r.json", "--crops", tmp_path / "c")
    assert code == 0 and "frame 0 face 0:" in out and "frame 2 face 0:" in out and "frame 1 face" not in out
    assert out.strip().endswith("no face in 1 of 3 frames")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["video"] and report["fps"] == pytest.approx(10)
    assert [len(f["faces"]) for f in report["frames"]] == [1, 0, 1]
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["frame00000_face0.png", "frame00002_face0.png"]


def test_faces_command_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    code, _, err = faces_cmd(capsys, tmp_path / "x.png")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "x.png" in err
