#!/usr/bin/env python3
"""Face-reader speed on this machine: ms per frame for each reader and for ``read_faces``, and
performance-capture throughput (frames/s).

    .venv/bin/python scripts/bench_face_readers.py [--image PATH.npy|PNG] [--repeat 5] [--threads 1] [--batch 8]
                                                   [--capture-frames 48] [--capture-only]

The frame is the 512x512 astronaut photo of the tests' fixtures unless ``--image`` names another
(uint8 RGB ``.npy`` or an image file). Each reader is timed on its own input (the face crops
``read_faces`` makes), batch 1 and ``--batch`` (ms per face). Best-of-N is the figure least
disturbed by other work on the machine; the mean is printed beside it.

Capture is timed end to end on an H.264 video of the frame moving, turning and scaling
(``--capture-frames`` frames at 25 fps) at 256 and 512 px, with torch on 1 and 2 threads (on 1, as
capture runs, the readers put a second net on a helper thread where another CPU is free): decoding (ffmpeg,
its own process), reading every frame, following the face, smoothing and the CSV text; detector
every frame (``detect_every=1``, capture before tracking) against tracking (the default). Each
row: frames/s (best of 2), this process's CPU ms per frame (``time.process_time``, all its
threads: what a quiet machine would take on one core), detector runs per frame, the largest
difference of the CSV values from the detector-every-frame run, and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.model.allocator import keep_freed_memory  # noqa: E402
from backend.model.threads import prepare_openmp, set_threads  # noqa: E402

prepare_openmp()  # as the CLI does, before torch starts: 2-thread rows with waiting threads asleep
KEPT_FREED = keep_freed_memory()  # as the CLI runs; LATENT_EMOTION_KEEP_FREED=0 for malloc's default

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402
from backend.readers.capture import DETECT_EVERY, capture, capture_csv, reading_channels  # noqa: E402
from backend.readers.images import open_media  # noqa: E402
from backend.readers.nets.densenet import FACEAPI_SIZE, faceapi_input  # noqa: E402
from backend.readers.nets.fer import FER_SIZE, fer_input  # noqa: E402
from backend.readers.nets.identity import IDENTITY_SIZE  # noqa: E402
from backend.readers.reading import FER_MARGIN, FaceReaders, as_rgb, square_crop  # noqa: E402
from backend.rendering.video import write_video  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "face_readers" / "astronaut_inputs.npz"


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best and mean seconds of ``repeat`` calls after a warm-up."""
    fn()
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t), sum(t) / len(t)


def load_image(path: Path | None) -> np.ndarray:
    if path is None:
        with np.load(FIXTURE) as f:
            return f["astronaut_rgb512"]
    if path.suffix == ".npy":
        return as_rgb(np.load(path))
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        sys.exit(f"{path}: not an image file cv2 can read")
    return bgr[:, :, ::-1].copy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default %(default)s)")
    ap.add_argument("--batch", type=int, default=8, help="the larger batch of face crops (default %(default)s)")
    ap.add_argument("--capture-frames", type=int, default=48, help="frames of the capture video (default %(default)s)")
    ap.add_argument("--capture-only", action="store_true", help="only the capture table")
    ap.add_argument("--compare", type=Path, nargs="+", metavar="VIDEO",
                    help="only compare tracking's readings with the detector's on every frame, on these videos")
    args = ap.parse_args()
    set_threads(args.threads)
    readers = FaceReaders()
    if args.compare:
        for path in args.compare:
            compare_readings(readers, path)
        return
    image = load_image(args.image)
    if args.capture_only:
        capture_table(readers, image, args.capture_frames)
        return
    faces = readers.detector.detect(image)
    if not faces:
        sys.exit("no face in the image: nothing to time but the detector")
    box = faces[0].box
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    inputs = {
        "landmarks68": (readers.landmark_net, faceapi_input(torch.from_numpy(square_crop(image, box, FACEAPI_SIZE)))),
        "expression": (readers.expression_net, faceapi_input(torch.from_numpy(square_crop(image, box, FACEAPI_SIZE)))),
        "fer": (readers.fer_net, fer_input(torch.from_numpy(square_crop(grey, box, FER_SIZE, FER_MARGIN)))),
        "identity": (readers.recognition_net,
                     faceapi_input(torch.from_numpy(square_crop(image, box, IDENTITY_SIZE)))),
    }
    print(f"image {image.shape[1]}x{image.shape[0]}, {len(faces)} face(s), torch threads {args.threads}, "
          f"freed memory kept {KEPT_FREED}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'reader':>14} {'batch':>5} {'best ms/face':>13} {'mean ms/face':>13}")
    with torch.inference_mode():
        best, mean = timed(lambda: readers.detector.detect(image), args.repeat)
        print(f"{'mtcnn detect':>14} {1:>5} {best * 1000:13.1f} {mean * 1000:13.1f}")
        for name, (net, x) in inputs.items():
            for batch in (1, args.batch):
                xb = x.expand(batch, *x.shape[1:]).contiguous()
                best, mean = timed(lambda: net(xb), args.repeat)
                print(f"{name:>14} {batch:>5} {best / batch * 1000:13.1f} {mean / batch * 1000:13.1f}")
    best, mean = timed(lambda: readers.read(image), args.repeat)
    print(f"{'read_faces':>14} {'frame':>5} {best * 1000:13.1f} {mean * 1000:13.1f}   (all readers + alignment, ms/frame)")
    capture_table(readers, image, args.capture_frames)


