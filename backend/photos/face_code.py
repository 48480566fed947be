"""Faces from photos: detect, FFHQ-align, invert into W then W+; the face code file.

The paper's faces of real people (Zhang & Pollett 2021, Sec. 3.2) are photos inverted into the
generator's latent space. Recipe (``invert_photo``):

1. detect with MTCNN, take the largest face (or the ``face``-th, largest first), and crop it the
   way FFHQ was made (``backend.readers.align``), at the generator's resolution;
2. invert into W: ``steps`` steps of ``backend.photos.inversion.invert_batch`` from w_avg (Adam, NVIDIA's
   schedule, latent noise), then into W+: ``steps // 2`` steps from that W code at a fifth of the
   learning rate, every row free (Image2StyleGAN). W codes edit best; W+ reconstructs better
   and starts from the W code, so it stays near W's distribution. Coarse to fine (``coarse``):
   every W step and the first W+ steps stop synthesis at a lower resolution, the last
   ``FINE_SHARE`` of the W+ steps render the full frame (``inversion.invert_batch``);
3. the loss: the pixel pyramid plus ``feature_weight`` × an LPIPS-style distance of face features
   in place of the paper's VGG: face-api's identity descriptor, its expression net's features
   and its 68 landmarks (centred), each read from the photo's face box in the aligned crop.

Quality is reported as the pixel error (0..255) and the identity distance between photo and
reconstruction (unit face-api descriptors: 0 same, about 0.6 the usual match threshold). Both
are what the inversion minimises, so they flatter it: a cartoon generator brings the astronaut
photo to identity distance 0.19 with a smeared ghost. The likeness is therefore also judged by a
net the inversion never sees, fer's expression net (``fer_distance``: the LPIPS-style distance of
its feature maps of the face box); above ``FER_DISTANCE_LIMIT`` the generator cannot represent
the photo and ``likeness_warning`` says so (the CLI and Blender's Face from Photo show it).
A face code file is ``.npz``: ``w_plus`` (num_ws, w_dim) and ``w`` (w_dim,) float32, the
generator's ``fingerprint``, the ``photo_sha256``, ``pixel_mae``, ``identity_distance``, ``fer_distance``,
``face_index``, ``steps`` and the ``aligned`` photo and ``reconstruction`` (uint8) for display.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..files import FileError, image_size, load_array, read_bytes, write_atomic
from ..jobs import Cancel, Cancelled, Progress
from ..model.generator import Generator
from .inversion import FeatureFn, invert_batch

DEFAULT_STEPS = 300
W_LR, W_PLUS_LR = 0.1, 0.02
FEATURE_WEIGHT = 0.5
# fer_distance above which the reconstruction is not the photo's face. Measured (docs/commands.md#invert,
# 300 steps): the astronaut photo into the cartoon default model 3.93 (a smeared ghost, though its
# identity distance is 0.19); a face the default model drew, into it, 0.018. For scale: the
# astronaut's face against its mirror image 1.62, against itself blurred by 1 px 1.92, by 2 px 4.5.
FER_DISTANCE_LIMIT = 2.0
FINE_SHARE = 1 / 3  # of the W+ steps, the last ones: at full resolution when the others are coarse
# Pixels the face features need: an FFHQ face fills most of a 256 px frame, face-api's crops are 112-150 px.
COARSE_SIZE = 256
COARSE_FACTOR = 4  # coarse steps only where they draw at most 1/4 of the full side (1/2: measured no faster)


def coarse_resolution(G: Generator, size: int | None) -> int | None:
    """The resolution of the coarse inversion steps for features that look at ``size`` pixels:
    the lowest block at or above it, where that is at most 1/``COARSE_FACTOR`` of the full side;
    None (every step full) otherwise or when ``size`` is None."""
    from .inversion import stop_resolution

    res = stop_resolution(G, size)
    return res if res is not None and res * COARSE_FACTOR <= G.config.img_resolution else None
Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels of the aligned crop, half-open


class FaceCodeError(FileError):
    """A face code file we cannot use; the message names the file and why."""


@dataclass(frozen=True)
class PhotoFace:
    """The chosen face of a photo, aligned, and where the face box lies in the aligned crop."""

    aligned: np.ndarray  # (res, res, 3) uint8
    box: Box
    index: int  # which face, largest first
    found: int  # faces found in the photo


def central_box(size: int) -> Box:
    """Where an FFHQ-aligned face's detection box usually lies: the middle 60 % across, from 25 %
    to 85 % down (for crops given already aligned)."""
    return (round(0.2 * size), round(0.25 * size), round(0.8 * size), round(0.85 * size))


def photo_face(image: np.ndarray, resolution: int, face: int | None = None, readers=None) -> PhotoFace:
    """Detect faces in ``image`` (uint8 RGB), choose one and FFHQ-align it to ``resolution``."""
    from ..readers.reading import FaceReaders, as_rgb

    readers = readers or FaceReaders(crop_size=resolution)
    rgb = as_rgb(image)
    refused: list = []
    faces = readers.read(rgb, refused=refused)
    if not faces:
        from ..readers.report import no_face_note

        raise ValueError(f"no face found in the photo{no_face_note(rgb.shape, readers.detector.min_face_size, refused)}")
    index = 0 if face is None else face
    if not 0 <= index < len(faces):
        raise ValueError(f"the photo has {len(faces)} face(s) (0 = the largest); there is no face {face}")
    reading = faces[index]
    aligned = reading.aligned
    if aligned.image.shape[0] != resolution:
        raise ValueError(f"the face readers align to {aligned.image.shape[0]} px, the generator draws {resolution} px")
    x1, y1, x2, y2 = reading.box
    corners = aligned.map_points([(x1, y1), (x2, y1), (x2, y2), (x1, y2)])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    centre, side = (lo + hi) / 2, max(hi - lo)
    box = tuple(int(np.clip(round(v), 0, resolution)) for v in (centre[0] - side / 2, centre[1] - side / 2,
                                                                centre[0] + side / 2, centre[1] + side / 2))
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        box = central_box(resolution)
    return PhotoFace(aligned.image, box, index, len(faces))  # type: ignore[arg-type]


class FaceFeatures:
    """Differentiable face-api features of the ``box`` of images (N, 3, H, W) in [-1, 1], as
    (N, C, 1, 1) maps for ``inversion.feature_distance``: identity descriptor, expression
    features, centred landmarks."""

    def __init__(self, box: Box, device: str | torch.device = "cpu", size: int | None = None) -> None:
        from ..readers.nets.expression import load_expression_net
        from ..readers.nets.identity import load_recognition_net
        from ..readers.nets.landmarks import load_landmark_net

        self.box, self.size = box, size  # ``size``: the images the box is in (others: scaled to theirs)
        self.identity = load_recognition_net().to(device).requires_grad_(False)
        self.expression = load_expression_net().to(device).requires_grad_(False)
        self.landmarks = load_landmark_net().to(device).requires_grad_(False)

    def crop(self, x: torch.Tensor, size: int) -> torch.Tensor:
        """The box, resized to ``size``, in face-api's preprocessing."""
        from ..readers.nets.densenet import FACEAPI_MEAN_RGB

        x1, y1, x2, y2 = self.box
        if self.size is not None and x.shape[-1] != self.size:  # a coarse step's smaller image
            x1, y1, x2, y2 = (round(v * x.shape[-1] / self.size) for v in self.box)
            x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        x = F.interpolate(x[:, :, y1:y2, x1:x2], size=(size, size), mode="bilinear", align_corners=False,
                          antialias=y2 - y1 > size)
        mean = torch.tensor(FACEAPI_MEAN_RGB, device=x.device).reshape(1, 3, 1, 1)
        return ((x + 1) * 127.5 - mean) / 255.0

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """Unit identity descriptors (N, 128)."""
        from ..readers.nets.identity import IDENTITY_SIZE

        return F.normalize(self.identity(self.crop(x, IDENTITY_SIZE)), dim=1)

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        from ..readers.nets.densenet import FACEAPI_SIZE, DenseFeatures

        small = self.crop(x, FACEAPI_SIZE)
        expression = DenseFeatures.forward(self.expression, small)
        points = self.landmarks(small) - 0.5  # units of the box; centred, so the direction carries the shape
        return [v[:, :, None, None] for v in (self.embedding(x), expression, points)]


