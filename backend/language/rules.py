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
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TextIO

from ..animation.channels import CHANNEL_NAMES, VALUE_LIMIT, ChannelValueError, check_channel_value
from .words import (ACTIONS, AFTER_NEGATIONS, AWAY, BACK, COMPARATIVES, COMPARATIVE_STEP, DIRECTIONS, FILLERS,
                     FUNCTION_WORDS, GESTURES, HOLDS, INTENSITIES, MANNERS, NEGATIONS, NUMBERS, POSSESSIVES,
                     REPEATS, RESET, SEQUENCERS, TOGETHER, UNITS, UNSUPPORTED, VAGUE_DURATIONS, VERB_SPEEDS, WAITS)

DEFAULT_RAMP_S = 1.0
DEFAULT_HOLD_S = 0.5
HOLD_IT_S = 1.5  # "holds it" without a duration
WAIT_S = 1.0  # "waits", "a moment later" without a duration
MAX_DURATION_S = 300.0  # one duration; longer is no facial expression
MAX_TEXT_CHARS = 4000  # a description, not a book
EMOTIONS = ("joy", "sadness", "anger", "fear", "surprise", "disgust")


class LanguageError(ValueError):
    """A description that cannot be turned into a script, at a 1-based character position."""

    def __init__(self, reason: str, position: int | None = None) -> None:
        super().__init__(reason, position)
        self.reason = reason
        self.position = position

    def __str__(self) -> str:
        return self.reason if self.position is None else f"character {self.position}: {self.reason}"


@dataclass(frozen=True)
class Unknown:
    """A word the rules do not understand: the text and its 1-based character position."""

    word: str
    position: int
    reason: str = "not understood"


@dataclass(frozen=True)
class Step:
    """One change of the face: `state` is every non-zero channel once it is done.

    `gesture` ("blink", "head_shake") is a quick back-and-forth that leaves `state` as it was.
    `span` is the 0-based character range of the `text` it comes from; `source` says who read
    it ("rules" or "model").
    """

    state: Mapping[str, float] = field(hash=False)
    ramp_s: float = DEFAULT_RAMP_S
    hold_s: float = DEFAULT_HOLD_S
    delay_s: float = 0.0
    gesture: str | None = None
    span: tuple[int, int] = (0, 0)
    source: str = "rules"
    text: str = ""
    at_s: float | None = None  # begins at this time (seconds from the start), not after the step before
    together: bool = False  # begins with the step before ("meanwhile")

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", MappingProxyType({k: v for k, v in self.state.items() if v != 0}))



# ---------------------------------------------------------------------------------------------
# Word matching

# Numbers (a sign only at a word's start: "-3", not "1-2"), clock times (0:02), words, the
# punctuation that separates steps, and any other mark on its own: every character that is not
# a space belongs to a token, so nothing can vanish unseen.
_TOKEN = re.compile(r"(?:(?<![^\s(])[-+−])?[0-9]+(?::[0-9]{2}(?![0-9])|(?:\.[0-9]+)?)|[^\W\d_]+(?:['’\-][^\W\d_]+)*"
                    r"|[.!?;,]|\S", re.UNICODE)
# Marks that carry no meaning here (quotes, brackets, dashes): read and ignored.
IGNORED_MARKS = frozenset("\"'“”‘’«»()[]{}:—–-…*/&_")
_PERCENT = ("%", "percent", "per cent")


@dataclass(frozen=True)
class _Token:
    text: str  # lower case, ’ as '
    start: int  # 0-based character offset
    end: int


def tokens(text: str) -> list[_Token]:
    """Every word, number, clock time and mark of `text`, with its character range."""
    return [_Token(m.group().lower().replace("’", "'").replace("−", "-"), m.start(), m.end())
            for m in _TOKEN.finditer(text)]


