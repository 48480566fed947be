"""Writes sg2ada-1024-slim.ref.npz here from the full reference in shared/reference-fixtures.

The full file holds the 1024 px image as float32 (11 MB); this subset keeps the W+ codes whole,
the image average-pooled 4x4 (every pixel still counts) and five 64x64 patches at full
resolution (corners and centre), so the exactness test stays exact on real pixels.

    python tests/data/upstream/subset_1024_ref.py ../shared/reference-fixtures/sg2ada-1024-slim.ref.npz
"""

import sys
from pathlib import Path

import numpy as np

PATCH = 64
ORIGINS = np.array([[0, 0], [0, 960], [480, 480], [960, 0], [960, 960]], dtype=np.int64)


def pool4(img: np.ndarray) -> np.ndarray:
    n, c, h, w = img.shape
    return img.reshape(n, c, h // 4, 4, w // 4, 4).mean(axis=(3, 5), dtype=np.float64).astype(np.float32)


def patches(img: np.ndarray) -> np.ndarray:
    return np.stack([img[0, :, y:y + PATCH, x:x + PATCH] for y, x in ORIGINS])


def main(src: str) -> None:
    ref = np.load(src)
    img = ref["img_psi07"]
    np.savez_compressed(Path(__file__).with_name("sg2ada-1024-slim.ref.npz"), z=ref["z"], c=ref["c"],
                        ws_psi07=ref["ws_psi07"], img_psi07_pool4=pool4(img), img_psi07_patches=patches(img),
                        patch_origins=ORIGINS)


if __name__ == "__main__":
    main(sys.argv[1])
