"""The pipeline: a description → steps (rules, then the sentence model for what they cannot read)
→ an emotion script in our format that a person can read and edit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..animation.channels import CHANNEL_NAMES, VALUE_LIMIT
from ..animation.script import MAX_FRAME, ScriptError, parse_script
from .rules import check_start, check_text, read_description
from .spelling import looks_foreign
from .steps import LanguageError, Step, Unknown

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
    start: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(dict.fromkeys(CHANNEL_NAMES, 0.0)))
    read_as: tuple[tuple[str, int, str], ...] = ()  # misspellings read: (word, 1-based position, read as)

    def report(self) -> str:
        """The words not understood and the phrases the model read, one a line (empty if none)."""
        lines = [f"not understood: {u.word!r} at character {u.position}"
                 + ("" if u.reason == "not understood" else f" ({u.reason})") for u in self.unknown]
        lines += [f"read {word!r} at character {position} as {fixed!r} (a misspelling?)"
                  for word, position, fixed in self.read_as]
        lines += [f"read by the sentence model: {m.phrase!r} at character {m.position} as {m.prototype!r} "
                  f"(similarity {m.similarity:.2f})" for m in self.model_matches]
        if self.model_note:
            lines.append(self.model_note)
        return "\n".join(lines)


def describe(text: str, *, fps: float = DEFAULT_FPS, interpret: Interpret | None = None,
             model_note: str | None = None, start: Mapping[str, float] | None = None) -> Description:
    """Read `text` into steps and script text; `interpret` (e.g. a SentenceModel's) reads phrases
    that have no known word; `start` gives the channel values the performance starts from (missing
    channels 0), and the script's first line (``@0``) keys them. Raises LanguageError when nothing
    usable is left."""
    check_text(text)
    begin = check_start(start)
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

    if looks_foreign(text) and not read_description(text, fps, start=begin).steps:  # before the model guesses
        raise LanguageError("only English descriptions are read; this one looks like another language "
                            "(write it in English, e.g. 'She smiles, then slowly looks sad')")
    reading = read_description(text, fps, fallback=fallback, start=begin)
    if not reading.steps:
        words = ", ".join(f"{u.word!r} (character {u.position}" + (f"; {u.reason})" if u.reason.startswith("did you")
                                                                   else ")") for u in reading.unknown[:8])
        more = f" and {len(reading.unknown) - 8} more" if len(reading.unknown) > 8 else ""
        reason = "nothing in the description says what the face does"
        reason += f"; not understood: {words}{more}" if words else ""
        if model_note:
            reason += f" ({model_note})"
        raise LanguageError(reason)
    script = script_text(reading.steps, fps, text, begin)
    return Description(text, float(fps), reading.steps, script, reading.unknown, tuple(matches), model_note,
                       MappingProxyType(begin), reading.read_as)


def script_text(steps: tuple[Step, ...], fps: float, text: str = "", start: Mapping[str, float] | None = None) -> str:
    """Steps as an emotion script: the steps laid on one timeline (a step begins after the one
    before, at its own time, or with the one before), one keyframe line wherever a channel starts
    or ends a change; a first line at @0 keys the `start` values when any is not 0."""
    begin = {name: float((start or {}).get(name, 0.0)) for name in CHANNEL_NAMES}
    lines = [f"# Made from the description: {_one_line(text, 200)}" if text else "# Made from a description",
             f"# {fps:g} fps; each line says where it comes from. Edit freely.", "# Video 1:"]
    if any(begin.values()):
        words = [_word(name, begin[name]) for name in CHANNEL_NAMES if begin[name] != 0]
        lines.append(f"{' '.join(words)} @0".ljust(40) + "  # the values the performance starts from")
    curves, notes, end = _timeline(steps, begin, fps)
    times = sorted({t for points in curves.values() for t, _ in points} | set(notes) | {end})
    keys: dict[int, float] = {}  # frame -> the latest time that falls on it
    for t in times:
        frame = int(t * fps + 0.5)
        if frame > MAX_FRAME:
            raise LanguageError(f"the description lasts past frame {MAX_FRAME}, the last one Blender has")
        if frame > 0:
            keys[frame] = max(t, keys.get(frame, t))
    if not keys:
        keys[1] = 1 / fps
    previous = 0
    for frame, t in sorted(keys.items()):
        values = {name: round(_value_at(curves[name], t), 4) for name in CHANNEL_NAMES}
        words = [_word(name, v) for name, v in values.items() if v != 0]
        note = "; ".join(dict.fromkeys(n for time, n in notes.items() if int(time * fps + 0.5) == frame for n in n))
        lines.append(f"{' '.join(words or ['neutral'])} +{frame - previous}".ljust(40) + (f"  # {note}" if note else ""))
        previous = frame
    script = "\n".join(lines) + "\n"
    try:
        parse_script(script)
    except ScriptError as e:  # a bug here, never the user's text: say so plainly
        raise AssertionError(f"the script made from the description does not parse: {e}\n{script}") from None
    return script


Curve = list[tuple[float, float]]  # (seconds, value) points, linear between, held after the last


def _timeline(steps: tuple[Step, ...], start: Mapping[str, float],
              fps: float) -> tuple[dict[str, Curve], dict[float, list[str]], float]:
    """Each channel's curve, notes by time, and the end time of the steps laid on one timeline."""
    curves: dict[str, Curve] = {name: [(0.0, start[name])] for name in CHANNEL_NAMES}
    notes: dict[float, list[str]] = {}
    state = dict(start)
    cursor = previous_begin = 0.0

    def move(name: str, t0: float, t1: float, value: float) -> None:
        """The channel goes from wherever it is at t0 to `value` at t1 (a later start takes over)."""
        points = curves[name]
        v0 = _value_at(points, t0)
        curves[name] = [p for p in points if p[0] < t0] + [(t0, v0), (t1, value)]

    for step in steps:
        quote = f'"{_one_line(step.text, 60)}"'
        if step.at_s is not None:
            begin = step.at_s
        elif step.together:
            begin = previous_begin
        else:
            begin = cursor + step.delay_s
        hold = step.hold_s
        if step.gesture == "blink":
            was = _value_at(curves["eye_close"], begin)
            move("eye_close", begin, begin + BLINK_S, 1.0)
            move("eye_close", begin + BLINK_S, begin + 2 * BLINK_S, was)
            notes.setdefault(begin + BLINK_S, []).append(f"{quote}: blink")
            reach = begin + 2 * BLINK_S
        elif step.gesture == "head_shake":
            was = _value_at(curves["head_turn"], begin)
            t = begin
            for swing in (-SHAKE_SIZE, SHAKE_SIZE, -SHAKE_SIZE, 0.0):
                move("head_turn", t, t + SHAKE_S, max(-VALUE_LIMIT, min(VALUE_LIMIT, was + swing)))
                t += SHAKE_S
                notes.setdefault(t, []).append(f"{quote}: head shake" if swing else "head back")
            reach = t
        else:
            changed = {name: step.state.get(name, 0.0) for name in CHANNEL_NAMES
                       if step.state.get(name, 0.0) != state.get(name, 0.0)}
            ramp = max(step.ramp_s, 1 / fps) if changed else 0.0
            for name, value in changed.items():
                move(name, begin, begin + ramp, value)
            reach = begin + ramp
            how = f"over {step.ramp_s:g} s" + (" (read by the sentence model)" if step.source == "model" else "")
            if changed and begin > 0 and begin != cursor:
                notes.setdefault(begin, []).append(f"{quote} begins")
            notes.setdefault(reach, []).append(f"{quote} {how}" if changed else f"{quote}: the face holds")
            if hold > 0:
                notes.setdefault(reach + hold, []).append(f"held {hold:g} s")
            state = {name: step.state.get(name, 0.0) for name in CHANNEL_NAMES}
        previous_begin = begin
        cursor = max(cursor, reach + hold)
    return curves, notes, cursor


def _value_at(points: Curve, t: float) -> float:
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
        if t <= t1:
            return v1 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def _word(name: str, value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return name if text == "1" else f"{name}:{text}"


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