def forms(word: str) -> set[str]:
    """Base forms a word may be an inflection of: smiles/smiled/smiling → smile, eyes → eye."""
    out = {word}
    if word.endswith("n't"):
        out.add("n't")
    if word.endswith("'s"):
        out.add(word[:-2])
    for suffix in ("s", "es", "ed", "d", "ing", "ly", "ily", "er", "est"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            stem = word[: -len(suffix)]
            out.update({stem, stem + "e"})
            if suffix == "ily":
                out.add(stem + "y")
            if len(stem) >= 3 and stem[-1] == stem[-2]:  # grinning → grin
                out.add(stem[:-1])
            if stem.endswith("i"):  # cries → cry
                out.add(stem[:-1] + "y")
    if word == "teeth":
        out.add("tooth")
    return out


@dataclass(frozen=True)
class _Entry:
    kind: str  # action, reset, gesture, unsupported, direction, away, intensity, speed, verb_speed, negation,
    #            negation_after, sequencer, hold, wait, repeat, vague, together, back, filler, comparative
    value: object
    phrase: tuple[str, ...]


def _build_lexicon() -> dict[str, list[_Entry]]:
    tables: dict[str, Mapping[str, object]] = {
        "action": {phrase: MappingProxyType(value) for phrase, value in ACTIONS.items()},
        "reset": dict.fromkeys(RESET), "gesture": GESTURES, "unsupported": UNSUPPORTED, "direction": DIRECTIONS,
        "away": dict.fromkeys(AWAY), "intensity": INTENSITIES, "speed": MANNERS, "verb_speed": VERB_SPEEDS,
        "negation": dict.fromkeys(NEGATIONS), "negation_after": dict.fromkeys(AFTER_NEGATIONS),
        "sequencer": dict.fromkeys(SEQUENCERS), "hold": dict.fromkeys(HOLDS), "wait": dict.fromkeys(WAITS),
        "repeat": REPEATS, "vague": VAGUE_DURATIONS, "together": dict.fromkeys(TOGETHER), "back": dict.fromkeys(BACK),
        "filler": dict.fromkeys(FILLERS), "comparative": COMPARATIVES,
    }
    lexicon: dict[str, list[_Entry]] = {}
    for kind, table in tables.items():
        for phrase, value in table.items():
            words = tuple(phrase.split())
            lexicon.setdefault(words[0], []).append(_Entry(kind, value, words))
    for entries in lexicon.values():
        entries.sort(key=lambda e: -len(e.phrase))  # longest first
    return lexicon


_LEXICON = _build_lexicon()
_KIND_RANK = {"action": 0, "reset": 0, "gesture": 0, "unsupported": 0, "vague": 0, "filler": 0, "sequencer": 1,
              "negation": 1, "negation_after": 1, "together": 1, "direction": 2, "away": 2, "hold": 2, "wait": 2,
              "repeat": 2, "back": 2, "speed": 3, "verb_speed": 3, "comparative": 3, "intensity": 4}
_CHANGE_KINDS = ("action", "model", "reset", "gesture", "direction", "away")


def _phrase_fits(entry: _Entry, words: list[_Token], i: int) -> bool:
    if i + len(entry.phrase) > len(words):
        return False
    for part, token in zip(entry.phrase, words[i:], strict=False):
        if part == "<poss>":
            if token.text not in POSSESSIVES:
                return False
        elif part != token.text and part not in forms(token.text):
            return False
    return True


def _lookup(words: list[_Token], i: int) -> _Entry | None:
    """The longest table entry that starts at words[i] (ties: actions before modifiers)."""
    best: _Entry | None = None
    for start in forms(words[i].text):
        for entry in _LEXICON.get(start, ()):
            if _phrase_fits(entry, words, i) and (
                    best is None or (len(entry.phrase), -_KIND_RANK[entry.kind])
                    > (len(best.phrase), -_KIND_RANK[best.kind])):
                best = entry
    return best


def _comparative(word: str) -> _Entry | None:
    """An emotion word's comparative ("angrier", "sadder", "happier"): its action entry, or None."""
    if not word.endswith("er") or len(word) < 5:
        return None
    stem = word[:-2]
    for base in (stem[:-1] + "y" if stem.endswith("i") else stem, stem[:-1] if stem[-1:] == stem[-2:-1] else stem,
                 stem + "e"):
        entry = next((e for e in _LEXICON.get(base, ()) if e.kind == "action" and e.phrase == (base,)), None)
        if entry is not None and any(c in EMOTIONS for c in entry.value):  # type: ignore[attr-defined]
            return entry
    return None


# ---------------------------------------------------------------------------------------------
# Misspellings: a word one edit away from exactly one known word is read as it (and said so);
# otherwise the nearest known words are suggested.

def _known_words() -> frozenset[str]:
    """The one-word table entries, and the inflections of those that change the face."""
    out = set()
    for entries in _LEXICON.values():
        for entry in entries:
            if len(entry.phrase) != 1 or entry.kind == "unsupported":
                continue
            base = entry.phrase[0]
            out.add(base)
            if entry.kind not in ("action", "reset", "gesture", "hold"):
                continue
            if base.endswith(("ed", "ful", "ous", "ive", "ic", "al", "less", "ish", "ant", "ent", "y")):
                if len(base) <= 4 and base.endswith("y"):  # cry: cries, cried
                    out.update({base[:-1] + "ies", base[:-1] + "ied"})
                continue  # adjectives: no verb forms
            stem = base[:-1] if base.endswith("e") else base
            out.update({base + "s", stem + "ed", stem + "ing"})
            if base.endswith(("s", "sh", "ch", "x", "z", "o")):
                out.add(base + "es")
    return frozenset(w for w in out if len(w) >= 3)


_KNOWN_WORDS = _known_words()
# English words the sentence model's tokenizer knows whole: a word among them is never "corrected"
# (only suggested). Without the model's files, misspellings are suggested and never read.
ENGLISH_WORDS = Path(__file__).resolve().parent.parent.parent / "models" / "text" / "vocab.txt"


@functools.cache
def _english_words() -> frozenset[str] | None:
    try:
        return frozenset(w for w in ENGLISH_WORDS.read_text(encoding="utf-8").split() if w.isalpha())
    except (OSError, UnicodeDecodeError):
        return None


def _one_edit(a: str, b: str) -> str | None:
    """How `a` is one edit from `b` (substitute, insert, delete, swap), or None."""
    if a == b or abs(len(a) - len(b)) > 1:
        return None
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return "substitute"
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return "swap"
        return None
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1:] == short:
            return "insert" if short is a else "delete"
    return None


