"""The grammar's word tables: which words and phrases mean which channel values, and the words
for intensity, manner, order, timing, numbers and units (``rules`` reads descriptions with them).

Phrases are written with base forms ("close <poss> eye"); the matcher also accepts inflected
forms (closes, closed, closing, eyes). <poss> is one of ``POSSESSIVES``. Values are the channel
values at intensity 1.
"""

from __future__ import annotations

_A = dict[str, float]

ACTIONS: dict[str, _A] = {}


def _add(value: _A, *phrases: str) -> None:
    for phrase in phrases:
        ACTIONS[phrase] = value


# joy
_add({"joy": 1.0}, "smile", "happy", "happiness", "joy", "joyful", "glad", "cheerful", "cheer up", "delighted",
     "delight", "pleased", "smiley", "jolly", "merry", "cheery", "light up", "brighten", "grateful", "proud")
_add({"joy": 1.4}, "tickled pink", "grin", "big grin", "broad smile", "smile broadly", "thrilled", "elated", "overjoyed", "radiant")
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
     "infuriated", "incensed", "blow <poss> top", "fly off the handle", "see red")
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
_add({"surprise": 1.3}, "cannot believe <poss> eye", "can't believe <poss> eye", "shocked", "shock", "astonished", "astonishment", "stunned", "astounded", "dumbfounded",
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
     "face the camera", "look at the camera", "at the camera", "to the camera", "towards the camera",
     "toward the camera", "turn back", "turn to face", "look straight",
     "face front", "to the front", "face the viewer", "look at the viewer", "centre", "center")

RESET = ("neutral", "relax", "calm", "calm down", "back to normal", "blank", "blank expression", "straight face",
         "no emotion", "no expression", "without emotion", "without expression", "nothing happen",
         "poker face", "expressionless", "compose", "recover", "deadpan", "impassive", "settle")
GESTURES = {"blink": "blink", "wink": "blink", "shake <poss> head": "head_shake", "head shake": "head_shake"}
UNSUPPORTED = {"nod": "no channel for nodding (head pitch)", "tilt": "no channel for tilting the head",
               "look up": "no channel for looking up or down", "look down": "no channel for looking up or down"}
DIRECTIONS = {"left": -1.0, "right": 1.0}
AWAY = ("away", "turn away", "look away")  # right (+1) when no direction is named

INTENSITIES: dict[str, float] = {
    **dict.fromkeys(["slightly", "slight", "a little", "a little bit", "a bit", "a tad", "faint", "faintly", "barely",
                     "hint of", "mildly", "mild", "gently", "gentle", "subtly", "subtle", "little", "small", "softly",
                     "a touch", "weakly", "tiny"], 0.4),
    **dict.fromkeys(["a quarter", "quarter", "one quarter"], 0.25),
    **dict.fromkeys(["half", "halfway", "half way"], 0.5),
    **dict.fromkeys(["somewhat", "fairly", "moderately", "rather", "kind of", "sort of", "quite", "partly",
                     "partially"], 0.7),
    **dict.fromkeys(["three quarters", "three quarter"], 0.75),
    **dict.fromkeys(["full", "fully"], 1.0),
    **dict.fromkeys(["very", "really", "so", "big", "broadly", "wide", "widely", "deeply", "strongly", "truly",
                     "much", "intense", "intensely", "deepen", "grow", "openly", "hard", "heavily",
                     "utterly", "visibly", "clearly"], 1.4),
    **dict.fromkeys(["extremely", "incredibly", "totally", "completely", "absolutely", "hugely", "enormously",
                     "wildly", "insanely", "terribly", "immensely", "unbelievably", "hysterically",
                     "uncontrollably"], 1.8),
}
# Comparatives ("more", "angrier", "even sadder") change the current value by this much.
COMPARATIVE_STEP = 0.5
COMPARATIVES = {"more": 1.0, "even more": 1.0, "less": -1.0, "even less": -1.0}
# Manner (adverbs) always wins over a verb's own speed: "slowly breaks into a grin" takes 2.5 s.
MANNERS: dict[str, float] = {  # ramp seconds
    **dict.fromkeys(["suddenly", "sudden", "abruptly", "instantly", "immediately", "at once", "all of a sudden",
                     "in a flash", "sharply"], 0.2),
    **dict.fromkeys(["quickly", "quick", "fast", "rapidly", "swiftly", "briskly", "promptly", "briefly"], 0.4),
    **dict.fromkeys(["slowly", "slow", "gradually", "gradual", "little by little", "bit by bit", "steadily",
                     "gently", "softly", "lazily", "unhurriedly"], 2.5),
}
VERB_SPEEDS: dict[str, float] = {
    **dict.fromkeys(["snap", "jerk", "burst", "break", "explode", "flash"], 0.2),
    **dict.fromkeys(["creep", "spread", "dawn", "fade in"], 2.5),
}
NEGATIONS = ("not", "n't", "no", "never", "no longer", "stop", "cease", "quit", "lose", "wipe off", "without", "nor",
             "neither")  # the action after them (or, with none after, before them)
AFTER_NEGATIONS = ("fade", "fade away", "vanish", "disappear", "drop", "die", "die down", "subside", "anymore",
                   "any more", "no more", "go away", "wear off")  # the action before them ("her smile fades")
SEQUENCERS = ("then", "and then", "afterwards", "afterward", "after that", "next", "later", "finally",
              "eventually", "before", "at last", "in the end", "soon after", "after which", "until")
HOLDS = ("hold", "hold it", "hold that", "keep", "keep it", "stay", "remain", "linger", "freeze", "still",
         "not move", "stay like that", "hold still")
WAITS = ("moment",)  # "a moment later": a wait of WAIT_S ("waits", "pauses" are durations below)
TOGETHER = ("meanwhile", "at the same time", "at the same time as", "simultaneously", "in the meantime")
BACK = ("back",)  # alone: the channels of the change before go back to 0 ("turns left and then back")
FILLERS = ("cross <poss> face", "come over <poss> face", "flicker of", "a flicker of")  # read, no effect
REPEATS = {"twice": 2, "two times": 2, "three times": 3, "thrice": 3, "again": 1, "once": 1, "repeatedly": 3}
FUNCTION_WORDS = frozenset("""
a an the this that these those it its she he they her his their him them hers theirs i me my mine you your we our
one one's someone somebody everyone person man woman girl boy lady guy kid child character actor face expression
head eye eyes mouth lip lips brow brows eyebrow eyebrows feature features look looks seem appear become get go turn
show make give wear put let begin start try manage is are was were be been being am has have had do does did
will would can could may might shall should must to at of in on into onto from with by as like than so up down out
off over under around about across through toward towards upon and or but while whilst if because though although
also too just only even yet now here there when where who whom whose which what how all both each every some any
such own same other another very into little who's she's he's it's they're there's back again soon almost
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
POSSESSIVES = frozenset(["her", "his", "their", "its", "the", "my", "your", "one's", "our"])
