"""The real-face path end to end on realistic faces (issue 32): learn -> eval -> invert -> capture
with the shipped photoreal stand-in (``models/standin``, research only, 64 px) and the real face
readers, small enough for the CI tier (the loop itself in the lab tier while it fails).

The whole loop does not hold yet on the shipped stand-in. Its first fit drew blurred average faces
on which face-api's landmark net scattered its 68 points, so the readers refused them
(``reading.refusal``: landmarks and MTCNN's points disagreed by 0.29-0.36 of the box; the teacher's
faces 0.04 median; 1 of 24 samples read). The sharpened fit (10,128, then 11,640 steps) gets past
that: samples are read and learn-directions learns; the loop now fails where the joy direction
should raise fer's joy on held-out faces. The loop's test is therefore a strict xfail: it runs, fails where the
stand-in falls short, and turns into a failure to remove the mark once a better-fitted stand-in is
committed. What holds today is tested apart, in the CI tier: the same loop for head turn, and a
face the stand-in drew inverted into it and recognised as its own while the astronaut photo is not.
"""

from __future__ import annotations

import numpy as np
import pytest

from backend.animation.channels import CHANNEL_NAMES
from backend.animation.latent import compose_latent
from backend.learning.readers import face_reader
from backend.learning.self_labelled import EVALUATION_STREAM, LearnSettings, held_out_faces, learn_generator_directions
from backend.metrics.evaluation import evaluate_channel
from backend.model.checkpoints import load_generator
from backend.model.generator import synthesize_frames
from backend.photos.face_code import FaceFeatures, central_box, invert_aligned, likeness_warning, photo_face
from backend.readers.capture import capture
from backend.readers.reading import FaceReaders
from backend.rendering.render import resize

from .conftest import ROOT
from .test_face_readers import astronaut

pytestmark = pytest.mark.usefixtures("one_thread")

STANDIN = ROOT / "models" / "standin" / "generator.safetensors"
NOT_YET = ("the shipped stand-in (11,640 steps, models/standin/MODEL_CARD.md) is still blurred: learn-directions "
           "finds faces to learn from, but with 128 samples its joy direction does not raise fer's joy on held-out "
           "faces (reading 0.34 at 0, 0.25 at 1; Spearman 0.03 over 3 faces); with 2,000 (scripts/eval_standin.py) "
           "it does, not yet monotonically on every face (Spearman 0.65)")


def invert_perform_capture(G, face: np.ndarray, channel: str, directions, steps: int, size: int | None = None
                           ) -> tuple[np.ndarray, np.ndarray, float]:
    """A face the generator drew (W+ code ``face``) is inverted (the independent measure must call it
    the same face), performs ``channel`` 0 -> 1 -> 0 in 13 frames (drawn at ``size``) and is
    captured: (performed, captured channel values, share of frames the face was read in)."""
    photo = synthesize_frames(G, face[None])[0]
    inverted = invert_aligned(G, photo, steps=steps, features=FaceFeatures(central_box(G.config.img_resolution)))
    assert likeness_warning(inverted) is None
    performed = np.concatenate([np.linspace(0, 1, 7), np.linspace(1, 0, 7)[1:]])
    frames = synthesize_frames(G, compose_latent(inverted.w_plus, {channel: performed}, directions))
    captured = capture([f if size is None else resize(f, size) for f in frames], 25.0, FaceReaders(), smoothing=None)
    values = captured.values[:, CHANNEL_NAMES.index(channel)]
    print("captured", channel, np.round(values, 3).tolist(), "found", int(captured.found.sum()))
    return performed, values, float(captured.found.mean())