def spelling(word: str) -> tuple[str | None, tuple[str, ...]]:
    """(the known word a misspelling is read as, or None; nearest known words to suggest)."""
    if len(word) < 4 or not word.isalpha():
        return None, ()
    near = [(w, _one_edit(word, w)) for w in _KNOWN_WORDS]
    near = [(w, how) for w, how in near if how is not None]
    english = _english_words()
    meanings = {id(_lookup([_Token(w, 0, 0)], 0)) for w, _ in near}  # "frowsn": 'frowns' and 'frown' are one
    if len(meanings) == 1 and (len(word) >= 5 or any(how != "substitute" for _, how in near)) \
            and english is not None and word not in english:
        return min(w for w, _ in near), ()
    suggestions = difflib.get_close_matches(word, _KNOWN_WORDS, n=2, cutoff=0.75)
    return None, tuple(suggestions)


# ---------------------------------------------------------------------------------------------
# Reading a description

@dataclass
class _Item:
    kind: str
    value: object
    index: int  # token index in the text
    start: int
    end: int


@dataclass
class _Part:
    """Words between commas (or other separators): what they ask for."""

    items: list[_Item] = field(default_factory=list)
    unknown: list[tuple[_Token, str]] = field(default_factory=list)  # (token, reason)
    start: int = -1
    end: int = -1
    separator: str = "start"  # what came before: start, comma or sequence

    @property
    def has_change(self) -> bool:
        return any(i.kind in _CHANGE_KINDS for i in self.items)


