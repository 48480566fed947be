"""Hostile input, full disks and resource bombs (issue 29): every input is generated here, never committed.

Each class of attack has its tests: a failing write must fail and keep the old file; a few bytes must
not allocate gigabytes; oversized images and videos are refused from their headers; an output that is
an input is refused; only a frame cache's own files are pruned; bad numbers and malformed files are
one line, never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import resource
import subprocess
import sys
import textwrap
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.files import FileError, check_output, load_array, read_bytes, read_json, write_atomic
from backend.model.checkpoints import CheckpointError, load_generator, save_generator
from backend.rendering.video import VIDEO_FORMATS, read_frames, write_video

from .conftest import ROOT, backend_cli

FSIZE_LIMIT = 40 * 1024  # bytes: `ulimit -f 40`, a disk that fills at 40 KiB


def _noise(n: int, size: int = 128, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def _python(code: str, *, fsize: int | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (the project importable), under a file-size limit if given."""
    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          preexec_fn=limit, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


# --- a full disk: the old file survives, the failure is reported ---------------------------------------

@pytest.mark.parametrize("suffix", sorted(VIDEO_FORMATS))
def test_video_write_on_a_full_disk_fails_and_keeps_the_old_video(tmp_path, suffix):
    path = tmp_path / f"clip{suffix}"
    write_video(_noise(2, 32), path, fps=10)
    good = path.read_bytes()
    assert len(good) < FSIZE_LIMIT
    r = _python(f"""
        import numpy as np
        from backend.rendering.video import write_video
        frames = [np.random.default_rng(i).integers(0, 256, (128, 128, 3), dtype=np.uint8) for i in range(40)]
        try:
            write_video(frames, {str(path)!r}, fps=10)
        except OSError as e:
            print(e)
            raise SystemExit(3)
        """, fsize=FSIZE_LIMIT)
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"{path}: ffmpeg could not write the video" in r.stdout
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_ffmpeg_failing_after_every_frame_went_in_is_an_error_not_a_video(tmp_path, monkeypatch):
    """The exit status decides, not the pipe: ffmpeg that takes every frame and then fails (here: it
    cannot open its output, a folder in the temp file's place) must fail the write."""
    import backend.rendering.video as video

    path = tmp_path / "clip.mp4"
    path.write_bytes(b"old")
    real = video._Ffmpeg.__init__

    def into_a_folder(self, path_, tmp, *args):
        tmp.unlink()
        tmp.mkdir()
        real(self, path_, tmp, *args)

    monkeypatch.setattr(video._Ffmpeg, "__init__", into_a_folder)
    with pytest.raises((OSError, FileError), match="clip.mp4"):
        write_video(_noise(3, 32), path, fps=10)
    assert path.read_bytes() == b"old"


def test_png_sequence_on_a_full_disk_leaves_no_truncated_frame(tmp_path):
    out = tmp_path / "frames"
    r = _python(f"""
        import numpy as np
        from backend.rendering.video import write_png_sequence
        frames = [np.random.default_rng(i).integers(0, 256, (40 + 40 * i, 128, 3), dtype=np.uint8) for i in range(6)]
        try:
            write_png_sequence(frames, {str(out)!r})
        except OSError as e:
            print(e)
            raise SystemExit(3)
        """, fsize=FSIZE_LIMIT)
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"{out}/frame_0000" in r.stdout and "could not write it (File too large)" in r.stdout  # names the frame
    names = sorted(p.name for p in out.iterdir())
    assert names and all(n.startswith("frame_") for n in names)  # no temporaries
    for p in out.iterdir():  # every frame there is whole
        assert read_frames(out) is not None and p.read_bytes().endswith(b"IEND\xaeB`\x82")
    assert len(names) < 6


