"""The pipeline: a description → steps (rules, then the sentence model for what they cannot read)
→ an emotion script in our format that a person can read and edit."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from ..channels import CHANNEL_NAMES, VALUE_LIMIT, check_channel_value
from ..script import MAX_FRAME, ScriptError, parse_script
from .rules import LanguageError, Step, Unknown, check_text, read_description

BLINK_S = 0.12  # eyes shut, then open again, each this long
SHAKE_S = 0.25  # each swing of a head shake
SHAKE_SIZE = 0.4  # how far a head shake swings either way
DEFAULT_FPS = 25.0

Interpret = Callable[[str], "Match | None"]


@dataclass(frozen=True)
class Match:
    """What the sentence model read in a phrase: the nearest prototype, its channels and similarity."""

    phrase: str
    position: int  # 1-based character position of the phrase
    prototype: str
    values: Mapping[str, float]
    similarity: float


@dataclass(frozen=True)
class Description:
    """A description read: its steps, the script text, words not understood, phrases the sentence
    model read, and a note on the model (None when it was used and found nothing to say)."""

    text: str
    fps: float
    steps: tuple[Step, ...]
    script: str
    unknown: tuple[Unknown, ...]
    model_matches: tuple[Match, ...]
    model_note: str | None

    def report(self) -> str:
        """The words not understood and the phrases the model read, one a line (empty if none)."""
        lines = [f"not understood: {u.word!r} at character {u.position}"
                 + ("" if u.reason == "not understood" else f" ({u.reason})") for u in self.unknown]
        lines += [f"read by the sentence model: {m.phrase!r} at character {m.position} as {m.prototype!r} "
                  f"(similarity {m.similarity:.2f})" for m in self.model_matches]
        if self.model_note:
            lines.append(self.model_note)
        return "\n".join(lines)


def describe(text: str, *, fps: float = DEFAULT_FPS, interpret: Interpret | None = None,
             model_note: str | None = None, start: Mapping[str, float] | None = None) -> Description:
    """Read `text` into steps and script text; `interpret` (e.g. a SentenceModel's) reads phrases
    that have no known word; `start`: the face's channel values where the description begins
    (default: neutral) — "her smile fades" fades the smile it has. Raises LanguageError when nothing
    usable is left, or for a start value that is no channel's or outside the value policy."""
    check_text(text)
    start = _checked_start(start)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 1 <= fps <= 1000:
        raise LanguageError(f"fps must be a number within [1, 1000], got {fps!r}")
    matches: list[Match] = []

    def fallback(start: int, end: int) -> Mapping[str, float] | None:
        if interpret is None:
            return None
        match = interpret(text[start:end])
        if match is None:
            return None
        matches.append(Match(match.phrase, start + 1, match.prototype, match.values, match.similarity))
        return match.values

    reading = read_description(text, fps, fallback=fallback, start=start)
    if not reading.steps:
        words = ", ".join(f"{u.word!r} (character {u.position})" for u in reading.unknown[:8])
        more = f" and {len(reading.unknown) - 8} more" if len(reading.unknown) > 8 else ""
        reason = "nothing in the description says what the face does"
        reason += f"; not understood: {words}{more}" if words else ""
        if model_note:
            reason += f" ({model_note})"
        raise LanguageError(reason)
    script = script_text(reading.steps, fps, text, start)
    return Description(text, float(fps), reading.steps, script, reading.unknown, tuple(matches), model_note)


def _checked_start(start: Mapping[str, float] | None) -> dict[str, float]:
    """The start values as floats (channels left out are 0); LanguageError for anything else."""
    if start is None:
        return {}
    if not isinstance(start, Mapping):
        raise LanguageError(f"start must map channel names to values, got {type(start).__name__}")
    out = {}
    for name, value in start.items():
        if name not in CHANNEL_NAMES:
            raise LanguageError(f"start: {name!r} is not a channel ({', '.join(CHANNEL_NAMES)})")
        try:
            out[name] = check_channel_value(value, f"start value of {name}")
        except ValueError as e:
            raise LanguageError(str(e)) from None
    return {k: v for k, v in out.items() if v != 0}


def script_text(steps: tuple[Step, ...], fps: float, text: str = "",
                start: Mapping[str, float] | None = None) -> str:
    """Steps as an emotion script: one keyframe line per change and per hold, timed with +N frames.
    With ``start`` (the face's values before the text) a comment says so: the script format's
    frame 0 is the start face, which whoever keys the script sets to those values."""
    lines = [f"# Made from the description: {_one_line(text, 200)}" if text else "# Made from a description",
             f"# {fps:g} fps; each line says where it comes from. Edit freely."]
    if start:
        words = [_word(name, start[name]) for name in CHANNEL_NAMES if start.get(name, 0.0) != 0]
        lines.append(f"# Starts from the face's values: {' '.join(words)} (frame 0 holds them, not neutral)")
    lines.append("# Video 1:")
    frame = 0
    for seconds, values, note in _keyframes(steps, start or {}):
        step = max(1, int(seconds * fps + 0.5))  # each duration rounded on its own, so none drifts
        frame += step
        if frame > MAX_FRAME:
            raise LanguageError(f"the description lasts past frame {MAX_FRAME}, the last one Blender has")
        words = [_word(name, values.get(name, 0.0)) for name in CHANNEL_NAMES if values.get(name, 0.0) != 0]
        lines.append(f"{' '.join(words or ['neutral'])} +{step}".ljust(40) + f"  # {note}")
    script = "\n".join(lines) + "\n"
    try:
        parse_script(script)
    except ScriptError as e:  # a bug here, never the user's text: say so plainly
        raise AssertionError(f"the script made from the description does not parse: {e}\n{script}") from None
    return script


def _keyframes(steps: tuple[Step, ...], start: Mapping[str, float]) -> Iterator[tuple[float, Mapping[str, float], str]]:
    """(seconds after the keyframe before, values, note) for each keyframe the steps make."""
    state: Mapping[str, float] = start
    for step in steps:
        quote = f'"{_one_line(step.text, 60)}"'
        if step.delay_s > 0:
            yield step.delay_s, state, f"waits {step.delay_s:g} s"
        if step.gesture == "blink":
            closed = {**state, "eye_close": 1.0}
            yield BLINK_S, closed, f"{quote}: blink"
            yield BLINK_S, state, "eyes open again"
        elif step.gesture == "head_shake":
            turn = state.get("head_turn", 0.0)
            for swing in (-SHAKE_SIZE, SHAKE_SIZE, -SHAKE_SIZE):
                value = max(-VALUE_LIMIT, min(VALUE_LIMIT, turn + swing))
                yield SHAKE_S, {**state, "head_turn": value}, f"{quote}: head shake"
            yield SHAKE_S, state, "head back"
        else:
            state = step.state
            how = f"over {step.ramp_s:g} s" + (" (read by the sentence model)" if step.source == "model" else "")
            yield step.ramp_s, state, f"{quote} {how}"
            if step.hold_s > 0:
                yield step.hold_s, state, f"held {step.hold_s:g} s"


def _word(name: str, value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return name if text == "1" else f"{name}:{text}"


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