@dataclass(frozen=True)
class Reading:
    """What the rules made of a description: the steps, the words they did not understand, the
    misspellings they read (word, 1-based position, the word it was read as), and every token's
    fate (1-based position, token, "used" / "ignored" / "reported")."""

    steps: tuple[Step, ...]
    unknown: tuple[Unknown, ...]
    read_as: tuple[tuple[str, int, str], ...] = ()
    fates: tuple[tuple[int, str, str], ...] = ()


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
    parts = _split_stops(reader.parts(), text)
    for part in parts:
        if part.unknown and not part.has_change and fallback is not None:
            values = fallback(part.start, part.end)
            if values is not None:
                first = part.unknown[0][0]
                part.items.append(_Item("model", MappingProxyType(dict(values)), first.start, first.start, first.end))
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

    def parts(self) -> list[_Part]:
        words = self.words
        parts: list[_Part] = [_Part()]
        separator = "start"
        i = 0

        def current() -> _Part:
            part = parts[-1]
            if part.start < 0:
                part.separator = separator
            return part

        def add(kind: str, value: object, i: int, count: int) -> None:
            part = current()
            _extend(part, words[i])
            _extend(part, words[i + count - 1])
            part.items.append(_Item(kind, value, i, words[i].start, words[i + count - 1].end))
            self._mark(i, count)

        while i < len(words):
            token = words[i]
            if token.text in ".!?;":
                parts.append(_Part())
                separator, i = "sequence", i + 1
                self._mark(i - 1, 1)
                continue
            if token.text == ",":
                parts.append(_Part())
                separator, i = ("comma" if separator != "sequence" or parts[-2].start >= 0 else "sequence"), i + 1
                self._mark(i - 1, 1)
                continue
            timed = self._at_time(i) or self._later(i) or self._duration(i)
            if timed is not None:
                kind, seconds, count = timed
                if kind == "later_for" and parts[-1].has_change:
                    parts.append(_Part())
                    separator = "sequence"
                changes = [item for item in parts[-1].items if item.kind in _CHANGE_KINDS]
                if kind == "at" and len(changes) > 1 and any(item.kind == "at" for item in parts[-1].items):
                    parts[-1:] = _split(parts[-1], changes[-1])  # "smiles at 1 s and frowns at 4 s"
                    separator = "sequence"
                add(kind, seconds, i, count)
                i += count
                continue
            amount = self._amount(i, current())
            if amount is not None:
                value, count = amount
                add("amount", value, i, count)
                i += count
                continue
            comparative = _comparative(token.text)
            if comparative is not None and token.text not in _LEXICON:
                add("comparative", 1.0, i, 1)
                add("action", comparative.value, i, 1)
                i += 1
                continue
            entry = _lookup(words, i)
            if entry is None and token.text.isalpha() and not _is_function_word(token.text) \
                    and token.text not in NUMBERS:
                fixed, _ = spelling(token.text)
                if fixed is not None:
                    entry = _lookup([_Token(fixed, token.start, token.end), *words[i + 1:]], 0)
                    if entry is not None:
                        self.read_as.append((self.text[token.start:token.end], token.start + 1, fixed))
            if entry is not None and entry.kind == "sequencer":
                if parts[-1].start >= 0:
                    parts.append(_Part())
                separator = "sequence"
                self._mark(i, len(entry.phrase))
                i += len(entry.phrase)
                continue
            if entry is not None:
                add(entry.kind, entry.value, i, len(entry.phrase))
                i += len(entry.phrase)
                continue
            part = current()
            _extend(part, token)
            if token.text in ("and", "while", "whilst", "as", "with") or _is_function_word(token.text) \
                    or token.text in IGNORED_MARKS or token.text in ("a", "an", "one"):
                self._mark(i, 1, "ignored")  # joins, or a word with no meaning of its own here
            else:
                part.unknown.append((token, _why_unknown(token.text)))
                self._mark(i, 1, "reported")
            i += 1
        return [p for p in parts if p.start >= 0]

    def _at_time(self, i: int) -> tuple[str, float, int] | None:
        """ "at 2 seconds", "at 1.5s", "at 0:02", "at frame 40": ("at", seconds, token count)."""
        words = self.words
        if words[i].text != "at" or i + 1 >= len(words):
            return None
        j = i + 1 + (words[i + 1].text == "the")
        if j >= len(words):
            return None
        if words[j].text in ("frame", "frames"):
            number, k = _number(words, j + 1)
            if number is None:
                return None
            return "at", _positive(number, words, i, k) / self.fps, k - i
        clock = re.fullmatch(r"(-?)([0-9]+):([0-9]{2})", words[j].text)
        if clock:
            if clock.group(1):
                raise LanguageError(f"'{self._span(i, j + 1)}': a time cannot be negative", words[i].start + 1)
            return "at", _limited(int(clock.group(2)) * 60 + int(clock.group(3)), words, i, j + 1), j + 1 - i
        number, k = _number(words, j)
        if number is None or k >= len(words) or words[k].text not in UNITS:
            return None
        unit = UNITS[words[k].text]
        seconds = number / self.fps if unit == 0 else number * unit
        k += 1 + (k + 1 < len(words) and words[k + 1].text == "mark")
        return "at", _limited(_positive(seconds, words, i, k), words, i, k), k - i

    def _later(self, i: int) -> tuple[str, float, int] | None:
        """ "three seconds later", "a second later": ("later_for", seconds, token count)."""
        words = self.words
        number, k = _number(words, i)
        if number is None or k + 1 >= len(words) or words[k].text not in UNITS \
                or words[k + 1].text not in ("later", "afterwards", "afterward", "after"):
            return None
        unit = UNITS[words[k].text]
        seconds = number / self.fps if unit == 0 else number * unit
        return "later_for", _limited(_positive(seconds, words, i, k + 2), words, i, k + 2), k + 2 - i

    def _duration(self, i: int) -> tuple[str, float, int] | None:
        """A timed phrase at words[i] ("for two seconds", "over 3 s", "after a moment"): (kind, seconds, count)."""
        words = self.words
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
        number, k = _number(words, j)
        if number is None or k >= len(words) or words[k].text not in UNITS:
            if kind == "wait_for":
                return kind, WAIT_S, 1  # "waits", "pauses" alone
            if number is not None and number < 0:
                raise LanguageError(f"'{self._span(i, k)}': a duration cannot be negative", words[i].start + 1)
            return None
        unit = UNITS[words[k].text]
        seconds = number / self.fps if unit == 0 else number * unit
        return kind, _limited(_positive(seconds, words, i, k + 1), words, i, k + 1), k + 1 - i

    def _amount(self, i: int, part: _Part) -> tuple[float, int] | None:
        """ "50%", "50 percent", or a bare number after an action ("joy 0.5"): (value, token count)."""
        words = self.words
        if not words[i].text[0].isdigit() and words[i].text[0] not in "+-" or ":" in words[i].text:
            return None
        number, k = _number(words, i)
        if number is None:
            return None
        for mark in _PERCENT:
            if [w.text for w in words[k:k + len(mark.split())]] == mark.split():
                return check_amount(number / 100, self._span(i, k + len(mark.split())), words[i].start + 1), \
                    k + len(mark.split()) - i
        before = i - 1 - (i > 1 and words[i - 1].text in ("at", "to", "of"))  # "joy 0.5", "joy at 0.5"
        if part.items and part.items[-1].kind in ("action", "direction") and before >= 0 \
                and part.items[-1].end == words[before].end and abs(number) <= VALUE_LIMIT:
            return check_amount(number, self._span(i, k), words[i].start + 1), k - i
        return None

    def _span(self, i: int, k: int) -> str:
        return self.text[self.words[i].start:self.words[k - 1].end]


