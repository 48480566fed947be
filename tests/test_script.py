"""Emotion script format: the paper's Fig. 7, our extensions, and errors that point at the text."""

from __future__ import annotations

import contextlib
import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.animation.channels import CHANNEL_NAMES, CHANNELS, VOCABULARY, make_channels, normalize_word
from backend.animation.script import MAX_FRAME, Keyframe, Script, ScriptError, format_script, load_script, parse_script

# Zhang & Pollett (2021), Fig. 7, as printed: the first comment wraps onto a second line there.
FIG7_AS_PRINTED = """\
# Videos are generated with a single picture
  on row 1 column 1.
# Video 1:
joy disgusting
joy eye-open
surprise joy turning-right
joy turning-right
joy anger
# Video 2:
surprise anger eye-close
surprise disgusting eye-close
surprise eye-close
surprise joy
surprise sad fear
surprise turning-left
"""
# The same script as its authors' program would have read it: one comment line.
FIG7 = FIG7_AS_PRINTED.replace("\n  on row 1 column 1.", " on row 1 column 1.")


def nonzero(keyframe: Keyframe) -> dict[str, float]:
    return {name: value for name, value in keyframe.values.items() if value != 0}


def error_of(text: str, **kwargs: object) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        parse_script(text, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_fig7_parses_to_two_clips_with_one_keyframe_per_line_after_the_start_face() -> None:
    script = parse_script(FIG7)

    assert [(clip.index, clip.name, clip.line) for clip in script.clips] == [(1, "Video 1", 2), (2, "Video 2", 8)]
    video1, video2 = script.clips
    assert [nonzero(k) for k in video1.keyframes] == [
        {},
        {"joy": 1.0, "disgust": 1.0},
        {"joy": 1.0},
        {"joy": 1.0, "surprise": 1.0, "head_turn": 1.0},
        {"joy": 1.0, "head_turn": 1.0},
        {"joy": 1.0, "anger": 1.0},
    ]
    assert [nonzero(k) for k in video2.keyframes] == [
        {},
        {"anger": 1.0, "surprise": 1.0, "eye_close": 1.0},
        {"surprise": 1.0, "disgust": 1.0, "eye_close": 1.0},
        {"surprise": 1.0, "eye_close": 1.0},
        {"joy": 1.0, "surprise": 1.0},
        {"sadness": 1.0, "fear": 1.0, "surprise": 1.0},
        {"surprise": 1.0, "head_turn": -1.0},
    ]
    assert [k.line for k in video1.keyframes] == [None, 3, 4, 5, 6, 7]
    assert [k.frame for k in video2.keyframes] == [0, 33, 66, 99, 132, 165, 198]


def test_fig7_as_printed_fails_on_the_wrapped_comment_line() -> None:
    error = error_of(FIG7_AS_PRINTED)

    assert (error.line, error.column, error.word) == (2, 3, "on")
    assert str(error).startswith("line 2, column 3: unknown emotion word 'on'")


def test_every_clip_starts_from_the_start_face_at_frame_zero() -> None:
    for clip in parse_script(FIG7).clips:
        start = clip.keyframes[0]
        assert (start.frame, start.line) == (0, None)
        assert dict(start.values) == dict.fromkeys(CHANNEL_NAMES, 0.0)


def test_keyframes_are_frames_between_plus_one_apart() -> None:
    assert [k.frame for k in parse_script("joy\nsad\nfear").clips[0].keyframes] == [0, 33, 66, 99]
    assert [k.frame for k in parse_script("joy\nsad", frames_between=7).clips[0].keyframes] == [0, 8, 16]
    assert [k.frame for k in parse_script("joy\nsad", frames_between=0).clips[0].keyframes] == [0, 1, 2]


def test_unnamed_channels_return_to_zero_rather_than_hold() -> None:
    keyframes = parse_script("joy anger\nanger").clips[0].keyframes

    assert keyframes[2].values["joy"] == 0.0
    assert keyframes[2].values["anger"] == 1.0


def test_every_keyframe_lists_every_channel_in_order() -> None:
    script = parse_script(FIG7)

    assert script.channels == CHANNEL_NAMES
    assert all(tuple(k.values) == CHANNEL_NAMES for clip in script.clips for k in clip.keyframes)


def test_intensity_scales_the_word_with_its_sign() -> None:
    values = parse_script("joy:0.6 head_turn:-0.5 eye-close:.25 fear:-1e-1").clips[0].keyframes[1].values
    assert (values["joy"], values["head_turn"], values["eye_close"], values["fear"]) == (0.6, -0.5, 0.25, -0.1)

    assert parse_script("turning-left:0.5").clips[0].keyframes[1].values["head_turn"] == -0.5
    assert parse_script("turning-left:-1").clips[0].keyframes[1].values["head_turn"] == 1.0


def test_words_match_regardless_of_case_and_separator() -> None:
    text = "EYE_CLOSE Joy\nEye Close joy\nclose eyes JOY\nturning right eye-close\nHead-Turn:-0.5"
    keyframes = parse_script(text).clips[0].keyframes

    assert [nonzero(k) for k in keyframes[1:4]] == [{"joy": 1.0, "eye_close": 1.0}] * 3
    assert nonzero(keyframes[4]) == {"eye_close": 1.0, "head_turn": 1.0}
    assert nonzero(keyframes[5]) == {"head_turn": -0.5}


def test_vocabulary_has_the_paper_words_and_every_channel_name() -> None:
    paper = {
        "joy": ("joy", 1),
        "disgusting": ("disgust", 1),
        "surprise": ("surprise", 1),
        "anger": ("anger", 1),
        "sad": ("sadness", 1),
        "fear": ("fear", 1),
        "eye-close": ("eye_close", 1),
        "eye-open": ("eye_close", 0),
        "turning-left": ("head_turn", -1),
        "turning-right": ("head_turn", 1),
    }
    for word, (channel, sign) in paper.items():
        found = VOCABULARY[normalize_word(word)]
        assert (found.channel, found.sign) == (channel, sign)
    for name in CHANNEL_NAMES:
        assert VOCABULARY[name].channel == name
    assert [c.label for c in CHANNELS][-3:] == ["Eye Close", "Mouth Open", "Head Turn"]


def test_eye_open_pins_eye_close_at_zero_and_neutral_sets_nothing() -> None:
    keyframes = parse_script("neutral\ncalm joy eye-open\nmouth-close").clips[0].keyframes

    assert [nonzero(k) for k in keyframes[1:]] == [{}, {"joy": 1.0}, {}]


def test_relative_and_absolute_frame_markers() -> None:
    keyframes = parse_script("joy +16\n@100 sad\nfear\nneutral +1").clips[0].keyframes

    assert [k.frame for k in keyframes] == [0, 16, 100, 133, 134]


def test_script_without_headers_is_video_1() -> None:
    (clip,) = parse_script("\n\njoy\n").clips

    assert (clip.index, clip.name, clip.line) == (1, "Video 1", None)


def test_header_styles_and_clip_names() -> None:
    text = "# Video 1:\njoy\nVideo 2:\nsad\nvideo 3\nfear\n#VIDEO 7: slow turn # of the head\nturning-left"
    clips = parse_script(text).clips

    assert [(c.index, c.name, c.line) for c in clips] == [
        (1, "Video 1", 1),
        (2, "Video 2", 3),
        (3, "Video 3", 5),
        (7, "slow turn # of the head", 7),
    ]


def test_comments_and_blank_lines_are_ignored() -> None:
    text = "# Videos are generated with a single picture\n\njoy   # smiling\n   \n\t# indented comment\nsad#no space"

    assert [nonzero(k) for k in parse_script(text).clips[0].keyframes] == [{}, {"joy": 1.0}, {"sadness": 1.0}]


def test_windows_line_endings_and_byte_order_mark() -> None:
    assert parse_script("\ufeff# Video 1:\r\njoy\r\nsad\r\n") == parse_script("# Video 1:\njoy\nsad\n")


def test_extra_channels_become_words_and_values() -> None:
    script = parse_script("brow-raise:0.5 joy\nBrow Raise", extra_channels=["brow_raise"])

    assert script.channels == (*CHANNEL_NAMES, "brow_raise")
    assert [nonzero(k) for k in script.clips[0].keyframes[1:]] == [{"joy": 1.0, "brow_raise": 0.5}, {"brow_raise": 1.0}]
    assert "did you mean 'brow_raise'" in str(error_of("brow raiser", extra_channels=["brow_raise"]))


@pytest.mark.parametrize("name", ["joy", "happy", "eye-open", "2fast", "", "a b!"])
def test_extra_channel_names_must_be_new_identifiers(name: str) -> None:
    with pytest.raises(ValueError):
        make_channels([name])


def test_a_first_line_at_frame_zero_is_the_clips_start_face() -> None:
    script = parse_script("# Video 1:\njoy:0.8 turning-left @0\nneutral +10\n# Video 2:\njoy")
    first, second = script.clips
    assert [k.frame for k in first.keyframes] == [0, 10] and first.keyframes[0].values["joy"] == 0.8
    assert first.keyframes[0].values["head_turn"] == -1 and second.keyframes[0].values["joy"] == 0
    assert parse_script(format_script(script)) == script
    assert [k.frame for k in parse_script("fear @0").clips[0].keyframes] == [0]


def test_unknown_word_names_line_column_and_nearest_words() -> None:
    error = error_of("# Video 1:\njoy\nsurprise hapy:0.5")

    assert (error.line, error.column, error.word) == (3, 10, "hapy")
    assert str(error).startswith("line 3, column 10: unknown emotion word 'hapy' (did you mean 'happy'")
    assert "did you mean 'eye-close'?" in str(error_of("eye clsoe"))


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("joy:2.5", 1, 5, "outside [-2, 2]"),
        ("turning-left:-2.01", 1, 14, "outside [-2, 2]"),
        ("joy:nan", 1, 5, "bad intensity 'nan'"),
        ("joy:inf", 1, 5, "bad intensity 'inf'"),
        ("joy:1e999", 1, 5, "not a finite number"),
        ("joy:", 1, 5, "bad intensity ''"),
        ("joy:0x1", 1, 5, "bad intensity"),
        ("joy:１", 1, 5, "bad intensity"),
        (":0.5", 1, 1, "missing emotion word"),
        ("eye-open:0.5", 1, 10, "takes no intensity"),
        ("neutral:1", 1, 9, "takes no intensity"),
        ("joy happy", 1, 5, "channel 'joy' is already set on this line by 'joy'"),
        ("eye-close eye-open", 1, 11, "already set"),
        ("joy @40\nsad @40", 2, 5, "frame 40 is not after the previous keyframe (frame 40)"),
        ("joy\nsad @0", 2, 5, "not after"),
        ("joy @0\nsad @0", 2, 5, "not after"),
        ("joy +0", 1, 5, "at least 1"),
        ("joy +-3", 1, 5, "bad frame offset"),
        ("joy @1.5", 1, 5, "bad frame '@N'"),
        ("joy +16 @40", 1, 9, "only one"),
        (f"joy @{MAX_FRAME + 1}", 1, 5, "past the last frame"),
        ("joy @" + "9" * 5000, 1, 5, "past the last frame"),
        ("+16", 1, 1, "needs an emotion word"),
        ("# Video 1:\n\n# Video 2:\njoy", 1, 1, "Video 1 has no keyframes"),
        ("# Video 1:\njoy\n# Video 2:\n", 3, 1, "Video 2 has no keyframes"),
        ("# Video 1:\njoy\n  # Video 1:\nsad", 3, 3, "Video 1 appears twice"),
        ("joy\n# Video 1:\nsad", 1, 1, "before the first 'Video N:' header"),
        ("", 1, 1, "no keyframes"),
        ("# only a comment\n\n", 1, 1, "no keyframes"),
        ("joy\x00", 1, 1, "unknown emotion word 'joy\\x00'"),
        ("video", 1, 1, "unknown emotion word 'video'"),
    ],
)
def test_bad_scripts_raise_script_error_at_the_offending_place(text: str, line: int, column: int, reason: str) -> None:
    error = error_of(text)

    assert (error.line, error.column) == (line, column)
    assert reason in error.reason
    assert str(error) == f"line {line}, column {column}: {error.reason}"


