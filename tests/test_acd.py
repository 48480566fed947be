"""Average Content Distance: exact on hand-computed examples, zero for still video, growing with change."""

from __future__ import annotations

import numpy as np
import pytest

from backend.metrics.acd import acd, acd_result, content_distance, pixel_embedding
from backend.rendering.frame_cache import generator_synthesizer
from backend.rendering.video import write_png_sequence


def first_two_channels(frames: np.ndarray) -> np.ndarray:
    """Embeds a 1×1 frame as its (R, G) values: lets a test choose the embeddings exactly."""
    return frames[:, 0, 0, :2].astype(np.float64)


def video_of_points(points: list[tuple[int, int]]) -> np.ndarray:
    return np.array([[[[r, g, 0]]] for r, g in points], np.uint8)


def test_hand_computed_example_pairwise_and_consecutive():
    # Embeddings (0,0), (3,4), (6,8): consecutive steps 5 and 5; pairs 5, 10, 5.
    video = video_of_points([(0, 0), (3, 4), (6, 8)])
    assert acd([video], first_two_channels, "consecutive") == pytest.approx(5.0)
    assert acd([video], first_two_channels, "pairwise") == pytest.approx(20 / 3)


def test_back_and_forth_separates_the_variants():
    # (0,0) → (3,4) → (0,0): consecutive 5 and 5; pairs 5, 0, 5 → 10/3.
    video = video_of_points([(0, 0), (3, 4), (0, 0)])
    assert acd([video], first_two_channels, "consecutive") == pytest.approx(5.0)
    assert acd([video], first_two_channels, "pairwise") == pytest.approx(10 / 3)


def test_set_score_is_the_mean_of_per_video_scores():
    a = video_of_points([(0, 0), (3, 4)])  # 5
    b = video_of_points([(0, 0), (6, 8), (6, 8)])  # consecutive (10 + 0) / 2 = 5; pairwise (10 + 10 + 0) / 3
    result = acd_result([a, b], first_two_channels, "pairwise")
    assert result.per_video == pytest.approx((5.0, 20 / 3))
    assert result.value == pytest.approx((5 + 20 / 3) / 2) and result.variant == "pairwise"


@pytest.mark.parametrize("variant", ["pairwise", "consecutive"])
def test_still_video_has_exactly_zero_acd(variant):
    frame = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    flat = np.full((24, 24, 3), 77, np.uint8)
    assert acd([np.stack([frame] * 5), np.stack([flat] * 3)], variant=variant) == 0.0


def test_acd_grows_as_the_face_changes_more(tiny_G):
    synthesize = generator_synthesizer(tiny_G)
    w0, w1 = tiny_G.w_from_seed(0).numpy(), tiny_G.w_from_seed(1).numpy()

    def video(span: float) -> np.ndarray:
        return synthesize(np.concatenate([w0 + a * (w1 - w0) for a in np.linspace(0, span, 6)]))

    for variant in ("pairwise", "consecutive"):
        scores = [acd([video(span)], variant=variant) for span in (0.0, 0.2, 1.0)]
        assert scores[0] == 0.0 < scores[1] < scores[2]


def test_videos_can_be_png_folders(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(4)]
    write_png_sequence(frames, tmp_path / "v")
    assert acd([tmp_path / "v"]) == pytest.approx(acd([np.stack(frames)]))


def test_pixel_embedding_is_unit_length_and_ignores_brightness_and_contrast():
    frame = np.random.default_rng(0).integers(50, 150, (40, 40, 3), dtype=np.uint8)
    brighter = (frame.astype(np.int32) * 3 // 2 + 20).astype(np.uint8)
    e = pixel_embedding(np.stack([frame, brighter]))
    assert e.shape == (2, 32 * 32)
    assert np.linalg.norm(e, axis=1) == pytest.approx([1.0, 1.0])
    assert np.linalg.norm(e[0] - e[1]) < 0.05


def test_frames_the_embedder_marks_unembeddable_are_skipped_and_counted():
    def no_face_when_red_is_255(frames: np.ndarray) -> np.ndarray:
        e = first_two_channels(frames)
        e[frames[:, 0, 0, 0] == 255] = np.nan
        return e

    video = video_of_points([(0, 0), (255, 0), (3, 4), (255, 0), (6, 8)])
    result = acd_result([video], no_face_when_red_is_255, "consecutive")
    assert result.value == pytest.approx(5.0) and result.skipped == (2,)
    with pytest.raises(ValueError, match="only 1 of its 3 frames could be embedded"):
        acd([video_of_points([(0, 0), (255, 0), (255, 0)])], no_face_when_red_is_255)
    with pytest.raises(ValueError, match="only whole rows of NaN"):
        acd([video], lambda f: np.where(np.arange(2) == 0, np.nan, first_two_channels(f)))


def test_bad_inputs_are_clear_errors():
    one_frame = video_of_points([(0, 0)])
    with pytest.raises(ValueError, match="T >= 2"):
        acd([one_frame], first_two_channels)
    with pytest.raises(ValueError, match="no videos"):
        acd([], first_two_channels)
    with pytest.raises(ValueError, match="variant"):
        content_distance(np.zeros((3, 2)), "mean")
    with pytest.raises(ValueError, match="embed must return"):
        acd([video_of_points([(0, 0), (1, 1)])], lambda f: np.zeros(len(f)))
