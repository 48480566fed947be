"""Descriptions in words → steps → emotion scripts: the rules, the sentence model, the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.animation.channels import CHANNEL_NAMES, VALUE_LIMIT
from backend.animation.script import parse_script
from backend.language import MAX_TEXT_CHARS, LanguageError, describe
from backend.language.embedding import TEXT_MODEL_DIR, WordPiece, load_phrase_reader, load_sentence_model
from backend.language.steps import DEFAULT_RAMP_S
from backend.language.words import ACTIONS, INTENSITIES

from .conftest import ROOT, backend_cli, script_module
from .test_render import rig  # noqa: F401,F811  (a fixture: the tiny generator and its directions)

pytestmark = pytest.mark.usefixtures("one_thread")
DATA = ROOT / "tests" / "data" / "language"
HAS_MODEL = (TEXT_MODEL_DIR / "minilm_l6.safetensors").is_file()


def states(text: str, **kw) -> list[dict[str, float]]:
    return [dict(s.state) for s in describe(text, **kw).steps]


def keyframes(text: str, fps: float = 25.0) -> list[tuple[int, dict[str, float]]]:
    """(frame, non-zero values) of every keyframe of the script a description makes."""
    clip = parse_script(describe(text, fps=fps).script).clips[0]
    return [(k.frame, {c: v for c, v in k.values.items() if v}) for k in clip.keyframes]


# --- the rules -----------------------------------------------------------------------------------

def test_the_issue_example_reads_as_two_timed_steps():
    d = describe("She smiles slightly, then suddenly looks shocked and turns to the left.")
    assert [dict(s.state) for s in d.steps] == [{"joy": 0.4}, {"surprise": 1.3, "head_turn": -1.0}]
    assert d.steps[0].ramp_s == DEFAULT_RAMP_S and d.steps[1].ramp_s == 0.2
    assert d.unknown == ()
    frames = keyframes(d.text)
    assert frames[1] == (25, {"joy": 0.4})  # one second at 25 fps
    assert frames[3][1] == {"surprise": 1.3, "head_turn": -1.0} and frames[3][0] - frames[2][0] == 5  # 0.2 s


@pytest.mark.parametrize("text, joy", [
    ("She smiles.", 1.0), ("She smiles slightly.", 0.4), ("She smiles a little.", 0.4),
    ("She smiles very happily.", 1.4), ("She is extremely happy.", 1.8), ("He grins.", 1.4), ("He is beaming.", 1.5), ("A faint smile.", 0.4)])
def test_intensity_words_scale_the_action(text, joy):
    assert states(text) == [{"joy": pytest.approx(joy)}]


def test_intensities_never_leave_the_value_limit():
    assert states("She is extremely ecstatic.") == [{"joy": VALUE_LIMIT}]
    assert max(INTENSITIES.values()) * max(abs(v) for a in ACTIONS.values() for v in a.values()) > VALUE_LIMIT


def test_negation_sets_the_channel_to_zero_before_or_after():
    assert states("She smiles, then stops smiling.") == [{"joy": 1.0}, {}]
    assert states("He is not angry.") == [{}]
    assert states("She grins. Her smile fades and she looks away to the left.") == [{"joy": 1.4}, {"head_turn": -1.0}]


def test_values_carry_over_and_a_new_emotion_replaces_the_old_one():
    assert states("She turns right, then smiles, then looks scared.") == [
        {"head_turn": 1.0}, {"head_turn": 1.0, "joy": 1.0}, {"head_turn": 1.0, "fear": 1.0}]
    assert states("He is surprised and delighted.") == [{"surprise": 1.0, "joy": 1.0}]


def test_commas_join_what_fits_and_split_what_clashes():
    assert states("Looking scared, she turns to the left.") == [{"fear": 1.0, "head_turn": -1.0}]
    assert states("She smiles, frowns, and gasps.") == [{"joy": 1.0}, {"anger": 1.0},
                                                        {"surprise": 1.0, "mouth_open": 0.8}]


def test_return_to_neutral_clears_every_channel():
    assert states("She laughs with her eyes closed, then relaxes.") == [
        {"joy": 1.6, "mouth_open": 0.8, "eye_close": 1.0}, {}]
    assert keyframes("He frowns, then returns to neutral.")[-1][1] == {}


def test_head_eyes_and_mouth():
    assert states("He turns his head to the left. Then right. Then faces forward.") == [
        {"head_turn": -1.0}, {"head_turn": 1.0}, {}]
    assert states("She closes her eyes, then opens them wide.") == [{"eye_close": 1.0}, {"eye_close": -1.0}]
    assert states("He opens his mouth, then closes it.") == [{"mouth_open": 1.0}, {}]
    assert states("She turns slightly to the right.") == [{"head_turn": 0.4}]


def test_durations_become_frames_at_the_given_fps():
    d = describe("She smiles for two seconds, then slowly frowns over 3 seconds.", fps=10)
    assert [(s.hold_s, s.ramp_s) for s in d.steps] == [(2.0, DEFAULT_RAMP_S), (0.5, 3.0)]
    frames = [f for f, _ in keyframes(d.text, fps=10)]
    assert frames == [0, 10, 30, 60, 65]
    assert describe("After 50 frames he smiles.", fps=25).steps[0].delay_s == 2.0
    assert describe("She smiles, holds it, then waits a moment.").steps[0].hold_s == 1.0


def test_gestures_come_back_to_where_they_started():
    d = describe("She blinks twice and smiles.")
    assert [s.gesture for s in d.steps] == ["blink", "blink", None]
    frames = keyframes(d.text)
    assert frames[1][1] == {"eye_close": 1.0} and frames[2][1] == {}
    shake = keyframes("He turns left, then shakes his head.")
    assert [v.get("head_turn") for _, v in shake[3:]] == [pytest.approx(-1.4), pytest.approx(-0.6),
                                                          pytest.approx(-1.4), -1.0]


def test_unknown_words_are_reported_with_their_position_and_function_words_are_not():
    d = describe("She smiles at the flibbertigibbet and the dog.")
    assert [(u.word, u.position) for u in d.unknown] == [("flibbertigibbet", 19), ("dog", 43)]
    assert "'flibbertigibbet' at character 19" in d.report()
    nod = describe("He smiles and nods.")
    assert [(u.word, u.position) for u in nod.unknown] == [("nods", 15)] and "head pitch" in nod.unknown[0].reason


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   \n ", "empty"), ("blorp zing", "nothing in the description says what the face does"),
    ("She and the man.", "nothing in the description"), ("x" * (MAX_TEXT_CHARS + 1), "at most 4,000"),
    ("She smiles for 9000 seconds.", "character 12: 'for 9000 seconds' is too long"),
    ("She smiles for 99999999999999999999 seconds.", "too large"),
    ("She smiles for 20 minutes.", "too long"),
])
def test_bad_descriptions_are_clear_errors(text, message):
    with pytest.raises(LanguageError, match=message):
        describe(text)


def test_ten_megabytes_of_text_and_other_bad_arguments_are_refused():
    with pytest.raises(LanguageError, match="10,485,760 characters long"):
        describe(("She smiles. " * 2**20)[: 10 * 2**20])
    with pytest.raises(LanguageError, match="fps"):
        describe("She smiles.", fps=0)
    with pytest.raises(LanguageError, match="must be text"):
        describe(b"She smiles.")  # type: ignore[arg-type]


def test_a_description_that_would_pass_blenders_last_frame_is_an_error():
    text = " ".join(["She smiles for 300 seconds, then frowns for 300 seconds."] * 60)
    with pytest.raises(LanguageError, match="past frame 1048574"):
        describe(text, fps=1000)


WORDS = ["she", "smiles", "then", "slightly", "very", "not", "suddenly", "slowly", "for", "two", "seconds", "frowns",
         "left", "right", "turns", "and", "closes", "her", "eyes", "opens", "mouth", "blinks", "relaxes", ",", ".",
         "while", "grins", "extremely", "holds", "it", "after", "3", "frames", "zorp", "shakes", "head", "scared"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=30), st.sampled_from([1.0, 12.0, 25.0, 60.0]))
def test_any_word_salad_is_a_parseable_script_within_the_limits_or_a_clear_error(words, fps):
    try:
        d = describe(" ".join(words), fps=fps)
    except LanguageError:
        return
    script = parse_script(d.script)
    for key in script.clips[0].keyframes:
        assert all(abs(v) <= VALUE_LIMIT for v in key.values.values())
    assert set(script.channels) == set(CHANNEL_NAMES)


# --- times, amounts, stops, holds (issue 30) --------------------------------------------------------

def channel_keys(text: str, channel: str, **kw) -> list[tuple[int, float]]:
    """(frame, value) of every keyframe of `channel` in the script a description makes, at 25 fps."""
    clip = parse_script(describe(text, **kw).script).clips[0]
    return [(k.frame, k.values[channel]) for k in clip.keyframes]


def test_clock_times_place_a_change_and_its_stop_on_the_timeline():
    keys = channel_keys("She smiles at 0:02 and stops at 0:05.", "joy")
    assert (50, 0.0) in keys and (75, 1.0) in keys  # begins at 2 s, full a second later
    assert (125, 1.0) in keys and (150, 0.0) in keys  # the stop begins at 5 s


@pytest.mark.parametrize("text, begin_frame", [
    ("At 1.5s she gets scared.", 38), ("At frame 40 she gets scared.", 40), ("She gets scared at 2 seconds.", 50),
    ("He frowns. Three seconds later he gets scared.", 100),  # 3 s after the frown is complete (1 s)
    ("He frowns, and after a beat he gets scared.", 38),
])
def test_times_say_when_a_change_begins(text, begin_frame):
    keys = channel_keys(text, "fear")
    first = next(i for i, (_, v) in enumerate(keys) if v)
    assert keys[first - 1] == (begin_frame, 0.0)


def test_meanwhile_and_absolute_times_overlap_the_change_before():
    text = "She smiles for 4 seconds; meanwhile, at 2 seconds, she turns to the right."
    joy, turn = channel_keys(text, "joy"), channel_keys(text, "head_turn")
    assert (50, 0.0) in turn and (75, 1.0) in turn  # the turn at 2-3 s ...
    assert all(v == 1.0 for f, v in joy if 25 <= f <= 125)  # ... while the smile holds
    assert channel_keys("She smiles. Meanwhile she turns left.", "head_turn")[1] == (25, -1.0)


@pytest.mark.parametrize("text, joy", [
    ("She is 50% happy.", 0.5), ("Joy 0.5 for 1 second.", 0.5), ("She smiles at 80 percent.", 0.8),
    ("She looks half happy.", 0.5), ("A quarter of a smile.", 0.25), ("She gives a full smile.", 1.0),
    ("Joy at 1.5.", 1.5), ("She is happy, then happier.", 1.5),
])
def test_amounts_set_the_value(text, joy):
    assert states(text)[-1]["joy"] == pytest.approx(joy)


def test_comparatives_change_the_current_value():
    assert [s["anger"] for s in states("He is annoyed, then angrier.")] == [0.6, pytest.approx(1.1)]
    assert states("He gets even angrier.", start={"anger": 1.0}) == [{"anger": 1.5}]
    assert states("She is sad, then less sad.") == [{"sadness": 1.0}, {"sadness": 0.5}]


def test_manner_wins_over_the_verbs_own_speed():
    assert describe("She slowly breaks into a grin.").steps[0].ramp_s == 2.5
    assert describe("Slowly, he snaps his head to the right.").steps[0].ramp_s == 2.5
    assert describe("He breaks into a grin.").steps[0].ramp_s == 0.2


def test_stops_and_backs_return_what_the_change_before_set():
    assert channel_keys("She smiles for 2 seconds and then stops.", "joy")[-2:] == [(100, 0.0), (113, 0.0)]
    assert (75, 1.0) in channel_keys("She smiles for 2 seconds and then stops.", "joy")
    assert states("She turns left and then back.") == [{"head_turn": -1.0}, {}]
    joy = channel_keys("She smiles. Two seconds later she stops smiling.", "joy")
    assert (75, 1.0) in joy and (100, 0.0) in joy


@pytest.mark.parametrize("text", ["No emotion.", "The face stays completely still.", "Nothing happens.",
                                  "He keeps a straight face."])
def test_a_still_face_is_a_neutral_hold_not_an_error(text):
    clip = parse_script(describe(text).script).clips[0]
    assert all(not any(k.values.values()) for k in clip.keyframes) and clip.keyframes[-1].frame > 0


def test_a_hold_before_any_change_delays_it():
    assert channel_keys("She stays still for 2 seconds, then smiles.", "joy")[:2] == [(0, 0.0), (50, 0.0)]
    assert parse_script(describe("The face stays still for 4 seconds.").script).clips[0].keyframes[-1].frame == 100


@pytest.mark.parametrize("text, message", [
    ("She smiles for -3 seconds.", "character 12: 'for -3 seconds': a time or duration cannot be negative"),
    ("She smiles at -2 seconds.", "cannot be negative"), ("She smiles at -0:02.", "cannot be negative"),
    ("She is 300% happy.", "'300%' is more than a channel can take"),
    ("She smiles at 400 seconds.", "too long"),
])
def test_negative_and_oversized_times_and_amounts_are_refused(text, message):
    with pytest.raises(LanguageError, match=message):
        describe(text)


def test_numbers_and_marks_that_are_not_read_are_reported_with_their_position():
    d = describe("She smiles 42 times, 3 # then frowns.")
    assert [(u.word, u.position) for u in d.unknown] == [("42", 12), ("3", 22), ("#", 24)]
    assert "a number not read here" in d.unknown[0].reason


def _all_descriptions() -> list[dict]:
    return [json.loads(line) for name in ("descriptions.jsonl", "readings.jsonl")
            for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def test_nothing_is_dropped_every_token_of_every_test_description_is_used_ignored_or_reported():
    from backend.language.lexicon import tokens
    from backend.language.rules import read_description

    checked = 0
    for row in _all_descriptions():
        text = row["text"]
        covered = {c for t in tokens(text) for c in range(t.start, t.end)}
        assert covered >= {i for i, c in enumerate(text) if not c.isspace()}, text  # every mark is a token
        reading = read_description(text, start=row.get("start"))
        reported = {u.position for u in reading.unknown}
        for position, token, fate in reading.fates:
            assert fate in ("used", "ignored", "reported"), (text, token, fate)
            assert fate != "reported" or position in reported, (text, token)
            assert not (token[0].isdigit() and fate == "ignored"), (text, token)  # numbers are never ignored
            checked += 1
    assert checked > 1000


def test_misspellings_one_edit_from_a_known_word_are_read_and_said_so():
    if not HAS_MODEL:
        pytest.skip("the English word list (models/text/vocab.txt) is not here")
    d = describe("She smiels, then looks suprised.")
    assert [dict(s.state) for s in d.steps] == [{"joy": 1.0}, {"surprise": 1.0}]
    assert "read 'smiels' at character 5 as 'smiles'" in d.report()
    with pytest.raises(LanguageError, match="'sacred' .*did you mean 'scared'"):
        describe("She is sacred.")  # a real word: suggested, never read as another


@pytest.mark.parametrize("text", ["Elle sourit, puis elle est triste.", "Sie lächelt und ist dann traurig.",
                                  "Ella sonríe.", "彼女は微笑む。"])
def test_other_languages_get_one_clear_message(text):
    with pytest.raises(LanguageError, match="^only English descriptions are read"):
        describe(text)


# --- continuing a performance ----------------------------------------------------------------------

def test_a_description_continues_from_the_start_values_and_its_script_keys_them_first():
    d = describe("Her smile fades over 4 seconds.", start={"joy": 1.0, "head_turn": -0.5})
    frames = keyframes_of(d.script)
    assert frames[0] == (0, {"joy": 1.0, "head_turn": -0.5})  # frame 0 is the face as it was
    assert frames[1] == (100, {"head_turn": -0.5})  # the smile is gone 4 s later; the head stays
    assert d.start["joy"] == 1.0 and d.start["fear"] == 0.0


def test_start_values_default_to_zero_and_a_blink_comes_back_to_them():
    assert keyframes_of(describe("She smiles.", start=None).script)[0] == (0, {})
    blink = keyframes_of(describe("She blinks.", start={"joy": 0.5}).script)
    assert [v for _, v in blink] == [{"joy": 0.5}, {"joy": 0.5, "eye_close": 1.0}, {"joy": 0.5}]


@pytest.mark.parametrize("start, message", [
    ({"jo": 1.0}, "unknown channel 'jo'"), ({"joy": float("nan")}, "not a finite number"),
    ({"joy": 3.0}, "outside"), ([("joy", 1.0)], "must map channel names"),
])
def test_bad_start_values_are_clear_errors(start, message):
    with pytest.raises(LanguageError, match=message):
        describe("She smiles.", start=start)


def keyframes_of(script: str) -> list[tuple[int, dict[str, float]]]:
    clip = parse_script(script).clips[0]
    return [(k.frame, {c: v for c, v in k.values.items() if v}) for k in clip.keyframes]


# --- the test set ---------------------------------------------------------------------------------

def _eval_module():
    return script_module("eval_language")


def test_the_test_set_has_both_parts_and_valid_expectations():
    rows = [json.loads(line) for line in (DATA / "descriptions.jsonl").read_text().splitlines()]
    assert len(rows) >= 60 and len({r["id"] for r in rows}) == len(rows)
    assert {r["part"] for r in rows} == {"tuning", "heldout"}
    for row in rows:
        for segment in row["segments"]:
            assert set(segment["state"]) <= set(CHANNEL_NAMES)
            assert all(abs(v) <= VALUE_LIMIT for v in segment["state"].values())


# Floors: the numbers measured when the rules were written (scripts/eval_language.py), a little lower.
# Issue 30 measured (rules / with the model): tuning 94.2 % / 100 % channels, held-out 84.9 % / 88.7 %.
RULES_FLOORS = {"tuning": (0.92, 0.95, 0.90, 0.05), "heldout": (0.82, 0.95, 0.78, 0.05)}
MODEL_FLOORS = {"tuning": (0.97, 0.95, 0.97, 0.05), "heldout": (0.86, 0.95, 0.83, 0.05)}
# readings.jsonl, share read right per kind (issue 30): measured 86-100 % on both parts, rules alone.
READINGS_FLOOR = 0.85


@pytest.mark.parametrize("part", ["tuning", "heldout"])
def test_times_amounts_stops_holds_and_the_rest_are_read_on_the_measured_floor(part):
    ev = _eval_module()
    table = ev.score_readings(ev.load_descriptions(ev.READINGS), part)
    assert set(table) == {*ev.KINDS, "all"} and table["all"][1] >= 50
    low = {kind: f"{hits}/{n}" for kind, (hits, n) in table.items() if hits / n < READINGS_FLOOR}
    assert not low, low


def test_the_readings_set_has_both_parts_kinds_and_valid_expectations():
    ev = _eval_module()
    rows = ev.load_descriptions(ev.READINGS)
    assert len(rows) >= 100 and len({r["id"] for r in rows}) == len(rows)
    assert sum(r["part"] == "heldout" for r in rows) >= 50 and {r["kind"] for r in rows} == set(ev.KINDS)
    for row in rows:
        for event in row["events"]:
            assert set(event["set"]) <= set(CHANNEL_NAMES) and all(abs(v) <= VALUE_LIMIT for v in event["set"].values())


@pytest.mark.parametrize("part", ["tuning", "heldout"])
def test_rules_alone_reach_the_measured_floors(part):
    ev = _eval_module()
    s = ev.score(ev.load_descriptions(), part)
    channels, intensity, order, timing = RULES_FLOORS[part]
    assert s.channel_accuracy >= channels and s.intensity_accuracy >= intensity and s.order_accuracy >= order
    assert s.timing_error_s <= timing


# --- the sentence model ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reader():
    if not HAS_MODEL:
        pytest.skip("models/text is not here (scripts/convert_text_model.py makes it)")
    found, note = load_phrase_reader()
    assert note is None, note
    return found


def test_our_tokenizer_and_encoder_match_the_reference_embeddings(reader):
    ref = json.loads((DATA / "minilm_reference.json").read_text())
    model = reader.model
    assert [model.tokenizer.encode(s) for s in ref["sentences"]] == ref["input_ids"]
    cos = (model.embed(ref["sentences"]) * torch.tensor(ref["embeddings"])).sum(dim=1)
    assert cos.min() > 0.998  # the shipped uint8 weights; float32 ones give 1 - 1e-6


def test_wordpiece_splits_unknown_words_into_pieces_and_long_words_into_unk():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "smi", "##le", "##s", "!"]
    wp = WordPiece(vocab, max_word_chars=8)
    assert wp.encode("SMILES!") == [2, 4, 5, 6, 7, 3]
    assert wp.encode("smilesmiles xq") == [2, 1, 1, 3]
    assert len(wp.encode("smiles " * 500)) == 256


def test_the_model_reads_free_phrasing_and_declines_what_is_not_an_expression(reader):
    d = describe("She smiles. Her heart sinks.", interpret=reader)
    assert [dict(s.state) for s in d.steps] == [{"joy": 1.0}, {"sadness": 1.2}]
    assert d.steps[1].source == "model" and d.unknown == ()
    assert "read by the sentence model: 'Her heart sinks' at character 13" in d.report()
    with pytest.raises(LanguageError, match="not understood: 'drives'"):
        describe("He drives a tractor.", interpret=reader)


@pytest.mark.parametrize("part", ["tuning", "heldout"])
def test_rules_and_model_reach_the_measured_floors(reader, part):
    ev = _eval_module()
    s = ev.score(ev.load_descriptions(), part, reader)
    channels, intensity, order, timing = MODEL_FLOORS[part]
    assert s.channel_accuracy >= channels and s.intensity_accuracy >= intensity and s.order_accuracy >= order
    assert s.timing_error_s <= timing
    table = ev.score_readings(ev.load_descriptions(ev.READINGS), part, reader)
    assert table["offtarget"][0] == table["offtarget"][1]  # the model reads none of the off-target descriptions
    assert all(hits / n >= READINGS_FLOOR for hits, n in table.values()), table


def test_the_model_declines_the_off_target_calibration_phrases(reader):
    ev = _eval_module()
    phrases = ev.load_off_target()
    assert len(phrases) >= 40
    declined = [p for p in phrases if reader(p) is None]
    assert len(declined) >= len(phrases) - 1, sorted(set(phrases) - set(declined))  # measured: 47 of 48
    for text in ("She raises an eyebrow.", "She blushes.", "She glances sideways.", "He nods."):
        with pytest.raises(LanguageError, match="nothing in the description"):
            describe(text, interpret=reader)


def _tampered_model(tmp_path, change) -> None:
    """A copy of the shipped model with `change(metadata, tensors)` applied."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(TEXT_MODEL_DIR / "minilm_l6.safetensors"), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    change(meta, tensors)
    save_file(tensors, str(tmp_path / "minilm_l6.safetensors"), metadata=meta)
    (tmp_path / "vocab.txt").write_bytes((TEXT_MODEL_DIR / "vocab.txt").read_bytes())