def test_script_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(error_of("sad\nhapy")))

    assert (error.line, error.column, error.word, str(error)) == (2, 1, "hapy", str(error_of("sad\nhapy")))


def test_frames_between_must_be_a_whole_number_of_frames() -> None:
    with pytest.raises(ValueError):
        parse_script("joy", frames_between=-1)


def test_keyframe_values_are_read_only() -> None:
    keyframe = parse_script("joy").clips[0].keyframes[1]

    with pytest.raises(TypeError):
        keyframe.values["joy"] = 0.5  # type: ignore[index]


def test_load_script_reads_utf8_and_reports_other_encodings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "fig7.txt"
    good.write_text(FIG7, encoding="utf-8-sig")
    assert load_script(good) == parse_script(FIG7)

    bad = tmp_path / "latin1.txt"
    for bom in (b"", b"\xef\xbb\xbf"):
        bad.write_bytes(bom + "joy\nsad surpris\xe9\n".encode("latin-1"))
        with pytest.raises(ScriptError) as info:
            load_script(bad)
        assert (info.value.line, info.value.column) == (2, 12)


def test_format_script_round_trips_fig7() -> None:
    script = parse_script(FIG7)

    assert parse_script(format_script(script)) == script
    assert format_script(script).startswith("# Video 1:\njoy disgust\njoy\n")


