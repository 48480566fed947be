"""Numbers and amounts: "2", "-2.5", "two", "half a", "a couple of"; "50%", "50 percent", or a
number right after an action ("joy 0.5", "joy at 0.5") as the value of its main channel."""

from __future__ import annotations

from ..animation.channels import VALUE_LIMIT
from .lexicon import Token, span
from .parts import Item
from .steps import LanguageError
from .words import NUMBERS

PERCENT = ("%", "percent", "per cent")


def read_number(words: list[Token], j: int) -> tuple[float | None, int]:
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


def check_amount(value: float, spelled: str, position: int) -> float:
    if abs(value) > VALUE_LIMIT:
        raise LanguageError(f"'{spelled}' is more than a channel can take ({VALUE_LIMIT:g} at most, 1 is the full "
                            "expression)", position)
    return value


def read_amount(text: str, words: list[Token], i: int, last: Item | None) -> tuple[float, int] | None:
    """ "50%", "50 percent", or a bare number after an action ("joy 0.5"): (value, token count)."""
    if not words[i].text[0].isdigit() and words[i].text[0] not in "+-" or ":" in words[i].text:
        return None
    number, k = read_number(words, i)
    if number is None:
        return None
    for mark in PERCENT:
        if [w.text for w in words[k:k + len(mark.split())]] == mark.split():
            return check_amount(number / 100, span(text, words, i, k + len(mark.split())), words[i].start + 1), \
                k + len(mark.split()) - i
    before = i - 1 - (i > 1 and words[i - 1].text in ("at", "to", "of"))  # "joy 0.5", "joy at 0.5"
    if last is not None and last.kind in ("action", "direction") and before >= 0 \
            and last.end == words[before].end and abs(number) <= VALUE_LIMIT:
        return check_amount(number, span(text, words, i, k), words[i].start + 1), k - i
    return None