def test_a_model_with_non_finite_weights_or_a_tampered_config_is_refused_in_one_line(tmp_path):
    if not HAS_MODEL:
        pytest.skip("models/text is not here")

    def nan_weights(meta, tensors):
        name = next(k for k in tensors if k.endswith("@scale"))
        tensors[name] = torch.full_like(tensors[name], float("nan"))

    _tampered_model(tmp_path, nan_weights)
    found, note = load_phrase_reader(tmp_path)
    assert found is None and "non-finite weights" in note and "\n" not in note
    for field, value in (("heads", 0), ("hidden", -384), ("layers", "six")):
        def tamper(meta, tensors, field=field, value=value):
            meta["config"] = json.dumps({**json.loads(meta["config"]), field: value})
        _tampered_model(tmp_path, tamper)
        found, note = load_phrase_reader(tmp_path)
        assert found is None and f"config {field}" in note and "\n" not in note, note


def test_a_non_finite_similarity_never_passes_the_threshold(reader):
    from backend.language.embedding import PhraseReader

    broken = PhraseReader.__new__(PhraseReader)
    broken.__dict__.update(reader.__dict__, embeddings=torch.full_like(reader.embeddings, float("nan")))
    assert reader("she is overjoyed") is not None and broken("she is overjoyed") is None