def check_amount(value: float, spelled: str, position: int) -> float:
    if abs(value) > VALUE_LIMIT:
        raise LanguageError(f"'{spelled}' is more than a channel can take ({VALUE_LIMIT:g} at most, 1 is the full "
                            "expression)", position)
    return value


def _positive(seconds: float, words: list[_Token], i: int, k: int) -> float:
    if seconds < 0:
        raise LanguageError(f"'{' '.join(w.text for w in words[i:k])}': a time or duration cannot be negative",
                            words[i].start + 1)
    return seconds


def _limited(seconds: float, words: list[_Token], i: int, k: int) -> float:
    if seconds > MAX_DURATION_S:
        raise LanguageError(f"'{' '.join(w.text for w in words[i:k])}' is too long: one step lasts at most "
                            f"{MAX_DURATION_S:g} seconds", words[i].start + 1)
    return seconds


def _why_unknown(word: str) -> str:
    if word[0].isdigit() or word[0] in "+-" and word[1:2].isdigit():
        return "a number not read here; write e.g. 'at 2 seconds', 'for 2 seconds', '50%' or 'joy 0.5'"
    if word in NUMBERS:
        return "a number that is not read here"
    if word in _PERCENT:
        return "a percentage needs a number before it"
    _, near = spelling(word)
    if near:
        return "did you mean " + " or ".join(f"'{w}'" for w in near) + "?"
    return "not understood"


# A few of the commonest words of other languages written in Latin letters (French, German,
# Spanish, Italian, Portuguese, Dutch): a description of none of our words with one of these, or
# mostly of other letters, is said to be in another language.
_FOREIGN = frozenset("""
elle il est et une des du puis avec très sourit triste sie er ist und der das ein eine nicht mit dann lächelt
sehr ella él es y una con luego pero muy sonríe lei lui è poi molto sorride ela ele com depois não muito
zij hij een het en dan niet glimlacht
""".split())


def looks_foreign(text: str) -> bool:
    """Whether a description reads as another language than English (see _FOREIGN)."""
    words = [t.text for t in tokens(text) if t.text.isalpha()]
    letters = [c for c in text if c.isalpha()]
    if not words or sum(not c.isascii() for c in letters) >= 0.3 * len(letters):
        return bool(letters)
    return any(w in _FOREIGN for w in words) and not any(_is_function_word(w) for w in words)


def _extend(part: _Part, token: _Token) -> None:
    part.start = token.start if part.start < 0 else part.start
    part.end = max(part.end, token.end)


def _is_function_word(word: str) -> bool:
    return word in FUNCTION_WORDS or any(f in FUNCTION_WORDS for f in forms(word) if len(f) > 2) \
        or word.endswith("n't") or word in POSSESSIVES