def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path):
    path = write_atomic(tmp_path / "report.json", "{}")
    r = _python(f"""
        from backend.files import write_atomic
        try:
            write_atomic({str(path)!r}, "x" * {2 * FSIZE_LIMIT})
        except OSError as e:
            print(type(e).__name__, e.errno)
            raise SystemExit(3)
        """, fsize=FSIZE_LIMIT)
    assert r.returncode == 3 and r.stdout.split() == ["WriteError", "27"], r.stdout + r.stderr  # EFBIG, file named
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.slow
def test_render_on_a_full_disk_exits_non_zero_and_keeps_the_old_video(tiny_G, tmp_path):
    from backend.animation.directions import save_directions
    from lab.rigs import random_directions

    model = save_generator(tiny_G, tmp_path / "g.safetensors")
    directions = save_directions(random_directions(tiny_G), tmp_path / "directions.json")
    (tmp_path / "s.txt").write_text("# Video 1:\njoy\nanger\nsurprise\n")
    out = tmp_path / "x.mp4"
    args = [sys.executable, "-m", "backend", "render", "--model", str(model), "--directions", str(directions),
            "--script", str(tmp_path / "s.txt"), "--cache", str(tmp_path / "cache"), "--out", str(out)]
    first = backend_cli(*args[3:], "--frames-between", "0")  # the old video: made in this process
    assert first.returncode == 0, first.stderr
    good = out.read_bytes()
    r = subprocess.run(args + ["--frames-between", "60", "--size", "256"], cwd=ROOT, capture_output=True,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, resource.RLIM_INFINITY)))
    err = r.stderr.decode()
    assert r.returncode == 2, err
    # one line, on a line of its own (the progress line is ended first)
    assert err.split("\n")[-2] == f"error: {out}: ffmpeg could not write the video (File size limit exceeded)"
    assert "Traceback" not in err and err.endswith("\n") and "error:" not in err.split("\n")[-3]
    assert out.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cache", "directions.json", "g.safetensors",
                                                                 "s.txt", "x.mp4"])


# --- checkpoint bombs: a few hundred bytes never allocate gigabytes -------------------------------------

def _nvidia_pickle(path: Path, mapping_layers: int) -> Path:
    """A network pickle as NVIDIA's persistence writes one, holding only a Generator's recorded
    arguments (no weights): the shape of the 493-byte bomb of the issue."""
    module = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # never called: only its name goes into the pickle
        raise AssertionError

    _reconstruct_persistent_obj.__module__ = module.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    saved = {k: sys.modules.get(k) for k in ("torch_utils", "torch_utils.persistence")}
    sys.modules["torch_utils"], sys.modules["torch_utils.persistence"] = types.ModuleType("torch_utils"), module
    meta = {"type": "class", "version": 6, "module_src": "", "class_name": "Generator",
            "state": {"_init_args": (), "_modules": {}, "_init_kwargs": {
                "z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 1024, "img_channels": 3,
                "mapping_kwargs": {"num_layers": mapping_layers}}}}

    class Network:
        def __reduce__(self):
            return _reconstruct_persistent_obj, (meta,)

    try:
        path.write_bytes(pickle.dumps({"G_ema": Network()}, protocol=2))
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return path


def _safetensors_bomb(path: Path, **config) -> Path:
    from safetensors.torch import save_file

    save_file({"mapping.w_avg": torch.zeros(4)}, str(path), metadata={
        "format": "latent-emotion.generator", "format_version": "1", "config": json.dumps(config)})
    return path


def _rosinality_bomb(path: Path) -> Path:
    one = torch.zeros(1)
    torch.save({"g_ema": {"style.1.weight": torch.zeros(8, 8), "style.1000000.weight": one,
                          "convs.1000000000.conv.weight": one, "to_rgb1.conv.weight": torch.zeros(1, 3, 8, 1, 1),
                          "conv1.conv.weight": torch.zeros(1, 8, 8, 3, 3)}}, path)
    return path


