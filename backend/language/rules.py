"""Our word and phrase grammar: a description in plain English → timed steps of channel values.

How a description is read (the tables below say which words mean what):

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
* An **intensity** word (INTENSITIES) scales the action nearest to it; values stay within
  ±VALUE_LIMIT. A **negation** (``not``, ``stops``, ``no longer``, ``fades``) sets the channels
  of the action after it (or, with none after, before it) to 0.
* **Timing**: a change takes DEFAULT_RAMP_S and is held DEFAULT_HOLD_S; ``suddenly`` /
  ``quickly`` / ``slowly`` change the ramp (SPEEDS); ``for N seconds`` sets the hold, ``over N
  seconds`` the ramp, ``after N seconds`` a wait before the step, ``waits N seconds`` /
  ``holds it`` the hold of the step before. Durations are digits or number words with
  ``second(s)``, ``frame(s)`` or ``minute(s)``; ``a moment`` is 1 s.
* Function words ("she", "the", "and", "her face", ...) are known and ignored; every other word
  is reported with its position, never silently dropped.

Decisions on words without a channel of their own: ``rolls her eyes`` is contempt, shown as
disgust 0.6; ``horrified`` is fear 1.5; ``wide-eyed`` opens the eyes wide (eye_close -1) with
surprise 0.5; ``frowns`` / ``scowls`` / ``glares`` are anger; ``squints`` half closes the eyes;
``winks`` is a blink (there is one eye channel); ``nods`` has no channel (no head pitch) and is
reported as not understood.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ..channels import CHANNEL_NAMES, VALUE_LIMIT, check_channel_value

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", MappingProxyType({k: v for k, v in self.state.items() if v != 0}))


# ---------------------------------------------------------------------------------------------
# Tables. Phrases are written with base forms ("close <poss> eye"); the matcher also accepts
# inflected forms (closes, closed, closing, eyes). <poss> is her / his / their / its / the / my
# / your / one's. Values are the channel values at intensity 1.

_A = dict[str, float]

ACTIONS: dict[str, _A] = {}


def _add(value: _A, *phrases: str) -> None:
    for phrase in phrases:
        ACTIONS[phrase] = value


# joy
_add({"joy": 1.0}, "smile", "happy", "happiness", "joy", "joyful", "glad", "cheerful", "cheer up", "delighted",
     "delight", "pleased", "smiley", "jolly", "merry", "cheery", "light up", "brighten", "grateful", "proud")
_add({"joy": 1.4}, "grin", "big grin", "broad smile", "smile broadly", "thrilled", "elated", "overjoyed", "radiant")
_add({"joy": 1.5}, "beam", "beaming", "ecstatic", "euphoric", "jubilant", "rejoice")
_add({"joy": 0.6}, "amused", "content", "contented", "relieved", "relief", "satisfied", "warm", "friendly")
_add({"joy": 0.4}, "smirk", "half smile", "faint smile", "wry smile")
_add({"joy": 1.6, "mouth_open": 0.8}, "laugh", "laughing", "laughter", "burst out laughing", "crack up")
_add({"joy": 1.2, "mouth_open": 0.5}, "giggle", "chuckle", "snicker")
# sadness
_add({"sadness": 1.0}, "sad", "sadness", "unhappy", "sorrow", "sorrowful", "gloomy", "downcast", "dejected", "glum",
     "blue", "down", "downhearted", "down-hearted", "heavy-hearted", "upset", "mournful", "sadden", "sullen",
     "forlorn", "lonely", "tearful", "wistful")
_add({"sadness": 1.5}, "miserable", "heartbroken", "devastated", "despair", "grief", "grieve", "anguish",
     "despondent", "cry", "sob", "weep", "burst into tear", "in tear", "tear up")
_add({"sadness": 0.6}, "disappointed", "disappointment", "hurt", "pout", "sulk", "melancholy", "moody", "regret",
     "sorry", "pensive", "dismayed")
# anger
_add({"anger": 1.0}, "angry", "anger", "mad", "cross", "frown", "glare", "scowl", "hostile", "indignant", "stern",
     "resentful", "grit <poss> tooth", "clench <poss> jaw", "furrow <poss> brow", "knit <poss> brow", "bitter")
_add({"anger": 1.6}, "furious", "fury", "rage", "enraged", "livid", "irate", "fuming", "seething", "outraged", "wrath",
     "infuriated", "incensed")
_add({"anger": 0.6}, "annoyed", "irritated", "grumpy", "frustrated", "frustration", "impatient", "displeased",
     "irritation", "annoyance", "peeved", "sour")
_add({"anger": 0.4}, "suspicious", "suspiciously", "skeptical", "sceptical", "wary")
_add({"anger": 1.2, "mouth_open": 0.5}, "snarl", "growl", "bare <poss> tooth")
_add({"anger": 1.0, "mouth_open": 1.0}, "shout", "yell", "roar")
# fear
_add({"fear": 1.0}, "fear", "afraid", "scared", "fearful", "frightened", "fright", "dread", "tremble", "cower",
     "flinch", "alarmed", "spooked", "shaken", "frighten")
_add({"fear": 1.6}, "terrified", "terror", "petrified", "panic", "panicked", "panicky", "horror", "horrified",
     "horrify", "aghast")
_add({"fear": 0.6}, "worried", "worry", "anxious", "anxiety", "nervous", "uneasy", "apprehensive", "tense",
     "timid", "concerned", "shy", "insecure", "uncertain", "unsure")
_add({"fear": 1.2, "mouth_open": 1.2}, "scream", "shriek")
# surprise
_add({"surprise": 1.0}, "surprise", "surprised", "startled", "startle", "amazed", "amazement",
     "raise <poss> eyebrow", "eyebrow shoot up", "eyebrow go up", "eyebrow rise", "eyebrow raise", "curious")
_add({"surprise": 1.3}, "shocked", "shock", "astonished", "astonishment", "stunned", "astounded", "dumbfounded",
     "flabbergasted", "speechless", "thunderstruck", "awe", "awestruck")
_add({"surprise": 0.5}, "puzzled", "intrigued", "confused", "bewildered", "perplexed", "baffled")
_add({"surprise": 1.0, "mouth_open": 0.8}, "gasp")
_add({"surprise": 1.2, "mouth_open": 1.4}, "jaw drop", "drop <poss> jaw")
_add({"surprise": 0.6, "mouth_open": 1.2}, "gape", "agape", "open-mouthed")
_add({"surprise": 0.5, "eye_close": -1.0}, "wide-eyed", "wide eyed")
# disgust
_add({"disgust": 1.0}, "disgust", "disgusted", "disgusting", "grimace", "wrinkle <poss> nose", "scrunch <poss> nose",
     "grossed out", "gross", "distaste", "yuck", "eww", "icky", "curl <poss> lip")
_add({"disgust": 1.4}, "revolted", "revulsion", "repulsed", "repulsion", "repelled", "nauseated", "sickened",
     "appalled", "loathing", "gag")
_add({"disgust": 0.6}, "contempt", "contemptuous", "disdain", "scorn", "sneer", "roll <poss> eye", "eye roll",
     "unimpressed", "bored", "smug")
# eyes: eye_close 1 shut, 0 open, negative wide open
_add({"eye_close": 1.0}, "close <poss> eye", "shut <poss> eye", "eye close", "eye closed", "eye shut",
     "eyes shut", "close eye", "close them", "shut them", "fall asleep", "asleep", "doze off", "sleep")
_add({"eye_close": 0.0}, "open <poss> eye", "eye open", "open eye", "open them", "wake up", "awake")
_add({"eye_close": -1.0}, "open <poss> eye wide", "open them wide", "eye wide open", "eye widen", "widen <poss> eye",
     "eye go wide", "wide eye",
     "eye wide", "eye bulge", "eye pop")
_add({"eye_close": 0.5}, "squint", "narrow <poss> eye", "eye narrow", "half-closed", "droopy", "sleepy", "drowsy",
     "tired", "heavy-lidded")
# mouth: 1 open, 0 closed, negative pressed shut
_add({"mouth_open": 1.0}, "open <poss> mouth", "mouth open", "mouth fall open", "mouth drop open")
_add({"mouth_open": 0.5}, "speak", "talk", "say", "sing", "whisper", "mutter", "murmur")
_add({"mouth_open": 0.0}, "close <poss> mouth", "shut <poss> mouth", "mouth close", "mouth shut", "close it",
     "shut it")  # "it" is the mouth, "them" the eyes
_add({"mouth_open": -0.7}, "press <poss> lip together", "purse <poss> lip", "tight-lipped", "pursed lip",
     "lip pressed together", "clamp <poss> mouth shut")
_add({"mouth_open": 1.5, "eye_close": 0.6}, "yawn")
# head (left/right themselves are DIRECTIONS)
_add({"head_turn": 0.0}, "face forward", "look forward", "look ahead", "look straight ahead", "straight ahead",
     "face the camera", "look at the camera", "at the camera", "turn back", "turn to face", "look straight",
     "face front", "to the front", "face the viewer", "look at the viewer", "centre", "center")

RESET = ("neutral", "relax", "calm", "calm down", "back to normal", "blank", "blank expression", "straight face",
         "poker face", "expressionless", "compose", "recover", "deadpan", "impassive", "settle")
GESTURES = {"blink": "blink", "wink": "blink", "shake <poss> head": "head_shake", "head shake": "head_shake"}
UNSUPPORTED = {"nod": "no channel for nodding (head pitch)", "tilt": "no channel for tilting the head",
               "look up": "no channel for looking up or down", "look down": "no channel for looking up or down"}
DIRECTIONS = {"left": -1.0, "right": 1.0}
AWAY = ("away", "turn away", "look away")  # right (+1) when no direction is named

INTENSITIES: dict[str, float] = {
    **dict.fromkeys(["slightly", "slight", "a little", "a bit", "a tad", "faint", "faintly", "barely", "hint of",
                     "mildly", "mild", "gently", "gentle", "subtly", "subtle", "little", "small", "softly",
                     "a touch", "weakly", "tiny"], 0.4),
    **dict.fromkeys(["somewhat", "fairly", "moderately", "rather", "kind of", "sort of", "quite", "partly",
                     "halfway", "half", "partially"], 0.7),
    **dict.fromkeys(["very", "really", "so", "big", "broadly", "wide", "widely", "deeply", "strongly", "truly",
                     "more", "much", "intense", "intensely", "deepen", "grow", "openly", "hard", "heavily",
                     "utterly", "visibly", "clearly"], 1.4),
    **dict.fromkeys(["extremely", "incredibly", "totally", "completely", "absolutely", "hugely", "enormously",
                     "wildly", "insanely", "fully", "terribly", "immensely", "unbelievably", "hysterically",
                     "uncontrollably"], 1.8),
}
SPEEDS: dict[str, float] = {  # ramp seconds
    **dict.fromkeys(["suddenly", "sudden", "abruptly", "instantly", "immediately", "at once", "all of a sudden",
                     "in a flash", "snap", "jerk", "sharply", "burst", "break", "explode", "flash"], 0.2),
    **dict.fromkeys(["quickly", "quick", "fast", "rapidly", "swiftly", "briskly", "promptly", "briefly"], 0.4),
    **dict.fromkeys(["slowly", "slow", "gradually", "gradual", "little by little", "bit by bit", "steadily",
                     "gently", "softly", "lazily", "creep", "spread", "dawn", "fade in", "unhurriedly"], 2.5),
}
NEGATIONS = ("not", "n't", "no", "never", "no longer", "stop", "cease", "quit", "lose", "wipe off", "without", "nor",
             "neither")  # the action after them (or, with none after, before them)
AFTER_NEGATIONS = ("fade", "fade away", "vanish", "disappear", "drop", "die", "die down", "subside", "anymore",
                   "any more", "no more", "go away", "wear off")  # the action before them ("her smile fades")
SEQUENCERS = ("then", "and then", "afterwards", "afterward", "after that", "next", "later", "finally",
              "eventually", "before", "at last", "in the end", "soon after", "after which", "until")
HOLDS = ("hold", "hold it", "hold that", "keep", "keep it", "stay", "remain", "linger", "freeze", "still")
WAITS = ("moment", "meanwhile")  # "a moment later": a wait of WAIT_S ("waits", "pauses" are durations below)
REPEATS = {"twice": 2, "two times": 2, "three times": 3, "thrice": 3, "again": 1, "once": 1, "repeatedly": 3}
FUNCTION_WORDS = frozenset("""
a an the this that these those it its she he they her his their him them hers theirs i me my mine you your we our
one one's someone somebody everyone person man woman girl boy lady guy kid child character actor face expression
head eye eyes mouth lip lips brow brows eyebrow eyebrows feature features look looks seem appear become get go turn
show make give wear put let begin start try manage is are was were be been being am has have had do does did
will would can could may might shall should must to at of in on into onto from with by as like than so up down out
off over under around about across through toward towards upon and or but while whilst if because though although
also too just only even yet now here there when where who whom whose which what how all both each every some any
such own same other another very into little bit who's she's he's it's they're there's back again soon almost
camera viewer audience lens screen someone something thing things way time times moment instant second seconds
expression's fill wash spread break burst flash flicker cross settle sink come across take over into onto
whole entire full sort kind state mood feeling feelings emotion emotions as if though deep after stare gaze
watch glance peer
""".split())

# Number words for durations (and "a"/"an" before a unit: "a second").
NUMBERS = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
           "seven": 7.0, "eight": 8.0, "nine": 9.0, "ten": 10.0, "eleven": 11.0, "twelve": 12.0, "fifteen": 15.0,
           "twenty": 20.0, "thirty": 30.0, "half": 0.5, "couple": 2.0, "few": 3.0, "several": 4.0}
UNITS = {"second": 1.0, "seconds": 1.0, "sec": 1.0, "secs": 1.0, "s": 1.0, "minute": 60.0, "minutes": 60.0,
         "min": 60.0, "mins": 60.0, "frame": 0.0, "frames": 0.0}  # frames: 0 means "divide by fps"
VAGUE_DURATIONS = {"a moment": 1.0, "a while": 3.0, "a beat": 0.5, "an instant": 0.2, "a second": 1.0,
                   "a split second": 0.2, "a few moments": 2.0, "a long time": 4.0}
_POSSESSIVES = frozenset(["her", "his", "their", "its", "the", "my", "your", "one's", "our"])

# ---------------------------------------------------------------------------------------------
# Word matching

_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?|[^\W\d_]+(?:['’\-][^\W\d_]+)*|[.!?;,]", re.UNICODE)


@dataclass(frozen=True)
class _Token:
    text: str  # lower case, ’ as '
    start: int  # 0-based character offset
    end: int


def tokens(text: str) -> list[_Token]:
    """Words, numbers and the punctuation that separates steps, with their character ranges."""
    return [_Token(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _TOKEN.finditer(text)]


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
    kind: str  # action, reset, gesture, unsupported, direction, away, intensity, speed, negation, sequencer,
    #            hold, wait, repeat, vague
    value: object
    phrase: tuple[str, ...]


def _build_lexicon() -> dict[str, list[_Entry]]:
    tables: dict[str, Mapping[str, object]] = {
        "action": {phrase: MappingProxyType(value) for phrase, value in ACTIONS.items()},
        "reset": dict.fromkeys(RESET), "gesture": GESTURES, "unsupported": UNSUPPORTED, "direction": DIRECTIONS,
        "away": dict.fromkeys(AWAY), "intensity": INTENSITIES, "speed": SPEEDS, "negation": dict.fromkeys(NEGATIONS),
        "negation_after": dict.fromkeys(AFTER_NEGATIONS), "sequencer": dict.fromkeys(SEQUENCERS),
        "hold": dict.fromkeys(HOLDS), "wait": dict.fromkeys(WAITS), "repeat": REPEATS, "vague": VAGUE_DURATIONS,
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
_KIND_RANK = {"action": 0, "reset": 0, "gesture": 0, "unsupported": 0, "vague": 0, "sequencer": 1, "negation": 1,
              "negation_after": 1,
              "direction": 2, "away": 2, "hold": 2, "wait": 2, "repeat": 2, "speed": 3, "intensity": 4}


def _phrase_fits(entry: _Entry, words: list[_Token], i: int) -> bool:
    if i + len(entry.phrase) > len(words):
        return False
    for part, token in zip(entry.phrase, words[i:], strict=False):
        if part == "<poss>":
            if token.text not in _POSSESSIVES:
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


# ---------------------------------------------------------------------------------------------
# Reading a description

@dataclass
class _Item:
    kind: str
    value: object
    index: int  # token index in the part
    start: int
    end: int


@dataclass
class _Part:
    """Words between commas (or other separators): what they ask for."""

    items: list[_Item] = field(default_factory=list)
    unknown: list[_Token] = field(default_factory=list)
    start: int = -1
    end: int = -1
    separator: str = "start"  # what came before: start, comma or sequence

    @property
    def has_change(self) -> bool:
        return any(i.kind in ("action", "model", "reset", "gesture", "direction", "away") for i in self.items)


@dataclass(frozen=True)
class Reading:
    """What the rules made of a description: the steps and the words they did not understand."""

    steps: tuple[Step, ...]
    unknown: tuple[Unknown, ...]


def check_text(text: object) -> str:
    """The description if it is non-empty text of at most MAX_TEXT_CHARS characters, else a LanguageError."""
    if not isinstance(text, str):
        raise LanguageError(f"a description must be text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise LanguageError(f"the description is {len(text):,} characters long; at most {MAX_TEXT_CHARS:,} are "
                            "read (write a few sentences, or split it)")
    if not text.strip():
        raise LanguageError("the description is empty")
    return text


Fallback = Callable[[int, int], "Mapping[str, float] | None"]


def read_description(text: str, fps: float = 25.0, fallback: Fallback | None = None,
                     start: Mapping[str, float] | None = None) -> Reading:
    """The steps the rules read in `text`; `fallback(start, end)` may give channel values for a part
    with no known word (the sentence model); `start`: the face's channel values before the text
    (default: neutral), which its changes start from. Raises LanguageError on bad input or durations."""
    check_text(text)
    parts = _parts(text, fps)
    for part in parts:
        if part.unknown and not part.has_change and fallback is not None:
            values = fallback(part.start, part.end)
            if values is not None:
                first = part.unknown[0]
                part.items.append(_Item("model", MappingProxyType(dict(values)), 0, first.start, first.end))
                part.unknown.clear()
    unknown = [Unknown(text[t.start:t.end], t.start + 1) for p in parts for t in p.unknown]
    unknown += [Unknown(text[i.start:i.end], i.start + 1, str(i.value)) for p in parts for i in p.items
                if i.kind == "unsupported"]
    unknown.sort(key=lambda u: u.position)
    steps = tuple(replace(s, text=text[s.span[0]:s.span[1]]) for s in steps_from_parts(parts, start))
    return Reading(steps, tuple(unknown))


def _parts(text: str, fps: float) -> list[_Part]:
    words = tokens(text)
    parts: list[_Part] = [_Part()]
    separator = "start"
    i = 0

    def current() -> _Part:
        part = parts[-1]
        if part.start < 0:
            part.separator = separator
        return part

    while i < len(words):
        token = words[i]
        if token.text in ".!?;":
            parts.append(_Part())
            separator, i = "sequence", i + 1
            continue
        if token.text == ",":
            parts.append(_Part())
            separator, i = ("comma" if separator != "sequence" or parts[-2].start >= 0 else "sequence"), i + 1
            continue
        duration = _duration(words, i, fps)
        if duration is not None:
            seconds, count, preposition = duration
            part = current()
            _extend(part, token)
            part.items.append(_Item(preposition, seconds, i, token.start, words[i + count - 1].end))
            _extend(part, words[i + count - 1])
            i += count
            continue
        entry = _lookup(words, i)
        if entry is not None and entry.kind == "sequencer":
            if parts[-1].start >= 0:
                parts.append(_Part())
            separator = "sequence"
            i += len(entry.phrase)
            continue
        part = current()
        _extend(part, token)
        if entry is None:
            if token.text in ("and", "while", "whilst", "as", "with"):
                pass  # joins; the part goes on
            elif not _is_function_word(token.text) and not _is_number(token.text):
                part.unknown.append(token)
            i += 1
            continue
        last = words[i + len(entry.phrase) - 1]
        part.items.append(_Item(entry.kind, entry.value, i, token.start, last.end))
        _extend(part, last)
        i += len(entry.phrase)
    return [p for p in parts if p.start >= 0]


def _extend(part: _Part, token: _Token) -> None:
    part.start = token.start if part.start < 0 else part.start
    part.end = max(part.end, token.end)


def _is_function_word(word: str) -> bool:
    return word in FUNCTION_WORDS or any(f in FUNCTION_WORDS for f in forms(word) if len(f) > 2) \
        or word.endswith("n't") or word in _POSSESSIVES


def _is_number(word: str) -> bool:
    return word[0].isdigit() or word in NUMBERS


_PREPOSITIONS = {"for": "hold_for", "over": "ramp_for", "in": "ramp_for", "within": "ramp_for", "after": "delay_for",
                 "wait": "wait_for", "waits": "wait_for", "waited": "wait_for", "waiting": "wait_for",
                 "pause": "wait_for", "pauses": "wait_for", "paused": "wait_for", "pausing": "wait_for",
                 "takes": "ramp_for", "take": "ramp_for", "taking": "ramp_for", "lasting": "hold_for"}


def _duration(words: list[_Token], i: int, fps: float) -> tuple[float, int, str] | None:
    """A timed phrase at words[i] ("for two seconds", "over 3 s", "after a moment"):
    (seconds, token count, item kind), or None."""
    kind = _PREPOSITIONS.get(words[i].text)
    if kind is None:
        return None
    j = i + 1
    if j < len(words) and words[j].text in ("about", "around", "roughly", "nearly", "almost", "another", "the",
                                            "exactly", "just", "only", "a", "full"):
        if words[j].text != "a" or (j + 1 < len(words) and words[j + 1].text in ("few", "couple", "full")):
            j += 1
    # vague: "a moment", "a while"
    for phrase, seconds in sorted(VAGUE_DURATIONS.items(), key=lambda p: -len(p[0])):
        parts = phrase.split()
        k = i + 1
        if [w.text for w in words[k : k + len(parts)]] == parts:
            return seconds, 1 + len(parts), kind
        if [w.text for w in words[j : j + len(parts)]] == parts:
            return seconds, j - i + len(parts), kind
    number, k = _number(words, j)
    if number is None or k >= len(words) or words[k].text not in UNITS:
        if kind == "wait_for":
            return WAIT_S, 1, kind  # "waits", "pauses" alone
        return None
    unit = UNITS[words[k].text]
    seconds = number / fps if unit == 0 else number * unit
    if seconds > MAX_DURATION_S:
        raise LanguageError(f"'{' '.join(w.text for w in words[i:k + 1])}' is too long: one step lasts at most "
                            f"{MAX_DURATION_S:g} seconds", words[i].start + 1)
    return seconds, k + 1 - i, kind


def _number(words: list[_Token], j: int) -> tuple[float | None, int]:
    """A number at words[j] ("2", "2.5", "two", "a", "half a", "a couple of", "one and a half"): (value, next index)."""
    if j >= len(words):
        return None, j
    text = words[j].text
    if text[0].isdigit():
        value = float(text)
        if len(text) > 12:
            raise LanguageError(f"the number {text[:12]}… is too large", words[j].start + 1)
        return value, j + 1
    if text == "half" and j + 1 < len(words) and words[j + 1].text in ("a", "an"):
        return 0.5, j + 2
    if text in ("a", "an") and j + 1 < len(words) and words[j + 1].text in ("couple", "few"):
        k = j + 2 + (j + 2 < len(words) and words[j + 2].text == "of")
        return NUMBERS[words[j + 1].text], k
    if text in NUMBERS:
        value, k = NUMBERS[text], j + 1
        if [w.text for w in words[k : k + 3]] == ["and", "a", "half"]:
            value, k = value + 0.5, k + 3
        elif k < len(words) and words[k].text == "of":
            k += 1
        return value, k
    return None, j


# ---------------------------------------------------------------------------------------------
# Parts → steps


@dataclass
class _Change:
    """What one part asks for, before it is applied to the face."""

    values: dict[str, float] = field(default_factory=dict)
    reset: bool = False
    gestures: list[tuple[str, int, bool]] = field(default_factory=list)  # (name, repeats, before the change)
    ramp_s: float | None = None
    hold_s: float | None = None
    delay_s: float = 0.0
    wait_s: float | None = None  # a hold for the step before
    source: str = "rules"
    start: int = 0
    end: int = 0

    @property
    def changes_face(self) -> bool:
        return self.reset or bool(self.values)

    def clashes(self, other: _Change) -> bool:
        """Two parts that cannot be one change: different emotions, or a channel both ways."""
        mine = {c for c, v in self.values.items() if c in EMOTIONS and v != 0}
        theirs = {c for c, v in other.values.items() if c in EMOTIONS and v != 0}
        if mine and theirs and mine != theirs:
            return True
        both = [c for c, v in self.values.items() if v != 0 and other.values.get(c, 0.0) != 0]
        return any((self.values[c] > 0) != (other.values[c] > 0) for c in both) or (self.reset and bool(other.values))

    def merge(self, other: _Change) -> None:
        for channel, value in other.values.items():
            old = self.values.get(channel)
            self.values[channel] = value if old is None or abs(value) > abs(old) or value == 0 else old
        self.reset |= other.reset
        self.gestures += other.gestures
        self.ramp_s = other.ramp_s if other.ramp_s is not None else self.ramp_s
        self.hold_s = other.hold_s if other.hold_s is not None else self.hold_s
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
    negated: set[int] = set()
    for item in items:
        if item.kind == "intensity" and actions:
            target = min(actions, key=lambda a: (abs(a.index - item.index), a.index < item.index))
            scale[id(target)] = scale.get(id(target), 1.0) * float(item.value)  # type: ignore[arg-type]
        elif item.kind in ("negation", "negation_after") and actions:
            after = [a for a in actions if a.index > item.index]
            before = [a for a in actions if a.index < item.index]
            if item.kind == "negation_after":
                after, before = before[::-1], after[::-1]
            negated.add(id(after[0] if after else before[-1]))
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
        elif item.kind == "ramp_for":
            change.ramp_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "hold_for":
            change.hold_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "hold":
            change.hold_s = change.hold_s if change.hold_s is not None else HOLD_IT_S
        elif item.kind == "delay_for":
            change.delay_s += float(item.value)  # type: ignore[arg-type]
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
            elif groups and not change.delay_s and (part.separator == "comma" or change.hold_s is not None):
                last = groups[-1]  # "She smiles, slowly." / "..., holds it, ..."
                last.hold_s = change.hold_s if change.hold_s is not None else last.hold_s
                last.ramp_s = change.ramp_s if change.ramp_s is not None else last.ramp_s
            else:  # applies to the next change: "Slowly, ...", "After a moment, ...", a first wait
                change.delay_s += change.wait_s or 0.0
                if pending is None:
                    pending = change
                else:
                    pending.merge(change)
            continue
        if pending is not None:
            change.ramp_s = change.ramp_s if change.ramp_s is not None else pending.ramp_s
            change.hold_s = change.hold_s if change.hold_s is not None else pending.hold_s
            change.delay_s += pending.delay_s
            change.start, pending = min(change.start, pending.start), None
        if groups and part.separator == "comma" and not groups[-1].clashes(change) and not change.gestures \
                and not groups[-1].gestures:
            groups[-1].merge(change)
        else:
            groups.append(change)
    yield from _apply(groups, start)


def _apply(groups: list[_Change], start: Mapping[str, float] | None = None) -> Iterator[Step]:
    state: dict[str, float] = {**dict.fromkeys(CHANNEL_NAMES, 0.0), **(start or {})}
    for change in groups:
        span = (change.start, change.end)
        ramp = change.ramp_s if change.ramp_s is not None else DEFAULT_RAMP_S
        hold = change.hold_s if change.hold_s is not None else DEFAULT_HOLD_S
        delay = change.delay_s
        gestures_after = []
        for name, repeats, before in change.gestures:
            if before or not change.changes_face:
                for _ in range(repeats):
                    yield Step(dict(state), ramp_s=0.0, hold_s=0.0, delay_s=delay, gesture=name, span=span)
                    delay = 0.0
            else:
                gestures_after += [name] * repeats
        if change.changes_face:
            if change.reset:
                state = dict.fromkeys(state, 0.0)
            if any(c in EMOTIONS and v != 0 for c, v in change.values.items()):
                state.update(dict.fromkeys(EMOTIONS, 0.0))
            state.update(change.values)
            yield Step(dict(state), ramp_s=ramp, hold_s=hold, delay_s=delay, span=span, source=change.source)
        for name in gestures_after:
            yield Step(dict(state), ramp_s=0.0, hold_s=0.0, gesture=name, span=span)
