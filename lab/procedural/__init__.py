"""Procedural cartoon faces with exactly known FACS action units, emotions and head turn."""

from lab.procedural.expression import (
    AU_NAMES,
    CHANNEL_NAMES,
    EMOTION_NAMES,
    EMOTION_PROTOTYPES,
    ActionUnits,
    Emotions,
    ExpressionPrior,
    emotions_to_aus,
    sample_emotions,
)
from lab.procedural.identity import BeardStyle, GlassesStyle, HairStyle, Identity, sample_identity
from lab.procedural.params import (
    AU_SLICE,
    EMOTION_SLICE,
    IDENTITY_NAMES,
    IDENTITY_SLICE,
    VECTOR_NAMES,
    YAW_INDEX,
    FaceParams,
    face_params_from_emotions,
    face_params_from_seed,
    sample_face_params,
)
from lab.procedural.render import render_face

__all__ = [
    "AU_NAMES",
    "AU_SLICE",
    "CHANNEL_NAMES",
    "EMOTION_NAMES",
    "EMOTION_PROTOTYPES",
    "EMOTION_SLICE",
    "IDENTITY_NAMES",
    "IDENTITY_SLICE",
    "VECTOR_NAMES",
    "YAW_INDEX",
    "ActionUnits",
    "BeardStyle",
    "Emotions",
    "ExpressionPrior",
    "FaceParams",
    "GlassesStyle",
    "HairStyle",
    "Identity",
    "emotions_to_aus",
    "face_params_from_emotions",
    "face_params_from_seed",
    "render_face",
    "sample_emotions",
    "sample_face_params",
    "sample_identity",
]
