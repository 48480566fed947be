"""Descriptions in words → steps → emotion scripts: the rules, the sentence model, the CLI."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.channels import CHANNEL_NAMES, VALUE_LIMIT
from backend.language import MAX_TEXT_CHARS, LanguageError, describe
from backend.language.embedding import TEXT_MODEL_DIR, WordPiece, load_phrase_reader, load_sentence_model
from backend.language.rules import ACTIONS, DEFAULT_RAMP_S, INTENSITIES
from backend.script import parse_script

from .conftest import ROOT

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
    spec = importlib.util.spec_from_file_location("eval_language", ROOT / "scripts" / "eval_language.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_language"] = module
    spec.loader.exec_module(module)
    return module


def test_the_test_set_has_both_parts_and_valid_expectations():
    rows = [json.loads(line) for line in (DATA / "descriptions.jsonl").read_text().splitlines()]
    assert len(rows) >= 60 and len({r["id"] for r in rows}) == len(rows)
    assert {r["part"] for r in rows} == {"tuning", "heldout"}
    for row in rows:
        for segment in row["segments"]:
            assert set(segment["state"]) <= set(CHANNEL_NAMES)
            assert all(abs(v) <= VALUE_LIMIT for v in segment["state"].values())


# Floors: the numbers measured when the rules were written (scripts/eval_language.py), a little lower.
RULES_FLOORS = {"tuning": (0.85, 0.95, 0.83, 0.05), "heldout": (0.82, 0.95, 0.78, 0.05)}
MODEL_FLOORS = {"tuning": (0.93, 0.95, 0.92, 0.05), "heldout": (0.86, 0.95, 0.83, 0.05)}


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

def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=ROOT, capture_output=True, text=True,
                          input=stdin)


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
    assert big.returncode == 2 and "at most 4,000" in big.stderr


def test_render_text_renders_the_description(rig, tmp_path):
    _, model, directions = rig
    out = tmp_path / "frames"
    r = run("render", "--model", str(model), "--directions", str(directions), "--device", "cpu", "--no-text-model",
            "--text", "She smiles, then turns left.", "--fps", "5", "--out", str(out), "--cache", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    assert len(list(out.glob("*.png"))) == 1 + 5 + 3 + 5 + 3  # frame 0, 1 s, 0.5 s (2.5 frames), 1 s, 0.5 s at 5 fps
    r = run("render", "--model", str(model), "--directions", str(directions), "--text", "x", "--script", "s.txt",
            "--out", str(out))
    assert r.returncode == 2 and "not allowed with" in r.stderr


from .test_render import rig  # noqa: E402,F401  (the tiny generator and its directions)
