"""Words the tables do not hold: a misspelling one edit from exactly one known word is read as it
(and said so), otherwise the nearest known words are suggested; why a word is not understood; a
description in another language."""

from __future__ import annotations

import difflib
import functools
from pathlib import Path

from .amounts import PERCENT
from .lexicon import LEXICON, Token, is_function_word, lookup, tokens
from .words import NUMBERS


def _known_words() -> frozenset[str]:
    """The one-word table entries, and the inflections of those that change the face."""
    out = set()
    for entries in LEXICON.values():
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
    meanings = {id(lookup([Token(w, 0, 0)], 0)) for w, _ in near}  # "frowsn": 'frowns' and 'frown' are one
    if len(meanings) == 1 and (len(word) >= 5 or any(how != "substitute" for _, how in near)) \
            and english is not None and word not in english:
        return min(w for w, _ in near), ()
    suggestions = difflib.get_close_matches(word, _KNOWN_WORDS, n=2, cutoff=0.75)
    return None, tuple(suggestions)


def why_unknown(word: str) -> str:
    """What the report says about a word not understood."""
    if word[0].isdigit() or word[0] in "+-" and word[1:2].isdigit():
        return "a number not read here; write e.g. 'at 2 seconds', 'for 2 seconds', '50%' or 'joy 0.5'"
    if word in NUMBERS:
        return "a number that is not read here"
    if word in PERCENT:
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
    return any(w in _FOREIGN for w in words) and not any(is_function_word(w) for w in words)
