"""Emotion scripts: the text format of Zhang & Pollett (2021, Fig. 7), with intensities and timing.

Example::

    # Videos are generated with a single picture
    # Video 1:
    joy disgusting
    joy eye-open
    surprise joy turning-right
    # Video 2: slow turn
    surprise:0.5 anger eye-close
    turning-left:0.3 +16
    neutral @120

The format, line by line:

* ``#`` starts a comment that runs to the end of the line. Blank lines are ignored.
* ``Video N:`` starts clip N, with or without a leading ``#``; the colon is optional and text
  after it names the clip (in a ``#`` header, up to the end of the line). A comment that merely
  starts with "Video" (``# Videos are generated...``) is not a header. A script without
  headers is a single clip, Video 1. Once a script has headers, every keyframe line must come
  after one; clip numbers must be unique and every clip needs at least one keyframe line.
* Every other line is one keyframe: one or more emotion words separated by spaces, e.g.
  ``surprise anger eye-close``. Words are case-insensitive and '-', '_' and a space inside a
  word are the same (``eye-close``, ``Eye_Close``, ``eye close``); see ``backend.animation.channels``
  for the vocabulary. ``eye-open`` and ``mouth-close`` set their channel to 0; ``neutral``
  (or ``calm``) sets nothing, so a line with only ``neutral`` returns to the start face.
* ``word:x`` gives an intensity, e.g. ``joy:0.6`` or ``head_turn:-0.5``; without one it is 1.
  The channel gets the word's sign times x (``turning-left:0.5`` is head_turn -0.5) and must
  stay within [-2, 2] (``channels.VALUE_LIMIT``: 1 is the full expression, up to 2 exaggerates
  it). A channel may be set only once per line.
* Timing, at most one per line and anywhere on it: ``+N`` puts the keyframe N frames after
  the previous one, ``@N`` at frame N of the clip. Without either, a keyframe comes
  ``frames_between + 1`` frames after the previous one: ``frames_between`` in-between frames,
  32 by default as in the paper (Sec. 3.4), so keyframes at frames 0, 33, 66, ...

Every clip starts from the start face: frame 0 is an implicit keyframe with all channels at 0,
and the first line of a clip is its first change -- unless that line says ``@0``: then it is the
start face itself (a performance that continues from given values, e.g. ``joy:0.8 @0``). That is how the paper's program works: all
videos are generated from one picture (the top-left image of its Fig. 8, which Fig. 7's first
comment points to), and each text line becomes one generated keyframe after it.

Keyframes are absolute, as in the paper (Sec. 3.3: each keyframe is the face plus the directions
it lists): a channel a line does not name is 0 at that keyframe, not held from the line before.
To hold an emotion, repeat it, as Fig. 7 does (``surprise joy turning-right`` then
``joy turning-right``). Frames are clip-local and at most MAX_FRAME (Blender's limit).

Any problem raises ScriptError with the 1-based line and column, e.g.
``line 3, column 9: unknown emotion word 'hapy' (did you mean 'happy' or 'unhappy'?)``.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..files import read_bytes
from .channels import (
    SPELLINGS,
    VOCABULARY,
    Channel,
    ChannelValueError,
    Word,
    check_channel_value,
    make_channels,
    normalize_word,
)

DEFAULT_FRAMES_BETWEEN = 32
MAX_FRAME = 1_048_574  # Blender's last frame (MAXFRAME)
_MAX_PHRASE = 3  # a word may be written as up to three space-separated parts ("close eyes")

_HEADER = re.compile(r"#?\s*video\s*([0-9]+)\s*(?::(.*))?", re.ASCII | re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")
_TOKEN = re.compile(r"\S+")


class ScriptError(Exception):
    """A problem in an emotion script, at a 1-based line and column."""

    def __init__(self, reason: str, line: int, column: int, word: str | None = None) -> None:
        super().__init__(reason, line, column, word)
        self.reason = reason
        self.line = line
        self.column = column
        self.word = word

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass(frozen=True)
class Keyframe:
    """Channel values at a clip-local frame; `line` is the script line (None: the start face)."""

    frame: int
    values: Mapping[str, float] = field(hash=False)
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))


@dataclass(frozen=True)
class Clip:
    """One video: `keyframes[0]` is the start face at frame 0; frames strictly increase."""

    index: int
    name: str
    keyframes: tuple[Keyframe, ...]
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Script:
    """Parsed clips; every keyframe has a value for each of `channels`, in this order."""

    channels: tuple[str, ...]
    clips: tuple[Clip, ...]


def parse_script(
    text: str,
    *,
    frames_between: int = DEFAULT_FRAMES_BETWEEN,
    extra_channels: Iterable[str] = (),
) -> Script:
    """Parse script text (format in the module docstring); raises ScriptError on any problem."""
    if isinstance(frames_between, bool) or not isinstance(frames_between, int) or frames_between < 0:
        raise ValueError(f"frames_between must be a whole number >= 0, got {frames_between!r}")
    parser = _Parser(make_channels(extra_channels), frames_between)
    return parser.parse(text)


def load_script(
    path: str | os.PathLike[str],
    *,
    frames_between: int = DEFAULT_FRAMES_BETWEEN,
    extra_channels: Iterable[str] = (),
) -> Script:
    """Read and parse a UTF-8 script file."""
    data = read_bytes(path).removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        start = data.rfind(b"\n", 0, e.start) + 1
        column = len(data[start : e.start].decode("utf-8", errors="replace")) + 1
        raise ScriptError("the file is not UTF-8 text", data.count(b"\n", 0, e.start) + 1, column) from None
    return parse_script(text, frames_between=frames_between, extra_channels=extra_channels)


def format_script(script: Script, *, frames_between: int = DEFAULT_FRAMES_BETWEEN) -> str:
    """Script text that parses back to `script` (one made by parse_script)."""
    blocks = []
    for clip in script.clips:
        header = f"# Video {clip.index}:"
        lines = [header if clip.name == f"Video {clip.index}" else f"{header} {clip.name}"]
        if any(clip.keyframes[0].values.values()):  # a start face of its own
            lines.append(" ".join(_value_words(clip.keyframes[0]) + ["@0"]))
        for previous, key in zip(clip.keyframes, clip.keyframes[1:], strict=False):
            step = key.frame - previous.frame
            timing = [] if step == frames_between + 1 else [f"+{step}"]
            lines.append(" ".join((_value_words(key) or ["neutral"]) + timing))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _value_words(key: Keyframe) -> list[str]:
    return [name if value == 1 else f"{name}:{value!r}" for name, value in key.values.items() if value != 0]


def _shorten(word: str, limit: int = 40) -> str:
    return word if len(word) <= limit else word[: limit - 1] + "…"


class _Parser:
    def __init__(self, channels: tuple[Channel, ...], frames_between: int) -> None:
        self.channels = {c.name: c for c in channels}
        self.step = frames_between + 1
        custom = [c.name for c in channels if c.name not in VOCABULARY]
        self.vocabulary: dict[str, Word] = {**VOCABULARY, **{name: Word(name, 1) for name in custom}}
        self.spellings: dict[str, str] = {**SPELLINGS, **{name: name for name in custom}}
        self.start = Keyframe(0, dict.fromkeys(self.channels, 0.0))

    def parse(self, text: str) -> Script:
        rows = [row.removesuffix("\r") for row in text.removeprefix("\ufeff").split("\n")]
        has_headers = any(_header_match(row) for row in rows)
        clips: list[Clip] = []
        header: tuple[int, str, int | None] | None = None  # index, name, line of the open clip
        keyframes: list[Keyframe] = []
        for number, row in enumerate(rows, 1):
            match = _header_match(row)
            if match is not None:
                self._close(header, keyframes, clips)
                header, keyframes = self._header(match, row, number), [self.start]
                if any(clip.index == header[0] for clip in clips):
                    raise ScriptError(f"Video {header[0]} appears twice", number, _indent(row))
                continue
            tokens = [(m.group(), m.start() + 1) for m in _TOKEN.finditer(row.split("#", 1)[0])]
            if not tokens:
                continue
            first = not keyframes or keyframes == [self.start]  # only the start face: '@0' may replace it
            keyframe = self._keyframe(tokens, number, keyframes[-1].frame if keyframes else 0, first)
            if header is None:
                if has_headers:
                    raise ScriptError("keyframe before the first 'Video N:' header", number, tokens[0][1])
                header, keyframes = (1, "Video 1", None), [self.start]
            if keyframe.frame == 0:
                keyframes[0] = keyframe
            else:
                keyframes.append(keyframe)
        self._close(header, keyframes, clips)
        if not clips:
            raise ScriptError("the script has no keyframes", 1, 1)
        return Script(tuple(self.channels), tuple(clips))

    @staticmethod
    def _header(match: re.Match[str], row: str, number: int) -> tuple[int, str, int]:
        digits, name = match.group(1), (match.group(2) or "").strip()
        if len(digits) > 9:
            raise ScriptError("clip number is too large", number, _indent(row), digits)
        return int(digits), name or f"Video {int(digits)}", number

    @staticmethod
    def _close(header: tuple[int, str, int | None] | None, keyframes: list[Keyframe], clips: list[Clip]) -> None:
        if header is None:
            return
        index, name, line = header
        if len(keyframes) == 1 and keyframes[0].line is None:
            raise ScriptError(f"Video {index} has no keyframes", line or 1, 1)
        clips.append(Clip(index, name, tuple(keyframes), line))

    def _keyframe(self, tokens: list[tuple[str, int]], number: int, previous: int, first: bool = False) -> Keyframe:
        """The keyframe a line's tokens describe; `previous` is the frame of the keyframe before;
        `first`: the clip's first line, which may be '@0' (its start face)."""
        values = dict.fromkeys(self.channels, 0.0)
        set_by: dict[str, str] = {}
        frame: int | None = None
        has_word = False
        i = 0
        while i < len(tokens):
            text, column = tokens[i]
            if text[0] in "+@":
                if frame is not None:
                    raise ScriptError("only one '+N' or '@N' per line", number, column, text)
                frame = 0 if first and text == "@0" else self._frame(text, previous, number, column)
                i += 1
                continue
            count, key = self._match(tokens, i, number)
            word = self.vocabulary[key]
            spelled = " ".join(t for t, _ in tokens[i : i + count]).partition(":")[0]
            last, last_column = tokens[i + count - 1]
            has_word = True
            i += count
            if word.channel is None and ":" not in last:
                continue
            if word.channel in set_by:
                reason = f"channel '{word.channel}' is already set on this line by {set_by[word.channel]!r}"
                raise ScriptError(reason, number, column, spelled)
            intensity = 1.0
            if ":" in last:
                colon = last.index(":")
                intensity = self._intensity(word, spelled, last[colon + 1 :], number, last_column + colon + 1)
            assert word.channel is not None  # neutral with an intensity raised above
            set_by[word.channel] = spelled
            values[word.channel] = word.sign * intensity + 0.0  # + 0.0 turns -0.0 into 0.0
        if not has_word:
            reason = "a keyframe needs an emotion word (write 'neutral' for the start face)"
            raise ScriptError(reason, number, tokens[0][1])
        if frame is None:
            frame = previous + self.step
            if frame > MAX_FRAME:
                raise ScriptError(f"keyframe at frame {frame} is past the last frame, {MAX_FRAME}", number, 1)
        return Keyframe(frame, values, number)

    def _match(self, tokens: list[tuple[str, int]], i: int, number: int) -> tuple[int, str]:
        """Longest run of tokens from i that spells a vocabulary word: (token count, key)."""
        keys = []
        for count in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            parts = [t for t, _ in tokens[i : i + count]]
            if any(p[0] in "+@" for p in parts) or any(":" in p for p in parts[:-1]):
                continue
            key = normalize_word("_".join(parts).partition(":")[0])
            if key in self.vocabulary:
                return count, key
            keys.append(key)
        text, column = tokens[i]
        word = text.partition(":")[0]
        if not word:
            raise ScriptError("missing emotion word before ':'", number, column, text)
        # Nearest spellings, best first and one per meaning; phrases ("eye clsoe") only when close.
        scores: dict[Word, tuple[float, str]] = {}
        for key in keys:
            cutoff = 0.6 if key == keys[-1] else 0.75
            for match in difflib.get_close_matches(key, self.spellings, n=3, cutoff=cutoff):
                score = (difflib.SequenceMatcher(None, key, match).ratio(), self.spellings[match])
                scores[self.vocabulary[match]] = max(score, scores.get(self.vocabulary[match], score))
        nearest = [f"'{spelling}'" for _, spelling in sorted(scores.values(), key=lambda s: -s[0])[:3]]
        hint = f" (did you mean {_or(nearest)}?)" if nearest else ""
        raise ScriptError(f"unknown emotion word {_shorten(word)!r}{hint}", number, column, word)

    def _intensity(self, word: Word, spelled: str, text: str, number: int, column: int) -> float:
        if word.sign == 0:
            what = "sets nothing" if word.channel is None else f"sets {word.channel} to 0"
            raise ScriptError(f"'{spelled}' takes no intensity (it {what})", number, column, text)
        if not _NUMBER.fullmatch(text):
            reason = f"bad intensity {_shorten(text)!r} for '{spelled}': expected a number such as 0.5 or -1"
            raise ScriptError(reason, number, column, text)
        assert word.channel is not None
        intensity = float(text)
        try:
            check_channel_value(word.sign * intensity, f"intensity {_shorten(text)} for {word.channel}")
        except ChannelValueError as e:
            raise ScriptError(str(e), number, column, text) from None
        return intensity

    @staticmethod
    def _frame(text: str, previous: int, number: int, column: int) -> int:
        """The frame a '+N' or '@N' token puts its keyframe at."""
        relative, digits = text[0] == "+", text[1:]
        if not _DIGITS.fullmatch(digits):
            kind = "frame offset '+N'" if relative else "frame '@N'"
            raise ScriptError(f"bad {kind} {_shorten(text)!r}: N must be a whole number", number, column, text)
        # Check the length first: int() refuses digit strings longer than 4300 with a ValueError.
        if len(digits) > len(str(MAX_FRAME)) or int(digits) + (previous if relative else 0) > MAX_FRAME:
            raise ScriptError(f"{_shorten(text)!r} is past the last frame, {MAX_FRAME}", number, column, text)
        frame = int(digits) + (previous if relative else 0)
        if frame <= previous:
            if relative:
                raise ScriptError("a '+N' offset must be at least 1", number, column, text)
            reason = f"frame {frame} is not after the previous keyframe (frame {previous})"
            raise ScriptError(reason, number, column, text)
        return frame


def _header_match(row: str) -> re.Match[str] | None:
    """A `Video N:` header, either a whole '#' line or a line's text before any '#'."""
    stripped = row.strip()
    return _HEADER.fullmatch(stripped if stripped.startswith("#") else row.split("#", 1)[0].strip())


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _indent(row: str) -> int:
    return len(row) - len(row.lstrip()) + 1