# --- properties -------------------------------------------------------------------------------

SOUP = st.sampled_from(
    [
        "joy", "Eye", "close", "eye-open", "turning", "left", "neutral", "disgusting", "video", "Video 1:",
        "# Video 2", "#", ":", "joy:", ":0.5", "joy:0.5", "joy:-1", "nan", "inf", "-inf", "1e999", "1e-400",
        "+", "@", "+0", "+16", "@33", "@-1", "9" * 40, "\x00", "\ufeff", "\u2028", "\x85", "é", "İ", "ﬀ", "１",
    ]
)  # fmt: skip
SEPARATOR = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\r", ""])


def assert_well_formed(script: Script) -> None:
    assert script.clips
    for clip in script.clips:
        frames = [k.frame for k in clip.keyframes]
        assert frames[0] == 0 and frames[-1] <= MAX_FRAME
        assert all(a < b for a, b in zip(frames, frames[1:], strict=False))
        assert not any(clip.keyframes[0].values.values())
        assert all(math.isfinite(v) and -1 <= v <= 1 for k in clip.keyframes for v in k.values.values())


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_parses_or_raises_script_error(text: str) -> None:
    with contextlib.suppress(ScriptError):
        assert_well_formed(parse_script(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(SOUP | st.text(max_size=4), SEPARATOR), max_size=20))