@dataclass(frozen=True)
class PhotoInversion:
    """A face's code and how well it reconstructs the aligned photo."""

    w_plus: np.ndarray  # (num_ws, w_dim) float32, after the W+ stage
    w: np.ndarray  # (w_dim,) float32, the W stage's code
    aligned: np.ndarray  # (res, res, 3) uint8, the target
    reconstruction: np.ndarray  # (res, res, 3) uint8, G(w_plus)
    pixel_mae_w: float  # 0..255, G(w)
    pixel_mae: float  # 0..255, G(w_plus)
    identity_distance: float | None  # photo ↔ reconstruction, unit face-api descriptors; None without features
    fer_distance: float  # photo ↔ reconstruction by fer's features (``fer_distance``), which the inversion never sees
    steps: tuple[int, int]  # (W steps, W+ steps) taken
    seconds: float
    coarse: int | None = None  # the resolution the coarse steps rendered at (None: all full resolution)

    @property
    def represented(self) -> bool:
        """Whether the reconstruction is the photo's face, by the independent measure."""
        return self.fer_distance <= FER_DISTANCE_LIMIT


def fer_distance(photo: np.ndarray, reconstruction: np.ndarray, box: Box) -> float:
    """How differently fer's expression net sees two aligned faces (uint8 (res, res, 3)): the
    LPIPS-style ``inversion.feature_distance`` of its four blocks' feature maps of the grey ``box``.

    fer (mini-Xception, FER2013) is trained apart from face-api and is not in the inversion's
    loss, so a reconstruction cannot have been pushed toward a low value: 0 for the same image.
    """
    from ..readers.nets.fer import FER_SIZE, fer_input, load_fer
    from ..readers.reading import square_crop
    from .inversion import feature_distance

    greys = [square_crop(cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY), box, FER_SIZE)
             for im in (photo, reconstruction)]
    with torch.no_grad():
        maps = load_fer().features(fer_input(torch.from_numpy(np.stack(greys))))
        return float(feature_distance([m[:1] for m in maps], [m[1:] for m in maps])[0])


