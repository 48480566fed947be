"""describe(start=...): a description read from the face's values where it begins, not from neutral
(the add-on's Describe passes the face's values at the current frame)."""

from __future__ import annotations

import pytest

from backend.animation.script import parse_script
from backend.language import LanguageError, describe


def test_a_fade_starts_from_the_start_values_and_a_change_keeps_the_other_channels():
    d = describe("Her smile fades slowly over 4 seconds.", fps=25, start={"joy": 1.0, "head_turn": 0.5})
    frames = parse_script(d.script).clips[0].keyframes
    assert frames[0].frame == 0 and frames[0].values["joy"] == 1.0 and frames[0].values["head_turn"] == 0.5
    faded = next(f for f in frames if f.values["joy"] == 0)
    assert faded.frame == 100 and faded.values["head_turn"] == 0.5


def test_without_start_the_description_starts_neutral_as_before():
    assert describe("Her smile fades.", fps=25).script == describe("Her smile fades.", fps=25, start={}).script


@pytest.mark.parametrize("start, message", [
    ({"joy": float("nan")}, "joy in the start values: nan is not a finite number"),
    ({"joy": 3.0}, "outside [-2, 2]"),
    ({"grin": 1.0}, "unknown channel 'grin' in the start values"),
    ([("joy", 1.0)], "start values must map channel names to numbers"),
])
def test_bad_start_values_are_one_clear_error(start, message):
    with pytest.raises(LanguageError) as e:
        describe("She smiles.", start=start)
    assert message in str(e.value)