def test_script_like_noise_parses_or_raises_script_error(pieces: list[tuple[str, str]]) -> None:
    with contextlib.suppress(ScriptError):
        assert_well_formed(parse_script("".join(a + b for a, b in pieces)))


WORDS = sorted(VOCABULARY)


@st.composite
def keyframe_lines(draw: st.DrawFn) -> str:
    meaning = lambda word: VOCABULARY[word].channel or word  # noqa: E731 - one channel per line
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4, unique_by=meaning))
    parts = []
    for word in words:
        spelled = draw(st.sampled_from([word, word.replace("_", "-"), word.upper(), word.replace("_", " ")]))
        if VOCABULARY[word].sign != 0 and draw(st.booleans()):
            spelled += ":" + repr(draw(st.floats(-1, 1)))
        parts.append(spelled)
    timing = draw(st.sampled_from(["", f" +{draw(st.integers(1, 99))}", " # comment"]))
    return " ".join(parts) + timing


@st.composite
def scripts(draw: st.DrawFn) -> str:
    indices = draw(st.lists(st.integers(1, 99), min_size=1, max_size=3, unique=True))
    clips = []
    for index in indices:
        header = draw(st.sampled_from(["# Video {}:", "Video {}", "# video {}: take {}"])).format(index, index)
        clips.append("\n".join([header, *draw(st.lists(keyframe_lines(), min_size=1, max_size=5))]))
    return "\n\n".join(clips)


@settings(max_examples=200, deadline=None)
@given(scripts(), st.integers(0, 40))
def test_generated_scripts_parse_and_round_trip_through_format(text: str, frames_between: int) -> None:
    script = parse_script(text, frames_between=frames_between)

    assert_well_formed(script)
    assert parse_script(format_script(script, frames_between=frames_between), frames_between=frames_between) == script