_PREPOSITIONS = {"for": "hold_for", "over": "ramp_for", "in": "ramp_for", "within": "ramp_for", "after": "delay_for",
                 "wait": "wait_for", "waits": "wait_for", "waited": "wait_for", "waiting": "wait_for",
                 "pause": "wait_for", "pauses": "wait_for", "paused": "wait_for", "pausing": "wait_for",
                 "takes": "ramp_for", "take": "ramp_for", "taking": "ramp_for", "lasting": "hold_for"}


def _number(words: list[_Token], j: int) -> tuple[float | None, int]:
    """A number at words[j] ("2", "-2.5", "two", "a", "half a", "a couple of", "one and a half"): (value, next index)."""
    if j >= len(words):
        return None, j
    text = words[j].text
    if text[0].isdigit() or (text[0] in "+-" and text[1:2].isdigit()):
        if ":" in text:
            return None, j
        if len(text) > 12:
            raise LanguageError(f"the number {text[:12]}… is too large", words[j].start + 1)
        return float(text), j + 1
    if text == "half" and j + 1 < len(words) and words[j + 1].text in ("a", "an"):
        return 0.5, j + 2
    if text in ("a", "an") and j + 1 < len(words) and words[j + 1].text in ("couple", "few"):
        k = j + 2 + (j + 2 < len(words) and words[j + 2].text == "of")
        return NUMBERS[words[j + 1].text], k
    if text in NUMBERS:
        value, k = NUMBERS[text], j + 1
        if [w.text for w in words[k: k + 3]] == ["and", "a", "half"]:
            value, k = value + 0.5, k + 3
        elif k < len(words) and words[k].text == "of":
            k += 1
        return value, k
    return None, j


def _split(part: _Part, at: _Item) -> tuple[_Part, _Part]:
    """A part cut in two before the item `at`; the second half comes in sequence."""
    first = _Part([i for i in part.items if i.index < at.index], [u for u in part.unknown if u[0].start < at.start],
                  part.start, at.start, part.separator)
    second = _Part([i for i in part.items if i.index >= at.index],
                   [u for u in part.unknown if u[0].start >= at.start], at.start, part.end, "sequence")
    return first, second


def _split_stops(parts: list[_Part], text: str) -> list[_Part]:
    """ "She smiles and stops at 0:05": a stop word after "and" after an action, with no action
    after it, is a change of its own (what follows it, a time included, belongs to the stop)."""
    out = []
    for part in parts:
        actions = [i for i in part.items if i.kind in _CHANGE_KINDS]
        stop = next((n for n in part.items if n.kind == "negation" and actions and actions[0].index < n.index
                     and not any(a.index > n.index for a in actions)
                     and re.search(r"\band\b", text[actions[-1].end:n.start].lower())), None)
        out += [part] if stop is None else list(_split(part, stop))
    return out


# ---------------------------------------------------------------------------------------------
# Parts → steps


@dataclass
class _Change:
    """What one part asks for, before it is applied to the face."""

    values: dict[str, float] = field(default_factory=dict)
    relative: dict[str, float] = field(default_factory=dict)  # comparatives: added to the current value
    reset: bool = False
    stop: bool = False  # "and then stops", "back": the channels of the change before go to 0
    still: bool = False  # "stays still", "no emotion": the face holds
    gestures: list[tuple[str, int, bool]] = field(default_factory=list)  # (name, repeats, before the change)
    ramp_s: float | None = None
    verb_ramp_s: float | None = None
    hold_s: float | None = None
    delay_s: float = 0.0
    later: bool = False  # the delay counts from when the change before is complete
    at_s: float | None = None
    together: bool = False
    wait_s: float | None = None  # a hold for the step before
    source: str = "rules"
    start: int = 0
    end: int = 0

    @property
    def changes_face(self) -> bool:
        return self.reset or bool(self.values) or bool(self.relative) or self.stop

    def clashes(self, other: _Change) -> bool:
        """Two parts that cannot be one change: different emotions, or a channel both ways."""
        mine = {c for c, v in {**self.values, **self.relative}.items() if c in EMOTIONS and v != 0}
        theirs = {c for c, v in {**other.values, **other.relative}.items() if c in EMOTIONS and v != 0}
        if mine and theirs and mine != theirs:
            return True
        both = [c for c, v in self.values.items() if v != 0 and other.values.get(c, 0.0) != 0]
        return any((self.values[c] > 0) != (other.values[c] > 0) for c in both) or (self.reset and bool(other.values)) \
            or self.stop or other.stop or (self.at_s is not None and other.at_s is not None)

    def merge(self, other: _Change) -> None:
        for channel, value in other.values.items():
            old = self.values.get(channel)
            self.values[channel] = value if old is None or abs(value) > abs(old) or value == 0 else old
        self.relative.update(other.relative)
        self.reset |= other.reset
        self.still |= other.still
        self.gestures += other.gestures
        self.ramp_s = other.ramp_s if other.ramp_s is not None else self.ramp_s
        self.verb_ramp_s = other.verb_ramp_s if other.verb_ramp_s is not None else self.verb_ramp_s
        self.hold_s = other.hold_s if other.hold_s is not None else self.hold_s
        self.at_s = other.at_s if other.at_s is not None else self.at_s
        self.together |= other.together
        self.later |= other.later
        self.delay_s += other.delay_s
        self.source = "model" if "model" in (self.source, other.source) else "rules"
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)