BOMBS = {
    "safetensors, 4000 mapping layers": lambda d: _safetensors_bomb(d / "g.safetensors", img_resolution=64,
                                                                      mapping_layers=4000),
    "safetensors, the largest config allowed": lambda d: _safetensors_bomb(
        d / "g.safetensors", img_resolution=4096, z_dim=4096, w_dim=4096, mapping_layers=32, channel_base=2**20,
        channel_max=4096),
    "nvidia pickle, 3000 mapping layers": lambda d: _nvidia_pickle(d / "g.pkl", 3000),
    "nvidia pickle, 1e6 mapping layers": lambda d: _nvidia_pickle(d / "g.pkl", 10**6),
    "nvidia pickle, config-F without weights": lambda d: _nvidia_pickle(d / "g.pkl", 8),
    "rosinality, a billion convolutions": lambda d: _rosinality_bomb(d / "g.pt"),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_checkpoint_bomb_is_refused_in_two_seconds_and_300_mb(tmp_path, bomb):
    path = BOMBS[bomb](tmp_path)
    r = _python(f"""
        import time
        from backend.model.checkpoints import CheckpointError, load_generator
        start = time.perf_counter()
        try:
            load_generator({str(path)!r})
        except CheckpointError as e:
            print("refused:", e)
        # VmHWM: this program's own peak (ru_maxrss would count the forking pytest process's size)
        peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
        print(time.perf_counter() - start, peak)
        """, timeout=60)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[0].startswith(f"refused: {path}: "), r.stdout + r.stderr
    seconds, max_rss_kib = lines[-1].split()
    assert float(seconds) <= 2.0 and int(max_rss_kib) <= 300 * 1024, lines


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_info_on_a_checkpoint_bomb_is_one_line(tmp_path, bomb):
    """In this process (``backend_cli``): the test above loads each bomb in a fresh interpreter, where
    its time and memory can be measured; here the command's exit code and message."""
    import time

    path = BOMBS[bomb](tmp_path)
    start = time.perf_counter()
    r = backend_cli("info", path)
    assert r.returncode == 2 and r.stderr.startswith(f"error: {path}: ") and r.stderr.count("\n") == 1, r.stderr
    assert time.perf_counter() - start < 60  # the subprocess it replaced had this timeout


def test_face_reader_weights_that_are_nan_or_integers_are_refused(tmp_path):
    from backend.readers.nets.weights import load_reader_weights, write_reader_weights

    for name, tensors in (("nan", {"w": torch.tensor([1.0, float("nan")])}),
                          ("int", {"w": torch.tensor([1, 2], dtype=torch.int64)}),
                          ("quantised-inf", {"w@q": torch.tensor([1], dtype=torch.uint8),
                                             "w@scale": torch.tensor(float("inf"), dtype=torch.float64),
                                             "w@min": torch.tensor(0.0, dtype=torch.float64)})):
        path = write_reader_weights(tmp_path / f"{name}.safetensors", "fer_emotion", tensors, {})
        with pytest.raises(CheckpointError, match=f"{name}.safetensors: w.* (NaN or infinite|holds torch.int64)"):
            load_reader_weights("fer_emotion", path)


# --- pixel bombs: refused from the header, before decoding ---------------------------------------------

def _png_declaring(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header declares ``width`` x ``height`` (its data is a few rows)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    rows = zlib.compress(b"\0" * (1 + 3 * width) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_png_frame_folder_with_a_30000_square_frame_is_refused_before_decoding(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_00000.png").write_bytes(_png_declaring(30000, 30000))
    r = _python(f"""
        from backend.readers.images import MediaError, open_media
        try:
            list(open_media({str(folder)!r}).frames)
        except MediaError as e:
            print(e)
        print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
        """)
    lines = r.stdout.splitlines()
    assert "frame_00000.png: 30000x30000 is too large an image (more than 200 megapixels)" in lines[0], r.stderr
    assert int(lines[-1]) < 400 * 1024  # KiB: the 2.7 GB frame was never allocated


def test_photo_for_invert_over_the_pixel_limit_or_empty_is_one_line(tmp_path):
    from backend.photos.face_code import read_photo
    from backend.readers.images import MediaError

    (tmp_path / "bomb.png").write_bytes(_png_declaring(30000, 30000))
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(MediaError, match="bomb.png: 30000x30000 is too large an image"):
        read_photo(tmp_path / "bomb.png")
    with pytest.raises(MediaError, match="empty.jpg: the file is empty"):
        read_photo(tmp_path / "empty.jpg")


def test_video_frames_over_the_pixel_limit_are_refused_from_the_stream_header(tmp_path, monkeypatch):
    import backend.files
    from backend.readers.images import MediaError, open_media

    write_video(_noise(2, 128), tmp_path / "big.mkv", fps=10)
    monkeypatch.setattr(backend.files, "MAX_PIXELS", 64 * 64)  # a 128x128 frame stands for a 16000x16000 one
    with pytest.raises(ValueError, match="big.mkv: 128x128 is too large a video frame"):
        read_frames(tmp_path / "big.mkv")
    with pytest.raises(MediaError, match="big.mkv"):
        open_media(tmp_path / "big.mkv")


def test_a_fifo_or_a_device_is_refused_not_waited_on(tmp_path):
    from backend.readers.images import MediaError, open_media

    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with pytest.raises(MediaError, match="fifo.png: not a regular file"):
        open_media(fifo)
    with pytest.raises(FileError, match="/dev/zero: not a regular file"):
        read_bytes("/dev/zero")
    with pytest.raises(FileError, match="fifo.png: not a regular file"):
        read_json(fifo)


# --- output == input, unwritable outputs: refused before the work ---------------------------------------

def _cli(*args) -> tuple[int, str]:
    """``python -m backend`` in this process: (exit code, stderr)."""
    r = backend_cli(*args)
    return r.returncode, r.stderr


def test_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path):
    photo = tmp_path / "p.png"
    photo.write_bytes(_png_declaring(4, 4))
    video = tmp_path / "v.mp4"
    write_video(_noise(2, 32), video, fps=10)
    kept = {p: p.read_bytes() for p in (photo, video)}
    for args in (("faces", photo, "--json", photo), ("invert", photo, "--out", photo),
                 ("capture", video, "--out", video), ("convert", photo, photo)):
        code, err = _cli(*args)
        assert code == 2 and "is also the input" in err and err.count("\n") == 1, (args, err)
    assert {p: p.read_bytes() for p in kept} == kept


def test_crops_into_the_photos_folder_never_overwrite_the_photo(tmp_path):
    photo = tmp_path / "face0.png"
    photo.write_bytes(b"the photo")
    with pytest.raises(FileError, match="face0.png: is also the input"):
        write_atomic(tmp_path / "face0.png", b"a crop", keep=(photo,))
    assert photo.read_bytes() == b"the photo"


def test_an_unwritable_output_is_found_before_the_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that may write anywhere (root)")
        with pytest.raises(FileError, match="cannot write there"):
            check_output(locked / "out.npz")
    finally:
        locked.chmod(0o700)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FileError, match="cannot write there"):
        check_output(tmp_path / "a_file" / "out.csv")
    with pytest.raises(FileError, match="is a folder"):
        check_output(tmp_path)


# --- the frame cache prunes only its own files -----------------------------------------------------------

def test_cache_prune_on_a_folder_that_is_not_a_frame_cache_deletes_nothing(tmp_path):
    from backend.rendering.frame_cache import FrameCache

    (tmp_path / "db").mkdir()
    journal = tmp_path / "db" / ".journal.tmp"
    journal.write_text("precious")
    old = 0  # older than any stale-temp age
    os.utime(journal, (old, old))
    (tmp_path / "ab").mkdir()
    png = tmp_path / "ab" / ("cd" + "0" * 62 + ".png")  # a key's name in another key's folder
    png.write_bytes(_png_declaring(1, 1))
    assert FrameCache(tmp_path).prune(0) == 0
    assert journal.read_text() == "precious" and png.exists()


def test_cache_prune_still_removes_its_own_stale_temporaries_and_frames(tmp_path):
    from backend.rendering.frame_cache import FrameCache

    cache = FrameCache(tmp_path)
    key = "ab" + "1" * 62
    cache.put(key, np.zeros((4, 4, 3), np.uint8))
    stale = tmp_path / "ab" / f".{key}.png.x1y2.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    assert cache.prune(0) == 1
    assert list(tmp_path.glob("ab/*")) == [] and not stale.exists()


def test_cache_prune_with_an_infinite_size_is_one_line(tmp_path):
    for size in ("inf", "nan", "-1", "1e30"):
        code, err = _cli("cache", "prune", "--max-size", size, "--cache", tmp_path)
        assert code == 2 and err.startswith("usage: "), err  # refused by the argument parser


# --- numbers: NaN never written as JSON, absurd seed ranges refused ----------------------------------------

def test_json_outputs_hold_null_for_nan_never_the_token_nan():
    from backend.files import json_text

    text = json_text({"drift": float("nan"), "rows": [np.float32("inf"), 1.5], "n": np.int64(3)})
    assert json.loads(text) == {"drift": None, "rows": [None, 1.5], "n": 3} and "NaN" not in text


def test_a_hundred_billion_seeds_are_refused_at_once():
    import time

    start = time.perf_counter()
    for seeds in ("0-100000000000", "5-2", "-3", str(2**32)):
        code, err = _cli("sample", "--seeds", seeds)
        assert code == 2 and err.startswith("usage: "), err  # refused by the argument parser
    assert time.perf_counter() - start < 5


# --- malformed files: one line, never a traceback ---------------------------------------------------------

def test_deeply_nested_json_is_one_line_for_values_directions_and_info(tmp_path):
    from backend.animation.directions import DirectionsError, load_directions
    from backend.animation.timeline import load_values

    deep = tmp_path / "deep.json"
    deep.write_text('{"frames": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match="deep.json: JSON nested deeper than 32 levels"):
        load_values(deep)
    with pytest.raises(DirectionsError, match="deep.json: JSON nested deeper than 32 levels"):
        load_directions(deep)
    code, err = _cli("info", deep)
    assert code == 2 and err == f"error: {deep}: JSON nested deeper than 32 levels\n"
    shallow_but_wide = tmp_path / "wide.json"
    nested = 0
    for _ in range(8):
        nested = [nested]
    shallow_but_wide.write_text(json.dumps({"frames": [0, 1], "channels": {"joy": [nested, 0]}}))
    with pytest.raises(ValueError, match="wide.json"):
        load_values(shallow_but_wide)


def test_values_from_dev_zero_or_a_fifo_are_refused_not_read_forever(tmp_path):
    from backend.animation.timeline import load_values

    with pytest.raises(ValueError, match="/dev/zero: not a regular file"):
        load_values("/dev/zero")
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(65 * 2**20)  # sparse: no disk used
    with pytest.raises(ValueError, match="big.csv: 65 MiB is more than the 64 MiB"):
        load_values(big)


def test_values_with_only_a_frame_column_render_the_neutral_face(tiny_G):
    from backend.animation.timeline import Timeline, iter_latents
    from lab.rigs import random_directions

    w = tiny_G.w_from_seed(0).numpy()
    chunks = list(iter_latents(w, Timeline((), np.array([0, 3]), np.zeros((2, 0))), random_directions(tiny_G)))
    assert len(chunks) == 1 and chunks[0].shape == (4, 8, 32)
    assert np.array_equal(chunks[0], np.broadcast_to(w.reshape(8, 32), (4, 8, 32)))


def _npy_declaring(shape: tuple[int, ...]) -> bytes:
    """An .npy of ~200 bytes whose header declares ``shape`` float64."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\0" * 64


def test_npy_and_npz_headers_declaring_37_gb_are_refused_before_allocation(tmp_path):
    import zipfile

    from backend.photos.face_code import FaceCodeError, load_face_code

    npy = tmp_path / "w.npy"
    npy.write_bytes(_npy_declaring((18, 512, 500_000)))
    npz = tmp_path / "code.npz"
    with zipfile.ZipFile(npz, "w") as z:
        z.writestr("w_plus.npy", _npy_declaring((18, 512, 500_000)))
    for path in (npy, npz):
        with pytest.raises(FaceCodeError, match=f"{path.name}: an array of shape \\(18, 512, 500000\\).*35156 MiB"):
            load_face_code(path)
    small_lie = tmp_path / "lie.npy"
    small_lie.write_bytes(_npy_declaring((1000, 1000)))
    with pytest.raises(FileError, match="lie.npy: its header declares 8 MiB of data, but the file holds"):
        load_array(small_lie)
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FileError, match="obj.npy: an array of Python objects"):
        load_array(pickled)


def test_a_damaged_or_forged_work_chunk_is_made_again_not_fatal(tmp_path):
    from backend.learning.self_labelled import SampleKey, SampleStore

    store = SampleStore(tmp_path, SampleKey("f" * 64, "faces", 1.0, 0))
    store.save(0, np.zeros((64, 32), np.float32), np.zeros((64, 9), np.float32))
    assert store.load(0, 64) is not None
    store.path(1).write_bytes(b"PK\x03\x04 not a zip")
    import zipfile

    with zipfile.ZipFile(store.path(2), "w") as z:
        z.writestr("latents.npy", _npy_declaring((64, 10**9)))
        z.writestr("values.npy", _npy_declaring((64, 9)))
    assert store.load(1, 64) is None and store.load(2, 64) is None


def test_a_zero_byte_photo_is_one_line_in_invert(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    code, err = _cli("invert", tmp_path / "empty.jpg", "--out", tmp_path / "c.npz", "--model", tmp_path / "none")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err


def test_ffmpeg_errors_are_its_last_line_not_its_banner(tmp_path):
    from backend.metrics.acd import acd_result

    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(ValueError) as e:
        acd_result([str(tmp_path / "empty.mp4")])
    assert "empty.mp4" in str(e.value) and "ffmpeg version" not in str(e.value) and "\n" not in str(e.value)


# --- variable frame rate: frames by their timestamps ----------------------------------------------------

def _vfr_clip(folder: Path) -> Path:
    """Five flat grey frames shown for 0.04, 0.5, 0.3, 0.1 and 1.0 s (ffmpeg's concat list, VFR mkv)."""
    import cv2
    import imageio_ffmpeg

    lines = []
    for i, seconds in enumerate((0.04, 0.5, 0.3, 0.1, 1.0)):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((32, 32, 3), 20 + 40 * i, np.uint8))
        lines += [f"file 'f{i}.png'", f"duration {seconds}"]
    (folder / "list.txt").write_text("\n".join(lines + ["file 'f4.png'"]) + "\n")
    out = folder / "vfr.mkv"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "concat", "-i", str(folder / "list.txt"),
                    "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def test_variable_rate_video_reads_its_own_frames_once_and_resamples_by_timestamps(tmp_path):
    from backend.readers.images import open_media
    from backend.rendering.video import frame_times, video_info

    clip = _vfr_clip(tmp_path)
    grey = [int(f[0, 0, 0]) for f in read_frames(clip)]
    assert len(grey) == video_info(clip).n_frames == 6  # five frames and the concat list's closing repeat
    assert all(abs(a - b) <= 2 for a, b in zip(grey, [20, 60, 100, 140, 180, 180]))
    assert len(list(open_media(clip).frames)) == 6  # `faces` reads 6 frames, not 50
    times = frame_times(clip)
    assert times[0] == 0 and np.allclose(np.diff(times[:5]), [0.04, 0.52, 0.28, 0.12], atol=0.021)
    at10 = [int(f[0, 0, 0]) // 40 for f in read_frames(clip, fps=10)]
    # row i is the frame showing at i / 10 s after the first: row 0 is the first frame, not the one at 0.04 s
    assert at10[:10] == [0, 1, 1, 1, 1, 1, 2, 2, 2, 3] and len(at10) == 20


@pytest.mark.parametrize("config", [dict(input_size=32, width=4, depth=2, embed_dim=8),
                                    dict(input_size=64, width=16, depth=4, seed=2002), dict(convs_per_stage=3)])
def test_probe_weight_count_is_the_built_probes(config):
    from backend.readers.probe import FaceProbe, ProbeConfig

    cfg = ProbeConfig(**config)
    assert cfg.weight_count() == sum(t.numel() for t in FaceProbe(cfg).state_dict().values())


def test_a_probe_whose_config_claims_a_huge_network_is_refused_before_building_it(tmp_path):
    from backend.model.checkpoints import write_tagged_safetensors
    from backend.readers.probe import PROBE_FORMAT, PROBE_FORMAT_VERSION, load_probe

    for name, config in (("huge", {"input_size": 1024, "width": 1024, "depth": 1}),
                         ("zero", {"input_size": 0}), ("text", {"width": "wide"})):
        path = write_tagged_safetensors(tmp_path / f"{name}.safetensors", {"w": torch.zeros(4)}, PROBE_FORMAT,
                                        PROBE_FORMAT_VERSION, config)
        with pytest.raises(CheckpointError, match=f"{name}.safetensors: (weights do not match|bad probe config)"):
            load_probe(path)


def test_capture_into_an_unwritable_place_fails_before_reading_the_video(tmp_path):
    video = tmp_path / "v.mp4"
    write_video(_noise(2, 32), video, fps=10)
    (tmp_path / "a_file").write_text("x")
    code, err = _cli("capture", video, "--out", tmp_path / "a_file" / "v.csv")
    assert code == 2 and "cannot write there" in err and "frames" not in err, err


def test_values_json_still_reads_and_bad_json_is_one_line(tmp_path):
    from backend.animation.timeline import load_values

    good = tmp_path / "v.json"
    good.write_text(json.dumps({"frames": [0, 4], "channels": {"Joy": [0, 1], "eye-close": [0.5, 0]}}))
    t = load_values(good)
    assert t.channels == ("joy", "eye_close") and t.values.tolist() == [[0, 0.5], [1, 0]]
    bad = tmp_path / "bad.json"
    bad.write_text('{"frames": [0, NaN]}')
    with pytest.raises(ValueError, match="bad.json: not valid JSON \\(NaN is not a JSON number\\)"):
        load_values(bad)


def test_deeply_nested_config_metadata_is_one_line_for_generators_probes_and_readers(tmp_path):
    from safetensors.torch import save_file

    from backend.readers.nets.weights import READER_FORMAT, READER_FORMAT_VERSION, load_reader_weights
    from backend.readers.probe import PROBE_FORMAT, PROBE_FORMAT_VERSION, load_probe

    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for name, fmt, version, load in (("g", "latent-emotion.generator", "1", load_generator),
                                     ("p", PROBE_FORMAT, PROBE_FORMAT_VERSION, load_probe),
                                     ("r", READER_FORMAT, READER_FORMAT_VERSION,
                                      lambda p: load_reader_weights("fer_emotion", p))):
        path = tmp_path / f"{name}.safetensors"
        save_file({"w": torch.zeros(1)}, str(path), metadata={"format": fmt, "format_version": version, "config": deep})
        with pytest.raises(CheckpointError, match=f"{name}.safetensors: .*JSON nested deeper than 32 levels"):
            load(path)
