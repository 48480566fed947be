"""What the grammar reads a description into: steps of channel values, the words it did not
understand, the error for bad input, and the defaults and limits of its timing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..animation.channels import EMOTION_NAMES

DEFAULT_RAMP_S = 1.0
DEFAULT_HOLD_S = 0.5
HOLD_IT_S = 1.5  # "holds it" without a duration
WAIT_S = 1.0  # "waits", "a moment later" without a duration
MAX_DURATION_S = 300.0  # one duration; longer is no facial expression
MAX_TEXT_CHARS = 4000  # a description, not a book
EMOTIONS = EMOTION_NAMES


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


@dataclass(frozen=True)
class Reading:
    """What the rules made of a description: the steps, the words they did not understand, the
    misspellings they read (word, 1-based position, the word it was read as), and every token's
    fate (1-based position, token, "used" / "ignored" / "reported")."""

    steps: tuple[Step, ...]
    unknown: tuple[Unknown, ...]
    read_as: tuple[tuple[str, int, str], ...] = ()
    fates: tuple[tuple[int, str, str], ...] = ()