def _change(part: _Part) -> _Change:
    """The values, gestures and timing one part asks for."""
    change = _Change(start=part.start, end=part.end)
    items = part.items
    if any(i.kind == "model" for i in items):
        change.source = "model"
    actions = [i for i in items if i.kind in ("action", "model", "direction", "away", "reset")]
    named_direction = any(i.kind == "direction" for i in items)
    scale: dict[int, float] = {}
    amount: dict[int, float] = {}
    more: dict[int, float] = {}
    negated: set[int] = set()

    def nearest(item: _Item, pool: list[_Item]) -> _Item:
        return min(pool, key=lambda a: (abs(a.index - item.index), a.index < item.index))

    for item in items:
        if item.kind == "intensity" and actions:
            target = nearest(item, actions)
            scale[id(target)] = scale.get(id(target), 1.0) * float(item.value)  # type: ignore[arg-type]
        elif item.kind == "amount" and actions:
            before = [a for a in actions if a.index < item.index]
            amount[id(before[-1] if before else nearest(item, actions))] = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "comparative" and actions:
            after = [a for a in actions if a.index >= item.index]
            more[id(after[0] if after else nearest(item, actions))] = float(item.value)  # type: ignore[arg-type]
        elif item.kind in ("negation", "negation_after") and actions:
            after = [a for a in actions if a.index > item.index]
            before = [a for a in actions if a.index < item.index]
            if item.kind == "negation_after":
                after, before = before[::-1], after[::-1]
            negated.add(id(after[0] if after else before[-1]))
        elif item.kind == "negation" and not actions:
            change.stop = True  # "and then stops"
        elif item.kind == "back" and not actions:
            change.stop = True  # "turns left and then back"
    for item in actions:
        factor = scale.get(id(item), 1.0)
        if item.kind == "reset":
            change.reset = True
            continue
        if item.kind == "direction":
            values = {"head_turn": float(item.value)}  # type: ignore[arg-type]
        elif item.kind == "away":
            if named_direction:
                continue
            values = {"head_turn": 1.0}
        else:
            values = dict(item.value)  # type: ignore[call-overload]
        if id(item) in amount:  # "50% happy": the action's main channel at that value, the others in proportion
            main = max(abs(v) for v in values.values()) or 1.0
            factor = amount[id(item)] / main
        if id(item) in more and id(item) not in negated:
            for channel, value in values.items():
                if value:
                    change.relative[channel] = COMPARATIVE_STEP * more[id(item)] * (1 if value > 0 else -1)
            continue
        for channel, value in values.items():
            value = 0.0 if id(item) in negated else max(-VALUE_LIMIT, min(VALUE_LIMIT, value * factor))
            old = change.values.get(channel)
            if old is None or abs(value) > abs(old):
                change.values[channel] = check_channel_value(round(value, 2), f"{channel} from the description")
    first_change = min((a.index for a in actions), default=None)
    for item in items:
        if item.kind == "gesture":
            repeats = next((int(r.value) for r in items if r.kind == "repeat"), 1)  # type: ignore[call-overload]
            before = first_change is None or item.index < first_change
            change.gestures.append((str(item.value), repeats, before))
        elif item.kind == "speed":
            ramp = float(item.value)  # type: ignore[arg-type]
            change.ramp_s = ramp if change.ramp_s is None else min(change.ramp_s, ramp)
        elif item.kind == "verb_speed":
            change.verb_ramp_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "ramp_for":
            change.ramp_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "hold_for":
            change.hold_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "hold":
            change.still = True
            change.hold_s = change.hold_s if change.hold_s is not None else HOLD_IT_S
        elif item.kind in ("delay_for", "later_for"):
            change.delay_s += float(item.value)  # type: ignore[arg-type]
            change.later = True
        elif item.kind == "at":
            change.at_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "together":
            change.together = True
        elif item.kind == "vague":  # "a moment later"
            change.wait_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "wait_for":
            change.wait_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "wait":
            change.wait_s = change.wait_s if change.wait_s is not None else WAIT_S
    if change.wait_s is not None and (change.changes_face or change.gestures):
        change.delay_s += change.wait_s  # "she waits, smiling": the wait comes first
        change.wait_s = None
    return change


