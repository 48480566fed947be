"""face-api's expression net (112x112 RGB face -> 7 emotion logits): the labeller."""

from __future__ import annotations

from .densenet import DenseHeadNet
from .weights import load_network

EXPRESSION_LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


def load_expression_net() -> DenseHeadNet:
    """face-api 1.7.15's expression net: ``faceapi_input`` images -> ``[N, 7]`` logits
    (``EXPRESSION_LABELS`` order; softmax for face-api's probabilities)."""
    return load_network(DenseHeadNet(len(EXPRESSION_LABELS)), "faceapi_expression")
