"""The emotion channels of Latent Emotion and the script words that name them.

A channel is one latent direction with a signed strength: 0 is the start face unchanged, 1 the
direction's full calibrated strength, -1 the same amount the opposite way (the paper adds
t * direction to the face latent; the sign and size of t decide the effect).

Script words are matched case-insensitively, and '-', '_' and a space inside a word are the same
(`eye-close`, `Eye_Close` and `eye close` all name `eye_close`). The words of the paper's Fig. 7
are all here: joy, disgusting, surprise, anger, sad, fear, eye-close, eye-open, turning-left,
turning-right.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

# One policy for channel values wherever they enter (scripts, value files, Blender properties, the
# console API): finite and within ±VALUE_LIMIT. 1 is the calibrated full expression; up to 2
# exaggerates it; further out the latent code leaves the generator's distribution and the frames
# turn to noise, so such values are refused rather than rendered.
VALUE_LIMIT = 2.0


class ChannelValueError(ValueError):
    """A channel value that is not a finite number within ±VALUE_LIMIT."""


def check_channel_value(value: float, where: str = "channel value") -> float:
    """``value`` as a float if it is finite and within ±VALUE_LIMIT, else a ChannelValueError
    naming ``where`` (e.g. ``"joy at frame 12"``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ChannelValueError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ChannelValueError(f"{where}: {number} is not a finite number")
    if abs(number) > VALUE_LIMIT:
        raise ChannelValueError(f"{where}: {number:g} is outside [-{VALUE_LIMIT:g}, {VALUE_LIMIT:g}] "
                                f"(1 is the full expression, 2 exaggerates it)")
    return number


@dataclass(frozen=True)
class Channel:
    """One animatable latent direction; [minimum, maximum] is its slider range, VALUE_LIMIT the hard one."""

    name: str
    label: str
    description: str
    minimum: float = -1.0
    maximum: float = 1.0


CHANNELS: tuple[Channel, ...] = (
    Channel("joy", "Joy", "Smile, happiness."),
    Channel("sadness", "Sadness", "Sad face."),
    Channel("anger", "Anger", "Angry face."),
    Channel("fear", "Fear", "Fearful face."),
    Channel("surprise", "Surprise", "Raised brows, open eyes and mouth."),
    Channel("disgust", "Disgust", "Disgusted face."),
    Channel("eye_close", "Eye Close", "1 closes the eyes; negative values open them wider."),
    Channel("mouth_open", "Mouth Open", "1 opens the mouth; negative values press it shut."),
    Channel("head_turn", "Head Turn", "Head pose: -1 turns left, +1 turns right (the paper's turning-left/right)."),
)
CHANNEL_NAMES: tuple[str, ...] = tuple(c.name for c in CHANNELS)
EMOTION_NAMES: tuple[str, ...] = CHANNEL_NAMES[:6]  # the six a reader gives as class probabilities


@dataclass(frozen=True)
class Word:
    """What a script word sets: `channel` to `sign` times the intensity (default 1).

    sign 0 pins the channel at 0 (`eye-open`); channel None with sign 0 is `neutral`, which
    sets nothing, so the keyframe is the start face apart from the other words on its line.
    """

    channel: str | None
    sign: int


NEUTRAL = Word(None, 0)

# Spelled as users write them (and as error messages suggest them). Every channel name is a word
# too. Left is -1 on head_turn, following the paper's turning-left/turning-right.
_SPELLINGS: dict[str, Word] = {
    **dict.fromkeys(["joy", "happy", "happiness", "joyful", "smile", "smiling"], Word("joy", 1)),
    **dict.fromkeys(["sad", "sadness", "unhappy", "sorrow"], Word("sadness", 1)),
    **dict.fromkeys(["anger", "angry"], Word("anger", 1)),
    **dict.fromkeys(["fear", "afraid", "scared", "fearful", "frightened"], Word("fear", 1)),
    **dict.fromkeys(["surprise", "surprised"], Word("surprise", 1)),
    **dict.fromkeys(["disgust", "disgusting", "disgusted"], Word("disgust", 1)),
    **dict.fromkeys(
        ["eye-close", "eye-closed", "eyes-close", "eyes-closed", "close-eyes", "closed-eyes", "close-eye"],
        Word("eye_close", 1),
    ),
    **dict.fromkeys(["eye-open", "eyes-open", "open-eyes", "eye-opened"], Word("eye_close", 0)),
    **dict.fromkeys(["mouth-open", "open-mouth", "mouth-opened"], Word("mouth_open", 1)),
    **dict.fromkeys(["mouth-close", "mouth-closed", "close-mouth", "closed-mouth"], Word("mouth_open", 0)),
    **dict.fromkeys(["turning-left", "turn-left", "head-left"], Word("head_turn", -1)),
    **dict.fromkeys(["turning-right", "turn-right", "head-right"], Word("head_turn", 1)),
    **dict.fromkeys(["head-turn"], Word("head_turn", 1)),
    **dict.fromkeys(["neutral", "calm"], NEUTRAL),
}

_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*", re.ASCII)


def normalize_word(word: str) -> str:
    """The lookup key of a word: lower case, with '-' and spaces turned into '_'."""
    return word.lower().replace("-", "_").replace(" ", "_")


VOCABULARY: Mapping[str, Word] = MappingProxyType({normalize_word(s): w for s, w in _SPELLINGS.items()})
SPELLINGS: Mapping[str, str] = MappingProxyType({normalize_word(s): s for s in _SPELLINGS})
"""Lookup key -> the spelling shown to users (the paper's hyphenated style)."""


def make_channels(extra_channels: Iterable[str] = ()) -> tuple[Channel, ...]:
    """The built-in channels followed by custom ones (e.g. added by a directions file).

    A custom name is written as a script word the same way (`brow_raise`, `brow-raise`); it
    must be a new identifier, not a built-in channel or vocabulary word.
    """
    channels = list(CHANNELS)
    for raw in extra_channels:
        name = normalize_word(raw)
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"custom channel name {raw!r} must be letters, digits and '_' (e.g. 'brow_raise')")
        if name in VOCABULARY or any(c.name == name for c in channels):
            raise ValueError(f"custom channel name {raw!r} is already a channel or script word")
        channels.append(Channel(name, name.replace("_", " ").title(), "Custom direction."))
    return tuple(channels)
