"""Sample sheets: faces × channels in one picture, to see what a model and its directions draw."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from ..animation.directions import DirectionSet
from ..animation.latent import compose_latent
from ..model.engines import Engine
from ..model.generator import Generator, synthesize_frames

HEADER_PX = 20


def sample_sheet(neutral: np.ndarray, edited: Mapping[str, np.ndarray], cell: int = 96) -> np.ndarray:
    """RGB (H, W, 3) uint8: a header of column names, then per face its neutral frame (N, h, w, 3)
    and each channel's frame at value 1.0 (``edited[name]``, (N, h, w, 3)), ``cell`` pixels a side."""
    columns = {"neutral": np.asarray(neutral), **{k: np.asarray(v) for k, v in edited.items()}}
    rows = len(neutral)
    if any(len(c) != rows for c in columns.values()):
        raise ValueError(f"every column needs {rows} faces, got {[len(c) for c in columns.values()]}")
    sheet = np.full((HEADER_PX + rows * cell, len(columns) * cell, 3), 255, np.uint8)
    for j, (label, col) in enumerate(columns.items()):
        cv2.putText(sheet, label.replace("_", "-"), (j * cell + 4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
        for i in range(rows):
            img = cv2.resize(col[i], (cell, cell), interpolation=cv2.INTER_AREA)
            sheet[HEADER_PX + i * cell:HEADER_PX + (i + 1) * cell, j * cell:(j + 1) * cell] = img
    return sheet


def channel_sheet(G: Generator, faces: np.ndarray, directions: DirectionSet, value: float = 1.0,
                  cell: int = 96, engine: Engine | None = None) -> np.ndarray:
    """The sheet of ``faces`` (W+ codes (N, num_ws, w_dim)) with every direction at ``value``;
    ``engine`` makes the frames (``model.engines``; default torch eager)."""
    frames = (lambda ws: synthesize_frames(G, ws)) if engine is None else engine.frames
    faces = np.asarray(faces, dtype=np.float32)
    edited = {d.name: frames(compose_latent(faces, {d.name: value}, directions)) for d in directions}
    return sample_sheet(frames(faces), edited, cell)