def test_without_the_model_files_the_rules_still_work_and_say_so(tmp_path):
    found, note = load_phrase_reader(tmp_path)
    assert found is None and "sentence model not used" in note and "no such file" in note
    with pytest.raises(Exception, match="no such file"):
        load_sentence_model(tmp_path)
    (tmp_path / "minilm_l6.safetensors").write_bytes(b"not a model")
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    assert "corrupt" in load_phrase_reader(tmp_path)[1]
    if HAS_MODEL:
        (tmp_path / "minilm_l6.safetensors").write_bytes((TEXT_MODEL_DIR / "minilm_l6.safetensors").read_bytes())
        assert "bad vocabulary (1 tokens for a model of 30522)" in load_phrase_reader(tmp_path)[1]
    d = describe("She smiles. Her heart sinks.", model_note=note)
    assert [dict(s.state) for s in d.steps] == [{"joy": 1.0}] and note in d.report()


# --- the command line ---------------------------------------------------------------------------------

run = backend_cli  # in this process; tests/test_cli.py runs the real one


def test_text_command_prints_a_script_and_reports_unknown_words_on_stderr(tmp_path):
    r = run("text", "--text-model", str(tmp_path), "She smiles slightly, then zorbles and turns to the left.")
    assert r.returncode == 0, r.stderr
    clip = parse_script(r.stdout).clips[0]
    assert clip.keyframes[1].values["joy"] == 0.4 and clip.keyframes[-1].values["head_turn"] == -1
    assert "not understood: 'zorbles' at character 27" in r.stderr and "sentence model not used" in r.stderr
    r = run("text", "--no-text-model", "--text-file", "-", stdin="He frowns.")
    assert r.returncode == 0 and "anger" in r.stdout