def compare_readings(readers: FaceReaders, path: Path) -> None:
    """Per channel, the largest difference of tracking's captured values (raw per frame and as
    written: smoothed) from the detector on every frame; and, for scale, of the detector on every
    frame (a region about the last face) from the detector on each whole frame."""
    media = open_media(path, constant_rate=True)
    frames, fps = list(media.frames), media.fps
    every = capture(frames, fps, readers, detect_every=1)
    tracked = capture(frames, fps, readers)
    whole = np.array([reading_channels(faces[0]) if (faces := readers.read(f)) else np.full(len(CHANNEL_NAMES), np.nan)
                      for f in frames])
    both = every.found & tracked.found & ~np.isnan(whole[:, 0])
    print(f"{path}: {len(frames)} frames, face in {int(every.found.sum())} (every frame) / "
          f"{int(tracked.found.sum())} (tracking), detector runs {every.detector_runs} / {tracked.detector_runs}, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = {"tracking - every frame, raw": np.abs(tracked.raw[both] - every.raw[both]).max(0),
            "tracking - every frame, CSV": np.abs(tracked.values - every.values).max(0),
            "every frame - whole frame, raw": np.abs(every.raw[both] - whole[both]).max(0)}
    print(f"{'max |diff|':>32} " + " ".join(f"{n[:10]:>10}" for n in CHANNEL_NAMES))
    for label, diff in rows.items():
        print(f"{label:>32} " + " ".join(f"{d:10.3f}" for d in diff))


def moving(image: np.ndarray, i: int, size: int) -> np.ndarray:
    """Frame ``i`` of ``image`` moving, turning a little and scaling, resized to ``size`` px."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 3), 3 * np.sin(i / 5), 1 + 0.15 * np.sin(i / 9))
    m[:, 2] += (w / 12 * np.sin(i / 7), h / 25 * np.sin(i / 11))
    frame = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


def capture_table(readers: FaceReaders, image: np.ndarray, n: int, runs: int = 2) -> None:
    """The capture rows (see the module docstring); restores the thread count it found."""
    threads = torch.get_num_threads()
    print(f"capture, {n} frames at 25 fps, decode to CSV text; freed memory kept {KEPT_FREED}")
    print(f"{'px':>4} {'threads':>7} {'detector':>15} {'frames/s':>8} {'cpu ms/frame':>12} {'detect/frame':>12} "
          f"{'max |diff|':>10} {'load':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (256, 512):
            path = Path(tmp) / f"clip{size}.mp4"
            write_video((moving(image, i, size) for i in range(n)), path, 25)
            for count in (1, 2):
                set_threads(count)
                every_frame = None
                for label, every in (("every frame", 1), ("tracking", DETECT_EVERY)):
                    result: list = []

                    def run() -> None:
                        media = open_media(path, constant_rate=True)
                        result[:] = [capture(media.frames, media.fps, readers, detect_every=every)]
                        capture_csv(result[0])

                    run()  # warm-up
                    best, cpu = float("inf"), float("inf")
                    for _ in range(runs):
                        t0, c0 = time.perf_counter(), time.process_time()
                        run()
                        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
                    values = result[0].values
                    every_frame = values if every_frame is None else every_frame
                    print(f"{size:>4} {count:>7} {label:>15} {n / best:8.1f} {cpu / n * 1000:12.1f} "
                          f"{result[0].detector_runs / n:12.2f} {np.abs(values - every_frame).max():10.3f} "
                          f"{os.getloadavg()[0]:5.2f}")
    set_threads(threads)


if __name__ == "__main__":
    main()