def test_the_loop_holds_for_head_turn_on_the_standin(tmp_path):
    """What does hold end to end today, in the CI tier so that the path cannot silently break: a
    head-turn direction self-labelled by face-api's landmarks turns held-out faces for the
    evaluator, an inverted face keeps its likeness, and capture's turn rises where the performed
    turn rises (64 samples, 2 faces: small and fast, so the bounds are the loop's direction)."""
    G, info = load_generator(STANDIN)
    labeller, evaluator = face_reader("labeller"), face_reader("evaluator")
    settings = LearnSettings(samples=64, faces=2, rows=((0, 8),), min_examples=5)
    learned = learn_generator_directions(G, info.fingerprint, labeller.read, labeller.key, tmp_path, settings)
    assert learned.readable >= 0.8 * learned.samples and "head_turn" in learned.directions

    faces = held_out_faces(G, 2, settings.truncation, 0, EVALUATION_STREAM)
    turn, _ = evaluate_channel(G, learned.directions, evaluator.read, faces, "head_turn", 5)
    print("eval head turn", turn)
    assert turn.spearman > 0.8 and turn.reading_at_1 > turn.reading_at_0 + 0.3

    # At 256 px, as `render --size 256` makes them: on the 64 px frames MTCNN found 9 of 13.
    performed, values, found = invert_perform_capture(G, faces[0], "head_turn", learned.directions, 30, size=256)
    # Measured: the face read in 10 of 13 frames (the three most turned refused, filled between
    # their neighbours); captured turn -1.1 on average where performed <= 0.2, +0.9 where >= 0.6; r 0.76.
    assert found >= 0.7
    assert values[performed >= 0.6].mean() > values[performed <= 0.2].mean() + 0.5
    assert np.corrcoef(performed, values)[0, 1] > 0.5


# In the lab tier while it fails (41 s): scripts/test.py runs the tier whenever the stand-in or this
# file changes, so a stand-in that makes the loop hold turns the strict xfail into a failure there.
# Passing, it belongs in the CI tier: drop both marks.
@pytest.mark.lab
@pytest.mark.xfail(strict=True, reason=NOT_YET)
def test_captured_joy_rises_where_performed_joy_rises_on_the_standin(tmp_path):
    G, info = load_generator(STANDIN)
    labeller, evaluator = face_reader("labeller"), face_reader("evaluator")
    # First, cheaply: the readers read most of 8 of its faces (what blocks the loop today).
    drawn = synthesize_frames(G, held_out_faces(G, 8, 1.0, 1, EVALUATION_STREAM))
    assert sum(bool(FaceReaders().read(face)) for face in drawn) >= 6

    # learn: self-labelled by face-api, as a user with their own generator runs it (small: 128
    # samples, one row range, 4 calibration faces).
    settings = LearnSettings(samples=128, faces=4, rows=((0, G.num_ws),), min_examples=5)
    learned = learn_generator_directions(G, info.fingerprint, labeller.read, labeller.key, tmp_path, settings)
    print("learned", [d.name for d in learned.directions.directions], "read", learned.readable, "of", learned.samples)
    assert learned.readable >= 0.8 * learned.samples  # the readers read the generator's faces
    assert "joy" in learned.directions

    # eval: the independent evaluator (fer) on held-out faces sees joy rise from value 0 to 1.
    faces = held_out_faces(G, 3, settings.truncation, 0, EVALUATION_STREAM)
    joy, _ = evaluate_channel(G, learned.directions, evaluator.read, faces, "joy", 5)
    print("eval joy (fer happy)", joy)
    assert joy.reading_at_1 > joy.reading_at_0 and joy.spearman > 0.3

    # invert, then capture: the inverted face performs joy 0 -> 1 -> 0; captured joy rises where
    # performed joy rises.
    performed, values, found = invert_perform_capture(G, faces[0], "joy", learned.directions, 60)
    assert found >= 0.8
    assert values[performed >= 0.6].mean() > values[performed <= 0.2].mean() + 0.1
    assert np.corrcoef(performed, values)[0, 1] > 0.5


@pytest.mark.slow
def test_a_face_the_standin_drew_comes_back_as_its_own_and_the_astronaut_does_not():
    G, _ = load_generator(STANDIN)
    res = G.config.img_resolution
    features = FaceFeatures(central_box(res))
    own = synthesize_frames(G, held_out_faces(G, 1, 1.0, 0, EVALUATION_STREAM))[0]
    inverted = invert_aligned(G, own, steps=30, features=features)
    assert likeness_warning(inverted) is None and inverted.fer_distance < 0.5  # 0.011 measured (100 steps)
    # The astronaut photo: the stand-in draws no such face (`invert`, 300 steps: fer distance 5.49,
    # though the identity distance it minimised is 0.224).
    face = photo_face(astronaut()["astronaut_rgb512"], res, None, FaceReaders(crop_size=res))
    inverted = invert_aligned(G, face.aligned, steps=30, features=FaceFeatures(face.box), box=face.box)
    warning = likeness_warning(inverted)
    assert warning is not None and "cannot draw this face" in warning, inverted.fer_distance
