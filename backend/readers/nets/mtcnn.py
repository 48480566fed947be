"""MTCNN face detector with 5 points (Zhang et al. 2016, "Joint Face Detection and Alignment using
Multi-task Cascaded Convolutional Networks"), with facenet-pytorch 2.6.0's converted weights.

Three nets in cascade: P-Net scans an image pyramid as a fully convolutional net (12x12 windows,
stride 2), R-Net (24x24) and O-Net (48x48) re-score and refine the square crops of the survivors,
O-Net also gives 5 points. Between stages: thresholds, non-maximum suppression, box regression
and squaring. Numbers follow facenet-pytorch's ``detect_face`` so its outputs are reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .weights import load_network

PIXEL_MEAN, PIXEL_SCALE = 127.5, 0.0078125  # (x - 127.5) / 128, RGB
POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # image-left first


def _flatten_hw_transposed(x: torch.Tensor) -> torch.Tensor:
    # the weights come from Caffe/TF via a [N, W, H, C] flatten order: keep it
    return x.permute(0, 3, 2, 1).flatten(1)


class PNet(nn.Module):
    """Proposal net: ``[N, 3, H, W]`` -> box regression ``[N, 4, h, w]`` and face probability
    ``[N, 2, h, w]`` (softmax; channel 1 = face) per 12x12 window at stride 2."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), F.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """Refinement net: ``[N, 3, 24, 24]`` -> regression ``[N, 4]``, probability ``[N, 2]``."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu4(self.dense4(_flatten_hw_transposed(self.prelu3(self.conv3(x)))))
        return self.dense5_2(x), F.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output net: ``[N, 3, 48, 48]`` -> regression ``[N, 4]``, points ``[N, 10]`` (5 x then 5 y,
    relative to the box), probability ``[N, 2]``."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu5(self.dense5(_flatten_hw_transposed(self.prelu4(self.conv4(x)))))
        return self.dense6_2(x), self.dense6_3(x), F.softmax(self.dense6_1(x), dim=1)


def mtcnn_input(rgb: torch.Tensor) -> torch.Tensor:
    """MTCNN's normalisation of float RGB ``[N, 3, H, W]`` in 0..255."""
    return (rgb - PIXEL_MEAN) * PIXEL_SCALE


