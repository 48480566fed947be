"""Sample sheets (backend.rendering.sheet): one cell per face and column, each cell the frame it names."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from backend.animation.directions import Direction, DirectionSet
from backend.animation.latent import compose_latent
from backend.model.generator import Generator, synthesize_frames
from backend.rendering.sheet import HEADER_PX, channel_sheet, sample_sheet

from .conftest import tiny_config


def test_sample_sheet_has_a_header_and_one_cell_per_face_and_column():
    faces = np.full((2, 32, 32, 3), 200, np.uint8)
    other = np.full((2, 32, 32, 3), 50, np.uint8)
    sheet = sample_sheet(faces, {"joy": other, "anger": faces}, cell=40)
    assert sheet.shape == (HEADER_PX + 2 * 40, 3 * 40, 3) and sheet.dtype == np.uint8
    assert (sheet[HEADER_PX:, :40] == 200).all() and (sheet[HEADER_PX:, 40:80] == 50).all()
    assert (sheet[:HEADER_PX] < 128).any()  # the names are written
    with pytest.raises(ValueError, match="every column needs 2 faces"):
        sample_sheet(faces, {"joy": other[:1]})


def test_channel_sheet_cells_are_the_faces_with_each_channel_at_one():
    torch.manual_seed(0)
    G = Generator(tiny_config()).eval().requires_grad_(False)
    faces = G.mapping(torch.randn(2, G.config.z_dim, generator=torch.Generator().manual_seed(1))).numpy()
    rng = np.random.default_rng(0)
    directions = DirectionSet("ab" * 32, G.num_ws, G.w_dim, tuple(
        Direction(name, rng.standard_normal(G.w_dim).astype(np.float32), (0, 2), 3.0, "test", "logistic")
        for name in ("joy", "head_turn")))
    cell = G.config.img_resolution
    sheet = channel_sheet(G, faces, directions, cell=cell)
    assert sheet.shape == (HEADER_PX + 2 * cell, 3 * cell, 3)
    for j, ws in enumerate([faces, *(compose_latent(faces, {n: 1.0}, directions) for n in ("joy", "head_turn"))]):
        want = synthesize_frames(G, ws)
        for i in range(2):
            got = sheet[HEADER_PX + i * cell:HEADER_PX + (i + 1) * cell, j * cell:(j + 1) * cell]
            np.testing.assert_array_equal(got, cv2.resize(want[i], (cell, cell), interpolation=cv2.INTER_AREA))
    assert not np.array_equal(sheet[HEADER_PX:, :cell], sheet[HEADER_PX:, cell:2 * cell])  # joy moved the faces