def likeness_warning(result: PhotoInversion) -> str | None:
    """A plain warning when the generator could not draw the photo's face (None when it could)."""
    if result.represented:
        return None
    return (f"this generator cannot draw this face: the reconstruction does not look like the photo (fer "
            f"distance {result.fer_distance:.2f}, more than {FER_DISTANCE_LIMIT:g}; the pixel error and identity "
            f"distance are what the inversion minimised and do not show it). A generator of faces like this "
            f"one is needed; the default model draws only cartoons")



def invert_aligned(G: Generator, aligned: np.ndarray, *, steps: int = DEFAULT_STEPS,
                   features: FeatureFn | None = None, feature_weight: float = FEATURE_WEIGHT,
                   embedding: Callable[[torch.Tensor], torch.Tensor] | None = None, box: Box | None = None,
                   seed: int = 0, coarse: int | None = None, progress: Progress | None = None,
                   cancel: Cancel | None = None) -> PhotoInversion:
    """W then W+ inversion of an aligned face (uint8 (res, res, 3)); see the module docstring.
    ``embedding`` (e.g. ``FaceFeatures.embedding``) gives the identity distance of the result;
    ``box`` is where the face lies in the crop (``PhotoFace.box``; default ``central_box``).
    ``coarse``: the resolution of the coarse steps (``inversion.stop_resolution``; None: none).
    ``progress`` gets stages "W" then "W+"; ``Cancelled`` once ``cancel()``."""
    start = time.perf_counter()
    aligned = np.ascontiguousarray(aligned)
    w = invert_batch(G, aligned[None], space="w", steps=steps, lr=W_LR, features=features,
                     feature_weight=feature_weight, seed=seed, coarse=coarse, progress=progress, cancel=cancel)
    if w.cancelled:
        raise Cancelled(f"inversion cancelled after {w.steps} of {steps} W steps")
    plus_steps = steps // 2
    plus = invert_batch(G, aligned[None], space="w+", steps=plus_steps, lr=W_PLUS_LR, features=features,
                        feature_weight=feature_weight, init=w.w_plus, seed=seed, coarse=coarse,
                        fine_steps=math.ceil(plus_steps * FINE_SHARE), progress=progress, cancel=cancel)
    if plus.cancelled:
        raise Cancelled(f"inversion cancelled after {plus.steps} of {steps // 2} W+ steps")
    distance = None
    if embedding is not None:
        from ..model.generator import images_from_uint8

        with torch.no_grad():
            e = embedding(images_from_uint8(np.stack([aligned, plus.images[0]])).to(G.device))
        distance = float((e[0] - e[1]).norm())
    likeness = fer_distance(aligned, plus.images[0], box or central_box(aligned.shape[0]))
    return PhotoInversion(plus.w_plus[0], w.w_plus[0, 0], aligned, plus.images[0], float(w.pixel_mae[0]),
                          float(plus.pixel_mae[0]), distance, likeness, (w.steps, plus.steps),
                          time.perf_counter() - start, coarse)


