"""A description's parts: the words between commas (or other separators) and what they ask for."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lexicon import Token

CHANGE_KINDS = ("action", "model", "reset", "gesture", "direction", "away")  # the kinds of item that change the face


@dataclass
class Item:
    """What a part's words ask for: an entry of the tables, a time or an amount (``kind``, ``value``)."""

    kind: str
    value: object
    index: int  # token index in the text
    start: int
    end: int


@dataclass
class Part:
    """Words between commas (or other separators): what they ask for."""

    items: list[Item] = field(default_factory=list)
    unknown: list[tuple[Token, str]] = field(default_factory=list)  # (token, reason)
    start: int = -1
    end: int = -1
    separator: str = "start"  # what came before: start, comma or sequence

    @property
    def has_change(self) -> bool:
        return any(i.kind in CHANGE_KINDS for i in self.items)


def extend(part: Part, token: Token) -> None:
    """Widen ``part``'s character range to hold ``token``."""
    part.start = token.start if part.start < 0 else part.start
    part.end = max(part.end, token.end)


def split(part: Part, at: Item) -> tuple[Part, Part]:
    """A part cut in two before the item `at`; the second half comes in sequence."""
    first = Part([i for i in part.items if i.index < at.index], [u for u in part.unknown if u[0].start < at.start],
                 part.start, at.start, part.separator)
    second = Part([i for i in part.items if i.index >= at.index],
                  [u for u in part.unknown if u[0].start >= at.start], at.start, part.end, "sequence")
    return first, second


def split_stops(parts: list[Part], text: str) -> list[Part]:
    """ "She smiles and stops at 0:05": a stop word after "and" after an action, with no action
    after it, is a change of its own (what follows it, a time included, belongs to the stop)."""
    out = []
    for part in parts:
        actions = [i for i in part.items if i.kind in CHANGE_KINDS]
        stop = next((n for n in part.items if n.kind == "negation" and actions and actions[0].index < n.index
                     and not any(a.index > n.index for a in actions)
                     and re.search(r"\band\b", text[actions[-1].end:n.start].lower())), None)
        out += [part] if stop is None else list(split(part, stop))
    return out
