#!/usr/bin/env python3
"""Face-reader speed on this machine: ms per frame for each reader and for ``read_faces``, and
performance-capture throughput (frames/s).

    .venv/bin/python scripts/bench_face_readers.py [--image PATH.npy|PNG] [--repeat 5] [--threads 1] [--batch 8]
                                                   [--capture-frames 48]

The frame is the 512x512 astronaut photo of the tests' fixtures unless ``--image`` names another
(uint8 RGB ``.npy`` or an image file). Each reader is timed on its own input (the face crops
``read_faces`` makes), batch 1 and ``--batch`` (ms per face). Best-of-N is the figure least
disturbed by other work on the machine; the mean is printed beside it. Capture is timed end to
end on an H.264 video of the frame moving sideways (``--capture-frames`` frames at 25 fps):
decoding, reading every frame, following the face, smoothing and the CSV text.
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

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.readers.capture import capture, capture_csv  # noqa: E402
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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    image = load_image(args.image)
    readers = FaceReaders()
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
    print(f"capture: {capture_throughput(readers, image, args.capture_frames):.2f} frames/s "
          f"({args.capture_frames} frames of {image.shape[1]}x{image.shape[0]}, decode to CSV text)")


def capture_throughput(readers: FaceReaders, image: np.ndarray, n: int, runs: int = 2) -> float:
    """Frames per second of ``capture`` on a video of ``image`` sliding 2 px a frame (best of ``runs``
    after a warm-up)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        write_video((np.roll(image, 2 * i, axis=1) for i in range(n)), path, 25)

        def run() -> None:
            media = open_media(path, constant_rate=True)
            capture_csv(capture(media.frames, media.fps, readers))

        best, _ = timed(run, runs)
        return n / best


if __name__ == "__main__":
    main()