def read_photo(path: str | os.PathLike[str]) -> tuple[np.ndarray, str]:
    """A photo file as uint8 RGB, and the sha256 of its bytes."""
    from ..readers.images import MAX_IMAGE_BYTES, MediaError

    data = read_bytes(path, MAX_IMAGE_BYTES, error=MediaError)
    if not data:
        raise MediaError(path, "the file is empty (0 bytes), not a photo")
    image_size(data, path, error=MediaError)  # the pixel limit, from the header, before decoding
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(path, "not an image file OpenCV can read (JPEG, PNG, ...)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), hashlib.sha256(data).hexdigest()


def fit_to_resolution(image: np.ndarray, resolution: int) -> np.ndarray:
    """A given-aligned face: centre-cropped square and resized (INTER_AREA) to the resolution."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = image[top:top + side, left:left + side]
    if side == resolution:
        return np.ascontiguousarray(square)
    interp = cv2.INTER_AREA if side > resolution else cv2.INTER_CUBIC
    return cv2.resize(square, (resolution, resolution), interpolation=interp)


def save_face_code(path: str | os.PathLike[str], result: PhotoInversion, *, fingerprint: str, photo_sha256: str,
                   face_index: int) -> None:
    """Write a face code file (see the module docstring), atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, w_plus=result.w_plus.astype(np.float32), w=result.w.astype(np.float32),
             fingerprint=np.array(fingerprint), photo_sha256=np.array(photo_sha256),
             pixel_mae=np.float32(result.pixel_mae),
             identity_distance=np.float32(np.nan if result.identity_distance is None else result.identity_distance),
             fer_distance=np.float32(result.fer_distance),
             face_index=np.int64(face_index), steps=np.array(result.steps, np.int64),
             aligned=result.aligned, reconstruction=result.reconstruction)
    write_atomic(path, buffer.getvalue())


def load_face_code(path: str | os.PathLike[str], *, expect_fingerprint: str | None = None,
                   num_ws: int | None = None, w_dim: int | None = None) -> np.ndarray:
    """The face's code from a face code ``.npz`` (its ``w_plus``) or a ``.npy`` (W or W+); given
    ``num_ws`` and ``w_dim``, as a W+ code (num_ws, w_dim) (a W code fills every row). With
    ``expect_fingerprint``, a code made for another generator is refused."""
    data = load_array(path, error=FaceCodeError)  # headers checked before anything is allocated
    if isinstance(data, dict):
        if "w_plus" not in data:
            raise FaceCodeError(path, f"an .npz without 'w_plus' (it holds {', '.join(data) or 'nothing'})")
        code = data["w_plus"]
        made_for = str(data["fingerprint"]) if "fingerprint" in data else None
        if expect_fingerprint is not None and made_for is not None and made_for != expect_fingerprint:
            raise FaceCodeError(path, f"made for another generator (fingerprint {made_for[:12]}…, the loaded "
                                      f"generator's is {expect_fingerprint[:12]}…); invert the photo again")
    else:
        code = data
    code = np.asarray(code)
    if code.dtype.kind != "f" or not np.isfinite(code).all():
        raise FaceCodeError(path, "the code must hold finite floats")
    if num_ws is None or w_dim is None:
        return code.astype(np.float32)
    if code.shape == (w_dim,):
        code = np.broadcast_to(code, (num_ws, w_dim))  # a W code: every row the same
    elif code.shape == (1, num_ws, w_dim):
        code = code[0]
    elif code.shape != (num_ws, w_dim):
        raise FaceCodeError(path, f"a code of shape {code.shape}; this generator takes a W code ({w_dim},) "
                                  f"or a W+ code ({num_ws}, {w_dim})")
    return np.array(code, dtype=np.float32)