def test_text_command_from_starts_the_description_from_given_values():
    r = run("text", "--no-text-model", "--from", "joy:1, head_turn:-0.5", "Her smile fades.")
    assert r.returncode == 0, r.stderr
    keys = parse_script(r.stdout).clips[0].keyframes
    assert keys[0].frame == 0 and keys[0].values["joy"] == 1 and keys[0].values["head_turn"] == -0.5
    assert keys[1].values["joy"] == 0 and keys[1].values["head_turn"] == -0.5
    bad = run("text", "--no-text-model", "--from", "jy:1", "She smiles.")
    assert bad.returncode == 2 and "did you mean 'joy'" in bad.stderr and "Traceback" not in bad.stderr


def test_text_command_errors_are_one_line():
    for args in (["text", "--no-text-model", "blorp"], ["text", ""], ["text", "She smiles for 1000 seconds."]):
        r = run(*args)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    big = run("text", "--text-file", "-", stdin="smile " * 2_000_000)
    assert big.returncode == 2 and "12,000,000 characters long; at most 4,000" in big.stderr  # the real length


def test_render_text_renders_the_description(rig, tmp_path):  # noqa: F811
    _, model, directions = rig
    out = tmp_path / "frames"
    r = run("render", "--model", str(model), "--directions", str(directions), "--device", "cpu", "--no-text-model",
            "--text", "She smiles, then turns left.", "--fps", "5", "--out", str(out), "--cache", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    assert len(list(out.glob("*.png"))) == 16  # frames 0-15: keys at 1, 1.5, 2.5 and 3 s at 5 fps (7.5 → 8)
    r = run("render", "--model", str(model), "--directions", str(directions), "--text", "x", "--script", "s.txt",
            "--out", str(out))
    assert r.returncode == 2 and "not allowed with" in r.stderr