def steps_from_parts(parts: list[_Part], start: Mapping[str, float] | None = None) -> Iterator[Step]:
    """Group parts into changes (commas join what fits), then apply them in order to the face."""
    groups: list[_Change] = []
    pending: _Change | None = None  # timing words before any change ("Slowly, she smiles")
    for part in parts:
        change = _change(part)
        if not change.changes_face and not change.gestures:
            if change.wait_s is not None and groups:
                groups[-1].hold_s = change.wait_s  # "waits two seconds": a hold of the step before
            elif groups and not change.delay_s and change.at_s is None and not change.together \
                    and (part.separator == "comma" or change.hold_s is not None):
                last = groups[-1]  # "She smiles, slowly." / "..., holds it, ..."
                last.hold_s = change.hold_s if change.hold_s is not None else last.hold_s
                last.ramp_s = change.ramp_s if change.ramp_s is not None else last.ramp_s
            elif change.still and not groups and pending is None:
                groups.append(change)  # "She stays still for 2 seconds": the face holds
            else:  # applies to the next change: "Slowly, ...", "After a moment, ...", "At 2 seconds, ..."
                change.delay_s += change.wait_s or 0.0
                if pending is None:
                    pending = change
                else:
                    pending.merge(change)
            continue
        if pending is not None:
            change.ramp_s = change.ramp_s if change.ramp_s is not None else pending.ramp_s
            change.hold_s = change.hold_s if change.hold_s is not None else pending.hold_s
            change.at_s = change.at_s if change.at_s is not None else pending.at_s
            change.together |= pending.together
            change.later |= pending.later
            change.delay_s += pending.delay_s
            change.start, pending = min(change.start, pending.start), None
        if groups and part.separator == "comma" and not groups[-1].clashes(change) and not change.gestures \
                and not groups[-1].gestures and change.at_s is None and not change.later and not change.together:
            groups[-1].merge(change)
        else:
            if groups and change.later and groups[-1].hold_s is None:
                groups[-1].hold_s = 0.0  # "two seconds later": counted from when the change before is complete
            groups.append(change)
    if pending is not None and not groups and pending.still:
        groups.append(pending)
    yield from _apply(groups, start or {})


def _apply(groups: list[_Change], start: Mapping[str, float]) -> Iterator[Step]:
    state: dict[str, float] = {**dict.fromkeys(CHANNEL_NAMES, 0.0), **start}
    previous: dict[str, float] = {k: v for k, v in state.items() if v}  # what the last change set
    for change in groups:
        span = (change.start, change.end)
        ramp = next((r for r in (change.ramp_s, change.verb_ramp_s) if r is not None), DEFAULT_RAMP_S)  # manner first
        hold = change.hold_s if change.hold_s is not None else DEFAULT_HOLD_S
        delay = change.delay_s
        timing = {"at_s": change.at_s, "together": change.together}
        gestures_after = []
        for name, repeats, before in change.gestures:
            if before or not change.changes_face:
                for _ in range(repeats):
                    yield Step(dict(state), ramp_s=0.0, hold_s=0.0, delay_s=delay, gesture=name, span=span, **timing)
                    delay, timing = 0.0, {"at_s": None, "together": False}
            else:
                gestures_after += [name] * repeats
        if change.changes_face or change.still:
            before = dict(state)
            if change.reset:
                state = dict.fromkeys(state, 0.0)
            if change.stop:
                state.update(dict.fromkeys(previous, 0.0))
            if any(c in EMOTIONS and v != 0 for c, v in {**change.values, **change.relative}.items()):
                keep = {c: state[c] for c in change.relative}
                state.update(dict.fromkeys(EMOTIONS, 0.0))
                state.update(keep)
            state.update(change.values)
            for channel, delta in change.relative.items():
                state[channel] = round(max(-VALUE_LIMIT, min(VALUE_LIMIT, state[channel] + delta)), 2)
            changed = {c: v for c, v in state.items() if v != before[c]}
            previous = changed or previous
            yield Step(dict(state), ramp_s=ramp, hold_s=hold, delay_s=delay, span=span, source=change.source,
                       **timing)
        for name in gestures_after:
            yield Step(dict(state), ramp_s=0.0, hold_s=0.0, gesture=name, span=span)
