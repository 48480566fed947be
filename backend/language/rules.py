"""Our word and phrase grammar: a description in plain English → timed steps of channel values.

How a description is read (the tables of ``words`` say which words mean what):

* The text is cut into **steps** at ``then``, ``afterwards``, ``next``, ``later``, ``finally``,
  ``before``, a full stop, ``!``, ``?`` and ``;``. Inside a step, parts separated by commas are
  one change of the face when they fit together ("Looking scared, she turns left"), and
  separate changes when they clash (two different emotions, or one channel both ways:
  "she smiles, frowns"). ``and``, ``while``, ``as`` and ``with`` always join.
* **Actions** set channels: emotion words and phrases (ACTIONS), head direction words
  (``left`` is head_turn -1, ``right`` +1, ``away`` +1 unless a direction is named, ``forward``
  / ``ahead`` / ``at the camera`` 0), eyes and mouth phrases, and ``neutral`` / ``relaxes``,
  which clears every channel. Values carry over from step to step; a new emotion replaces the
  emotions before it, emotions of one step combine. ``blinks`` and ``shakes her head`` are
  gestures: a quick back-and-forth that ends where it began (``twice`` repeats one).
* An **intensity** word (INTENSITIES) scales the action nearest to it; an **amount** sets it: ``50%``
  / ``50 percent``, or a number right after the action (``joy 0.5``, ``joy at 0.5``) is the value of
  the action's main channel. A **comparative** (``angrier``, ``even sadder``, ``more``, ``less``)
  adds or takes COMPARATIVE_STEP from the current value. Values stay within ±VALUE_LIMIT. A
  **negation** (``not``, ``stops``, ``no longer``, ``fades``) sets the channels of the action after
  it (or, with none after, before it) to 0; ``and (then) stops`` / ``back`` alone is a change of its
  own that returns what the change before set.
* **Timing**, on one timeline where changes may overlap: a change takes DEFAULT_RAMP_S and is held
  DEFAULT_HOLD_S, then the next one begins. A manner (MANNERS: ``suddenly``, ``quickly``,
  ``slowly``) sets the ramp and always wins over a verb's own speed (VERB_SPEEDS: ``breaks into``,
  ``snaps``); ``for N seconds`` sets the hold, ``over N seconds`` the ramp; ``at N seconds`` /
  ``at 1.5s`` / ``at 0:02`` / ``at frame N`` is when the change begins; ``N seconds later`` /
  ``after N seconds`` / ``after a beat`` count from when the change before is complete;
  ``meanwhile`` begins with the change before; ``waits N seconds`` / ``holds it`` hold the step
  before. ``stays still`` / ``no emotion`` before any change is a neutral hold. Durations are
  digits or number words with ``second(s)``, ``s``, ``frame(s)`` or ``minute(s)``; ``a moment``
  is 1 s. Negative times and durations are refused.
* Every token (word, number, mark) is used, ignored (function words such as "she", "the", "her
  face"; quotes and dashes) or reported with its position: numbers that are no time or amount,
  unknown words (with "did you mean ...?" when a known word is close) and marks like ``#``. A
  word one edit away from exactly one known word, and not itself an English word, is read as it
  and the report says so.

Decisions on words without a channel of their own: ``rolls her eyes`` is contempt, shown as
disgust 0.6; ``horrified`` is fear 1.5; ``wide-eyed`` opens the eyes wide (eye_close -1) with
surprise 0.5; ``frowns`` / ``scowls`` / ``glares`` are anger; ``squints`` half closes the eyes;
``winks`` is a blink (there is one eye channel); ``nods`` has no channel (no head pitch) and is
reported as not understood.

This module reads a description (``read_description``: tokens → parts → steps); the grammar's
pieces are in modules of their own: ``steps`` (what it reads into: Step, Reading, LanguageError,
the timing defaults), ``lexicon`` (tokens, word forms, table lookup), ``spelling`` (misspellings,
why a word is unknown, other languages), ``amounts`` (numbers, amounts), ``timing`` (times and
durations), ``parts`` (the words between separators) and ``composition`` (parts → steps).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TextIO

from ..animation.channels import CHANNEL_NAMES, ChannelValueError, check_channel_value
from .amounts import read_amount
from .composition import steps_from_parts
from .lexicon import IGNORED_MARKS, LEXICON, Token, comparative_entry, is_function_word, lookup, tokens
from .parts import CHANGE_KINDS, Item, Part, extend, split, split_stops
from .spelling import spelling, why_unknown
from .steps import MAX_TEXT_CHARS, LanguageError, Reading, Unknown
from .timing import read_at_time, read_duration, read_later
from .words import NUMBERS


def too_long(length: int) -> LanguageError:
    """The error for a description of `length` characters, more than MAX_TEXT_CHARS."""
    return LanguageError(f"the description is {length:,} characters long; at most {MAX_TEXT_CHARS:,} are "
                         "read (write a few sentences, or split it)")


def check_text(text: object) -> str:
    """The description if it is non-empty text of at most MAX_TEXT_CHARS characters, else a LanguageError."""
    if not isinstance(text, str):
        raise LanguageError(f"a description must be text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise too_long(len(text))
    if not text.strip():
        raise LanguageError("the description is empty")
    return text


def read_text(stream: TextIO) -> str:
    """A description from a text stream: at most MAX_TEXT_CHARS characters are kept; a longer one
    is a LanguageError that gives its real length (the rest is counted, not kept)."""
    text = stream.read(MAX_TEXT_CHARS + 1)
    if len(text) <= MAX_TEXT_CHARS:
        return text
    length = len(text)
    while chunk := stream.read(1 << 20):
        length += len(chunk)
    raise too_long(length)


def check_start(start: Mapping[str, float] | None) -> dict[str, float]:
    """The channel values a performance starts from (missing channels 0), checked; LanguageError if bad."""
    if start is None:
        return dict.fromkeys(CHANNEL_NAMES, 0.0)
    if not isinstance(start, Mapping):
        raise LanguageError(f"start values must map channel names to numbers, got {type(start).__name__}")
    unknown = [str(k) for k in start if k not in CHANNEL_NAMES]
    if unknown:
        raise LanguageError(f"unknown channel {unknown[0]!r} in the start values (channels: {', '.join(CHANNEL_NAMES)})")
    try:
        values = {k: check_channel_value(start[k], f"{k} in the start values") if k in start else 0.0
                  for k in CHANNEL_NAMES}
    except ChannelValueError as e:
        raise LanguageError(str(e)) from None
    return {k: round(v, 4) + 0.0 for k, v in values.items()}


Fallback = Callable[[int, int], "Mapping[str, float] | None"]


def read_description(text: str, fps: float = 25.0, fallback: Fallback | None = None,
                     start: Mapping[str, float] | None = None) -> Reading:
    """The steps the rules read in `text`, from the channel values `start` (missing channels 0);
    `fallback(start, end)` may give channel values for a part with no known word (the sentence
    model). Raises LanguageError on bad input or durations."""
    check_text(text)
    begin = check_start(start)
    reader = _Reader(text, fps)
    parts = split_stops(reader.parts(), text)
    for part in parts:
        if part.unknown and not part.has_change and fallback is not None:
            values = fallback(part.start, part.end)
            if values is not None:
                first = part.unknown[0][0]
                part.items.append(Item("model", MappingProxyType(dict(values)), first.start, first.start, first.end))
                for token, _ in part.unknown:
                    reader.fate[token.start] = "used"
                part.unknown.clear()
    unknown = [Unknown(text[t.start:t.end], t.start + 1, reason) for p in parts for t, reason in p.unknown]
    unknown += [Unknown(text[i.start:i.end], i.start + 1, str(i.value)) for p in parts for i in p.items
                if i.kind == "unsupported"]
    unknown.sort(key=lambda u: u.position)
    steps = tuple(replace(s, text=re.sub(r"(?:[\s,]+(?:and|while|whilst|as|with))*\s*$", "", text[s.span[0]:s.span[1]]))
                  for s in steps_from_parts(parts, begin))
    fates = tuple((t.start + 1, t.text, reader.fate.get(t.start, "dropped")) for t in reader.words)
    return Reading(steps, tuple(unknown), tuple(reader.read_as), fates)


class _Reader:
    """Cuts a description into parts and reads each token into items, keeping every token's fate."""

    def __init__(self, text: str, fps: float) -> None:
        self.text, self.fps = text, fps
        self.words = tokens(text)
        self.fate: dict[int, str] = {}
        self.read_as: list[tuple[str, int, str]] = []

    def _mark(self, i: int, count: int, fate: str = "used") -> None:
        for token in self.words[i:i + count]:
            self.fate[token.start] = fate

    def parts(self) -> list[Part]:
        words = self.words
        parts: list[Part] = [Part()]
        separator = "start"
        i = 0

        def current() -> Part:
            part = parts[-1]
            if part.start < 0:
                part.separator = separator
            return part

        def add(kind: str, value: object, i: int, count: int) -> None:
            part = current()
            extend(part, words[i])
            extend(part, words[i + count - 1])
            part.items.append(Item(kind, value, i, words[i].start, words[i + count - 1].end))
            self._mark(i, count)

        while i < len(words):
            token = words[i]
            if token.text in ".!?;":
                parts.append(Part())
                separator, i = "sequence", i + 1
                self._mark(i - 1, 1)
                continue
            if token.text == ",":
                parts.append(Part())
                separator, i = ("comma" if separator != "sequence" or parts[-2].start >= 0 else "sequence"), i + 1
                self._mark(i - 1, 1)
                continue
            timed = read_at_time(self.text, words, i, self.fps) or read_later(words, i, self.fps) \
                or read_duration(self.text, words, i, self.fps)
            if timed is not None:
                kind, seconds, count = timed
                if kind == "later_for" and parts[-1].has_change:
                    parts.append(Part())
                    separator = "sequence"
                changes = [item for item in parts[-1].items if item.kind in CHANGE_KINDS]
                if kind == "at" and len(changes) > 1 and any(item.kind == "at" for item in parts[-1].items):
                    parts[-1:] = split(parts[-1], changes[-1])  # "smiles at 1 s and frowns at 4 s"
                    separator = "sequence"
                add(kind, seconds, i, count)
                i += count
                continue
            part = current()
            amount = read_amount(self.text, words, i, part.items[-1] if part.items else None)
            if amount is not None:
                value, count = amount
                add("amount", value, i, count)
                i += count
                continue
            comparative = comparative_entry(token.text)
            if comparative is not None and token.text not in LEXICON:
                add("comparative", 1.0, i, 1)
                add("action", comparative.value, i, 1)
                i += 1
                continue
            entry = lookup(words, i)
            if entry is None and token.text.isalpha() and not is_function_word(token.text) \
                    and token.text not in NUMBERS:
                fixed, _ = spelling(token.text)
                if fixed is not None:
                    entry = lookup([Token(fixed, token.start, token.end), *words[i + 1:]], 0)
                    if entry is not None:
                        self.read_as.append((self.text[token.start:token.end], token.start + 1, fixed))
            if entry is not None and entry.kind == "sequencer":
                if parts[-1].start >= 0:
                    parts.append(Part())
                separator = "sequence"
                self._mark(i, len(entry.phrase))
                i += len(entry.phrase)
                continue
            if entry is not None:
                add(entry.kind, entry.value, i, len(entry.phrase))
                i += len(entry.phrase)
                continue
            part = current()
            extend(part, token)
            if token.text in ("and", "while", "whilst", "as", "with") or is_function_word(token.text) \
                    or token.text in IGNORED_MARKS or token.text in ("a", "an", "one"):
                self._mark(i, 1, "ignored")  # joins, or a word with no meaning of its own here
            else:
                part.unknown.append((token, why_unknown(token.text)))
                self._mark(i, 1, "reported")
            i += 1
        return [p for p in parts if p.start >= 0]
