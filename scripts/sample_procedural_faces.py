"""Write a PNG sheet of procedural faces: rows are identities, columns are expressions.

Usage: PYTHONPATH=. python scripts/sample_procedural_faces.py --out sheet.png [--rows 6] [--size 128]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from lab.procedural import Emotions, face_params_from_emotions, render_face, sample_identity

COLUMNS: tuple[tuple[str, Emotions], ...] = (
    ("neutral", Emotions()),
    ("joy", Emotions(joy=1.0)),
    ("sadness", Emotions(sadness=1.0)),
    ("anger", Emotions(anger=1.0)),
    ("fear", Emotions(fear=1.0)),
    ("surprise", Emotions(surprise=1.0)),
    ("disgust", Emotions(disgust=1.0)),
    ("eye_close", Emotions(eye_close=1.0)),
    ("mouth_open", Emotions(mouth_open=1.0)),
    ("turn -1", Emotions(head_turn=-1.0)),
    ("turn +1", Emotions(head_turn=1.0)),
)


def build_sheet(rows: int, size: int, seed: int, zoom: int = 1) -> np.ndarray:
    """RGB sheet with a label strip on top; row r uses the identity drawn from seed + r."""
    label_h = 14 * zoom
    tile = size * zoom
    sheet = np.full((label_h + rows * tile, len(COLUMNS) * tile, 3), 255, np.uint8)
    for c, (name, _) in enumerate(COLUMNS):
        cv2.putText(
            sheet, name, (c * tile + 3, label_h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * zoom, (0, 0, 0), 1, cv2.LINE_AA
        )
    for r in range(rows):
        identity = sample_identity(np.random.default_rng(seed + r))
        for c, (_, emotions) in enumerate(COLUMNS):
            img = render_face(face_params_from_emotions(identity, emotions), size)
            if zoom > 1:
                img = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_NEAREST)
            sheet[label_h + r * tile : label_h + (r + 1) * tile, c * tile : (c + 1) * tile] = img
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--rows", type=int, default=6, help="number of identities")
    parser.add_argument("--size", type=int, default=128, help="face image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first identity")
    parser.add_argument("--zoom", type=int, default=1, help="nearest-neighbour zoom for viewing")
    args = parser.parse_args()
    sheet = build_sheet(args.rows, args.size, args.seed, args.zoom)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f"could not write {args.out}")
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
