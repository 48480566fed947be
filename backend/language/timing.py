"""Times and durations: "at 2 seconds" / "at 0:02" / "at frame 40", "three seconds later",
"for two seconds", "over 3 s", "after a moment", "waits"; never negative, never longer than
MAX_DURATION_S."""

from __future__ import annotations

import re

from .amounts import read_number
from .lexicon import Token, span
from .steps import MAX_DURATION_S, WAIT_S, LanguageError
from .words import UNITS, VAGUE_DURATIONS

_PREPOSITIONS = {"for": "hold_for", "over": "ramp_for", "in": "ramp_for", "within": "ramp_for", "after": "delay_for",
                 "wait": "wait_for", "waits": "wait_for", "waited": "wait_for", "waiting": "wait_for",
                 "pause": "wait_for", "pauses": "wait_for", "paused": "wait_for", "pausing": "wait_for",
                 "takes": "ramp_for", "take": "ramp_for", "taking": "ramp_for", "lasting": "hold_for"}


def _positive(seconds: float, words: list[Token], i: int, k: int) -> float:
    if seconds < 0:
        raise LanguageError(f"'{' '.join(w.text for w in words[i:k])}': a time or duration cannot be negative",
                            words[i].start + 1)
    return seconds


def _limited(seconds: float, words: list[Token], i: int, k: int) -> float:
    if seconds > MAX_DURATION_S:
        raise LanguageError(f"'{' '.join(w.text for w in words[i:k])}' is too long: one step lasts at most "
                            f"{MAX_DURATION_S:g} seconds", words[i].start + 1)
    return seconds


def read_at_time(text: str, words: list[Token], i: int, fps: float) -> tuple[str, float, int] | None:
    """ "at 2 seconds", "at 1.5s", "at 0:02", "at frame 40": ("at", seconds, token count)."""
    if words[i].text != "at" or i + 1 >= len(words):
        return None
    j = i + 1 + (words[i + 1].text == "the")
    if j >= len(words):
        return None
    if words[j].text in ("frame", "frames"):
        number, k = read_number(words, j + 1)
        if number is None:
            return None
        return "at", _positive(number, words, i, k) / fps, k - i
    clock = re.fullmatch(r"(-?)([0-9]+):([0-9]{2})", words[j].text)
    if clock:
        if clock.group(1):
            raise LanguageError(f"'{span(text, words, i, j + 1)}': a time cannot be negative", words[i].start + 1)
        return "at", _limited(int(clock.group(2)) * 60 + int(clock.group(3)), words, i, j + 1), j + 1 - i
    number, k = read_number(words, j)
    if number is None or k >= len(words) or words[k].text not in UNITS:
        return None
    unit = UNITS[words[k].text]
    seconds = number / fps if unit == 0 else number * unit
    k += 1 + (k + 1 < len(words) and words[k + 1].text == "mark")
    return "at", _limited(_positive(seconds, words, i, k), words, i, k), k - i


def read_later(words: list[Token], i: int, fps: float) -> tuple[str, float, int] | None:
    """ "three seconds later", "a second later": ("later_for", seconds, token count)."""
    number, k = read_number(words, i)
    if number is None or k + 1 >= len(words) or words[k].text not in UNITS \
            or words[k + 1].text not in ("later", "afterwards", "afterward", "after"):
        return None
    unit = UNITS[words[k].text]
    seconds = number / fps if unit == 0 else number * unit
    return "later_for", _limited(_positive(seconds, words, i, k + 2), words, i, k + 2), k + 2 - i


def read_duration(text: str, words: list[Token], i: int, fps: float) -> tuple[str, float, int] | None:
    """A timed phrase at words[i] ("for two seconds", "over 3 s", "after a moment"): (kind, seconds, count)."""
    kind = _PREPOSITIONS.get(words[i].text)
    if kind is None:
        return None
    j = i + 1
    if j < len(words) and words[j].text in ("about", "around", "roughly", "nearly", "almost", "another", "the",
                                            "exactly", "just", "only", "a", "full"):
        if words[j].text != "a" or (j + 1 < len(words) and words[j + 1].text in ("few", "couple", "full")):
            j += 1
    for phrase, seconds in sorted(VAGUE_DURATIONS.items(), key=lambda p: -len(p[0])):  # "a moment", "a while"
        parts = phrase.split()
        for k in (i + 1, j):
            if [w.text for w in words[k: k + len(parts)]] == parts:
                return kind, seconds, k - i + len(parts)
    number, k = read_number(words, j)
    if number is None or k >= len(words) or words[k].text not in UNITS:
        if kind == "wait_for":
            return kind, WAIT_S, 1  # "waits", "pauses" alone
        if number is not None and number < 0:
            raise LanguageError(f"'{span(text, words, i, k)}': a duration cannot be negative", words[i].start + 1)
        return None
    unit = UNITS[words[k].text]
    seconds = number / fps if unit == 0 else number * unit
    return kind, _limited(_positive(seconds, words, i, k + 1), words, i, k + 1), k + 1 - i