@dataclass(frozen=True)
class DetectedFace:
    """One MTCNN detection, in pixels of the input image."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float  # O-Net's face probability
    points: tuple[tuple[float, float], ...]  # 5 (x, y) in ``POINT_NAMES`` order

    def mapped(self, scale: float, dx: float, dy: float) -> DetectedFace:
        """The detection with every coordinate mapped by ``(x, y) -> (x * scale + dx, y * scale + dy)``."""
        x1, y1, x2, y2 = self.box
        return DetectedFace((x1 * scale + dx, y1 * scale + dy, x2 * scale + dx, y2 * scale + dy), self.score,
                            tuple((x * scale + dx, y * scale + dy) for x, y in self.points))


# --- box arithmetic (float32 tensors [N, 4+] of x1, y1, x2, y2) -------------------------------------

def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, by_min: bool = False) -> torch.Tensor:
    """Greedy non-maximum suppression; indices kept, best first. Overlap is IoU with areas
    ``(x2-x1)*(y2-y1)``, or with ``by_min`` the intersection over the smaller box with pixel-inclusive
    areas (``+1``), as MTCNN's last stage measures it. A box overlapping a kept one by more than
    ``threshold`` is dropped."""
    one = 1.0 if by_min else 0.0
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1 + one) * (y2 - y1 + one)
    order = torch.argsort(scores, descending=True, stable=True)
    keep = []
    while order.numel():
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest]) + one).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest]) + one).clamp(min=0)
        inter = w * h
        overlap = inter / (torch.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Move box edges by ``reg`` (fractions of the pixel-inclusive width/height)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out = boxes.clone()
    out[:, :4] = boxes[:, :4] + reg * torch.stack([w, h, w, h], dim=1)
    return out


def squared(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes grown to squares of side max(w, h) about the same centre."""
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _crops(image: torch.Tensor, boxes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-resampled ``size`` crops of ``image`` [1, 3, H, W] for the integer part of each box,
    clipped to the image (1-based inclusive, as MTCNN's reference code counts); also which boxes
    had a non-empty crop."""
    h, w = image.shape[2:]
    b = boxes[:, :4].trunc().to(torch.int64)
    x1, y1 = b[:, 0].clamp(min=1), b[:, 1].clamp(min=1)
    x2, y2 = b[:, 2].clamp(max=w), b[:, 3].clamp(max=h)
    ok = (x2 > x1 - 1) & (y2 > y1 - 1)
    # float per crop: a uint8 image (``MTCNN.refine``) converts only the pixels the crops need
    crops = [F.interpolate(image[:, :, y1[k] - 1:y2[k], x1[k] - 1:x2[k]].float(), size=(size, size), mode="area")
             for k in range(len(b)) if ok[k]]
    if not crops:
        return torch.zeros(0, 3, size, size, device=image.device), ok
    return mtcnn_input(torch.cat(crops)), ok


class MTCNN(nn.Module):
    """The three nets and the cascade that runs them (``detect``)."""

    def __init__(self, min_face_size: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 factor: float = 0.709):
        super().__init__()
        if min_face_size < 12:
            raise ValueError(f"min_face_size must be at least 12 px (P-Net's window), got {min_face_size}")
        if not 0 < factor < 1:
            raise ValueError(f"the pyramid factor must be in (0, 1), got {factor}")
        self.min_face_size, self.thresholds, self.factor = min_face_size, thresholds, factor
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()

    def scales(self, height: int, width: int, min_face_size: float | None = None) -> list[float]:
        """The image pyramid: scales at which a ``min_face_size`` face (default: the net's setting)
        fills P-Net's 12 px window."""
        scale = 12.0 / max(12.0, min_face_size or self.min_face_size)
        side = min(height, width) * scale
        out = []
        while side >= 12:
            out.append(scale)
            scale *= self.factor
            side *= self.factor
        return out

    def _proposals(self, image: torch.Tensor, min_face_size: float | None) -> torch.Tensor:
        """Stage 1: P-Net windows over the pyramid -> [N, 5] squared boxes with scores."""
        h, w = image.shape[2:]
        found = []
        for scale in self.scales(h, w, min_face_size):
            scaled = F.interpolate(image, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
            reg, prob = self.pnet(mtcnn_input(scaled))
            face = prob[0, 1]
            mask = face >= self.thresholds[0]
            yx = mask.nonzero()
            cell = yx.flip(1).to(reg.dtype)  # x, y of each window
            q1 = ((2 * cell + 1) / scale).floor()
            q2 = ((2 * cell + 12) / scale).floor()
            boxes = torch.cat([q1, q2, face[mask][:, None], reg[0][:, mask].T], dim=1)
            found.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
        boxes = torch.cat(found) if found else torch.zeros(0, 9, device=image.device)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        w_, h_ = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        moved = boxes[:, :4] + boxes[:, 5:9] * torch.stack([w_, h_, w_, h_], dim=1)
        return squared(torch.cat([moved, boxes[:, 4:5]], dim=1))

    def _last_stage(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """O-Net on square ``boxes`` [N, 4+] of ``image`` [1, 3, H, W] -> refined boxes [M, 5] (x1, y1,
        x2, y2, face probability) and points [M, 5, 2] of the M boxes with a crop in the image."""
        crops, ok = _crops(image, boxes, 48)
        boxes = boxes[ok]
        reg, rel, prob = self.onet(crops)
        boxes = torch.cat([boxes[:, :4], prob[:, 1:2]], dim=1)
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = torch.stack([w * rel[:, :5] + boxes[:, 0:1] - 1, h * rel[:, 5:] + boxes[:, 1:2] - 1], dim=2)
        return regress(boxes, reg), points

    @torch.no_grad()
    def detect_boxes(self, image: torch.Tensor,
                     min_face_size: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``image`` float ``[1, 3, H, W]`` RGB 0..255 -> boxes ``[N, 5]`` (x1, y1, x2, y2, score) and
        points ``[N, 5, 2]``, largest box first."""
        boxes = self._proposals(image, min_face_size)
        if len(boxes):  # stage 2: R-Net re-scores and refines
            crops, ok = _crops(image, boxes, 24)
            boxes = boxes[ok]
            reg, prob = self.rnet(crops)
            keep = prob[:, 1] > self.thresholds[1]
            boxes = torch.cat([boxes[keep, :4], prob[keep, 1:2]], dim=1)
            reg = reg[keep]
            pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
            boxes = squared(regress(boxes[pick], reg[pick]))
        points = torch.zeros(0, 5, 2, device=image.device)
        if len(boxes):  # stage 3: O-Net scores, refines and places the points
            boxes, points = self._last_stage(image, boxes)
            keep = boxes[:, 4] > self.thresholds[2]
            boxes, points = boxes[keep], points[keep]
            pick = nms(boxes[:, :4], boxes[:, 4], 0.7, by_min=True)
            boxes, points = boxes[pick], points[pick]
        order = torch.argsort((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), descending=True, stable=True)
        return boxes[order], points[order]

    def detect(self, image: np.ndarray, min_face_size: float | None = None) -> list[DetectedFace]:
        """Faces in a uint8 ``[H, W, 3]`` RGB image, largest first (none: an empty list). A larger
        ``min_face_size`` than the net's skips the fine pyramid levels: faster, small faces missed."""
        x = self._image(image).float()
        return _faces(*self.detect_boxes(x.to(self.pnet.conv1.weight.device), min_face_size))

    @staticmethod
    def _image(image: np.ndarray) -> torch.Tensor:
        """A uint8 ``[H, W, 3]`` RGB array as a ``[1, 3, H, W]`` uint8 view."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"MTCNN takes a uint8 [H, W, 3] RGB image, got {image.dtype} {list(image.shape)}")
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]

    @torch.no_grad()
    def refine(self, image: np.ndarray, box: tuple[float, float, float, float]) -> DetectedFace | None:
        """The cascade's last stage alone on one box of a uint8 ``[H, W, 3]`` RGB image: O-Net's box,
        points and face probability for the square about ``box`` (no threshold; None: the square is
        outside the image). Following a face from frame to frame, this replaces the whole pyramid."""
        square = squared(torch.tensor([box], dtype=torch.float32))
        # the uint8 view goes in: _crops converts only the pixels of the crop
        faces = _faces(*self._last_stage(self._image(image).to(self.pnet.conv1.weight.device), square))
        return faces[0] if faces else None


def _faces(boxes: torch.Tensor, points: torch.Tensor) -> list[DetectedFace]:
    return [DetectedFace(tuple(float(v) for v in b[:4]), float(b[4]), tuple((float(px), float(py)) for px, py in p))
            for b, p in zip(boxes.cpu(), points.cpu())]


def load_mtcnn(**settings) -> MTCNN:
    """MTCNN with facenet-pytorch 2.6.0's converted weights (``settings``: ``MTCNN``'s arguments)."""
    net = MTCNN(**settings)
    for name in ("pnet", "rnet", "onet"):
        load_network(getattr(net, name), f"mtcnn_{name}")
    return net.eval()

