"""Word matching: a description's tokens, the base forms of a word, and the longest table entry
(``words``) a phrase starts with."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .steps import EMOTIONS
from .words import (ACTIONS, AFTER_NEGATIONS, AWAY, BACK, COMPARATIVES, DIRECTIONS, FILLERS, FUNCTION_WORDS,
                    GESTURES, HOLDS, INTENSITIES, MANNERS, NEGATIONS, POSSESSIVES, REPEATS, RESET, SEQUENCERS,
                    TOGETHER, UNSUPPORTED, VAGUE_DURATIONS, VERB_SPEEDS, WAITS)

# Numbers (a sign only at a word's start: "-3", not "1-2"), clock times (0:02), words, the
# punctuation that separates steps, and any other mark on its own: every character that is not
# a space belongs to a token, so nothing can vanish unseen.
_TOKEN = re.compile(r"(?:(?<![^\s(])[-+−])?[0-9]+(?::[0-9]{2}(?![0-9])|(?:\.[0-9]+)?)|[^\W\d_]+(?:['’\-][^\W\d_]+)*"
                    r"|[.!?;,]|\S", re.UNICODE)
# Marks that carry no meaning here (quotes, brackets, dashes): read and ignored.
IGNORED_MARKS = frozenset("\"'“”‘’«»()[]{}:—–-…*/&_")


@dataclass(frozen=True)
class Token:
    """A word, number, clock time or mark of a description."""

    text: str  # lower case, ’ as '
    start: int  # 0-based character offset
    end: int


def tokens(text: str) -> list[Token]:
    """Every word, number, clock time and mark of `text`, with its character range."""
    return [Token(m.group().lower().replace("’", "'").replace("−", "-"), m.start(), m.end())
            for m in _TOKEN.finditer(text)]


def span(text: str, words: list[Token], i: int, k: int) -> str:
    """The text of words[i:k], as written."""
    return text[words[i].start:words[k - 1].end]


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
class Entry:
    """A phrase of the word tables (``words``), what kind of word it is and what it means."""

    kind: str  # action, reset, gesture, unsupported, direction, away, intensity, speed, verb_speed, negation,
    #            negation_after, sequencer, hold, wait, repeat, vague, together, back, filler, comparative
    value: object
    phrase: tuple[str, ...]


def _build_lexicon() -> dict[str, list[Entry]]:
    tables: dict[str, Mapping[str, object]] = {
        "action": {phrase: MappingProxyType(value) for phrase, value in ACTIONS.items()},
        "reset": dict.fromkeys(RESET), "gesture": GESTURES, "unsupported": UNSUPPORTED, "direction": DIRECTIONS,
        "away": dict.fromkeys(AWAY), "intensity": INTENSITIES, "speed": MANNERS, "verb_speed": VERB_SPEEDS,
        "negation": dict.fromkeys(NEGATIONS), "negation_after": dict.fromkeys(AFTER_NEGATIONS),
        "sequencer": dict.fromkeys(SEQUENCERS), "hold": dict.fromkeys(HOLDS), "wait": dict.fromkeys(WAITS),
        "repeat": REPEATS, "vague": VAGUE_DURATIONS, "together": dict.fromkeys(TOGETHER), "back": dict.fromkeys(BACK),
        "filler": dict.fromkeys(FILLERS), "comparative": COMPARATIVES,
    }
    lexicon: dict[str, list[Entry]] = {}
    for kind, table in tables.items():
        for phrase, value in table.items():
            words = tuple(phrase.split())
            lexicon.setdefault(words[0], []).append(Entry(kind, value, words))
    for entries in lexicon.values():
        entries.sort(key=lambda e: -len(e.phrase))  # longest first
    return lexicon


LEXICON = _build_lexicon()
_KIND_RANK = {"action": 0, "reset": 0, "gesture": 0, "unsupported": 0, "vague": 0, "filler": 0, "sequencer": 1,
              "negation": 1, "negation_after": 1, "together": 1, "direction": 2, "away": 2, "hold": 2, "wait": 2,
              "repeat": 2, "back": 2, "speed": 3, "verb_speed": 3, "comparative": 3, "intensity": 4}


def _phrase_fits(entry: Entry, words: list[Token], i: int) -> bool:
    if i + len(entry.phrase) > len(words):
        return False
    for part, token in zip(entry.phrase, words[i:], strict=False):
        if part == "<poss>":
            if token.text not in POSSESSIVES:
                return False
        elif part != token.text and part not in forms(token.text):
            return False
    return True


def lookup(words: list[Token], i: int) -> Entry | None:
    """The longest table entry that starts at words[i] (ties: actions before modifiers)."""
    best: Entry | None = None
    for start in forms(words[i].text):
        for entry in LEXICON.get(start, ()):
            if _phrase_fits(entry, words, i) and (
                    best is None or (len(entry.phrase), -_KIND_RANK[entry.kind])
                    > (len(best.phrase), -_KIND_RANK[best.kind])):
                best = entry
    return best


def comparative_entry(word: str) -> Entry | None:
    """An emotion word's comparative ("angrier", "sadder", "happier"): its action entry, or None."""
    if not word.endswith("er") or len(word) < 5:
        return None
    stem = word[:-2]
    for base in (stem[:-1] + "y" if stem.endswith("i") else stem, stem[:-1] if stem[-1:] == stem[-2:-1] else stem,
                 stem + "e"):
        entry = next((e for e in LEXICON.get(base, ()) if e.kind == "action" and e.phrase == (base,)), None)
        if entry is not None and any(c in EMOTIONS for c in entry.value):  # type: ignore[attr-defined]
            return entry
    return None


def is_function_word(word: str) -> bool:
    """A word with no meaning of its own here ("she", "the", "her", "doesn't")."""
    return word in FUNCTION_WORDS or any(f in FUNCTION_WORDS for f in forms(word) if len(f) > 2) \
        or word.endswith("n't") or word in POSSESSIVES
