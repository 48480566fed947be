"""Readers of the nine channels in generated faces, chosen by name: real-face nets or a probe.

A reader (``labels.Reader``) maps uint8 images (N, H, W, 3) to a ``Reading``: channel
values (N, 9) in ``CHANNEL_NAMES`` order and an identity embedding (N, D). Two roles:

- the **labeller** (``learn-directions``: which faces are positives, and calibration):
  face-api's expression net for the six emotions plus the landmark measures;
- the **evaluator** (``eval-directions``): fer's mini-Xception for the six emotions, trained
  apart from face-api's, plus the same landmark measures (geometry, not a learned opinion).

Both read the largest face MTCNN finds; an image without a face reads NaN (values and
embedding), and callers leave such rows out. Readings become channel values as performance
capture makes them (``backend.readers.capture.reading_channels``: face-api's probabilities, eye aspect
ratio, mouth opening and yaw scaled so that 1 is a full expression); the evaluator then puts
fer's probabilities in place of face-api's. The identity embedding is face-api's 128-D descriptor.

``probe:PATH`` reads with one of our probes (``backend.readers.probe``): the default model draws
cartoon faces that the real-face nets may not detect.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from ..animation.channels import CHANNEL_NAMES
from ..files import read_bytes
from .labels import Reader, Reading, probe_reader

Role = Literal["labeller", "evaluator"]

READ_SIZE = 256  # images are read at most this large: the nets' crops are 112 and 150 px
# fer's class names for the six emotion channels, in CHANNEL_NAMES order.
FER_EMOTIONS = ("happy", "sad", "angry", "fear", "surprise", "disgust")
READER_VERSION = "3"  # bump when what a reader returns changes: stored samples are keyed by it
# (3: the face readers refuse tiny faces, low detector scores and landmarks that are not a face)


@dataclass(frozen=True)
class ChannelReader:
    """A reader, what it is (for reports) and a key naming its answers (for stored samples)."""

    read: Reader
    description: str
    key: str
    size: int | None = None  # the largest image it looks at (bigger ones are scaled down first); None: any


def reader_from_spec(spec: str, role: Role, device: str = "cpu") -> ChannelReader:
    """``"faces"`` (the real-face nets, as ``role``) or ``"probe:PATH"`` (a probe file)."""
    if spec == "faces":
        return face_reader(role, device)
    if spec.startswith("probe:"):
        from ..readers.probe import load_probe

        path = Path(spec[len("probe:"):])
        probe = load_probe(path, device)
        digest = hashlib.sha256(read_bytes(path, 2**31)).hexdigest()
        return ChannelReader(probe_reader(probe), f"probe {path}", f"probe-{digest}-v{READER_VERSION}",
                             probe.config.input_size)
    raise ValueError(f"a reader is 'faces' or 'probe:PATH' (e.g. probe:models/default/probe_features.safetensors), "
                     f"got {spec!r}")


def face_reader(role: Role, device: str = "cpu") -> ChannelReader:
    """The real-face nets as the labeller (face-api expression) or the evaluator (fer)."""
    from ..readers.reading import FaceReaders

    if role not in ("labeller", "evaluator"):
        raise ValueError(f"role must be 'labeller' or 'evaluator', got {role!r}")
    readers = FaceReaders(device=device)
    labeller = role == "labeller"

    def read(images: np.ndarray) -> Reading:
        values = np.full((len(images), len(CHANNEL_NAMES)), np.nan)
        embedding = np.full((len(images), 128), np.nan)
        for i, image in enumerate(images):
            if max(image.shape[:2]) > READ_SIZE:
                image = cv2.resize(image, (READ_SIZE, READ_SIZE), interpolation=cv2.INTER_AREA)
            faces = readers.read(image)
            if faces:
                values[i] = face_channel_values(faces[0], labeller)
                embedding[i] = faces[0].identity
        return Reading(values, embedding)

    what = "face-api expression" if labeller else "fer expression"
    return ChannelReader(read, f"{what} + landmark measures (largest MTCNN face)",
                         f"faces-{role}-v{READER_VERSION}", READ_SIZE)


def face_channel_values(face, labeller: bool = True) -> np.ndarray:
    """(9,) channel values of one ``FaceReading``: see the module docstring."""
    from ..readers.capture import reading_channels

    values = reading_channels(face)
    if not labeller:
        values[:len(FER_EMOTIONS)] = [face.fer_expression[n] for n in FER_EMOTIONS]
    return values
