"""Parts → steps: what each part asks for (values, gestures, timing), parts joined into changes
where they fit together, and the changes applied in order to the face."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ..animation.channels import CHANNEL_NAMES, VALUE_LIMIT, check_channel_value
from .parts import Item, Part
from .steps import DEFAULT_HOLD_S, DEFAULT_RAMP_S, EMOTIONS, HOLD_IT_S, WAIT_S, Step
from .words import COMPARATIVE_STEP


@dataclass
class _Change:
    """What one part asks for, before it is applied to the face."""

    values: dict[str, float] = field(default_factory=dict)
    relative: dict[str, float] = field(default_factory=dict)  # comparatives: added to the current value
    reset: bool = False
    stop: bool = False  # "and then stops", "back": the channels of the change before go to 0
    still: bool = False  # "stays still", "no emotion": the face holds
    gestures: list[tuple[str, int, bool]] = field(default_factory=list)  # (name, repeats, before the change)
    ramp_s: float | None = None
    verb_ramp_s: float | None = None
    hold_s: float | None = None
    delay_s: float = 0.0
    later: bool = False  # the delay counts from when the change before is complete
    at_s: float | None = None
    together: bool = False
    wait_s: float | None = None  # a hold for the step before
    source: str = "rules"
    start: int = 0
    end: int = 0

    @property
    def changes_face(self) -> bool:
        return self.reset or bool(self.values) or bool(self.relative) or self.stop

    def clashes(self, other: _Change) -> bool:
        """Two parts that cannot be one change: different emotions, or a channel both ways."""
        mine = {c for c, v in {**self.values, **self.relative}.items() if c in EMOTIONS and v != 0}
        theirs = {c for c, v in {**other.values, **other.relative}.items() if c in EMOTIONS and v != 0}
        if mine and theirs and mine != theirs:
            return True
        both = [c for c, v in self.values.items() if v != 0 and other.values.get(c, 0.0) != 0]
        return any((self.values[c] > 0) != (other.values[c] > 0) for c in both) or (self.reset and bool(other.values)) \
            or self.stop or other.stop or (self.at_s is not None and other.at_s is not None)

    def take_timing(self, other: _Change, theirs_first: bool) -> None:
        """Ramp, hold and start time from ``other`` (where it has them and, unless ``theirs_first``,
        this change has not); "together", "later" and the delay add up."""
        for name in ("ramp_s", "hold_s", "at_s"):
            theirs = getattr(other, name)
            if theirs is not None and (theirs_first or getattr(self, name) is None):
                setattr(self, name, theirs)
        self.together |= other.together
        self.later |= other.later
        self.delay_s += other.delay_s

    def merge(self, other: _Change) -> None:
        for channel, value in other.values.items():
            old = self.values.get(channel)
            self.values[channel] = value if old is None or abs(value) > abs(old) or value == 0 else old
        self.relative.update(other.relative)
        self.reset |= other.reset
        self.still |= other.still
        self.gestures += other.gestures
        self.verb_ramp_s = other.verb_ramp_s if other.verb_ramp_s is not None else self.verb_ramp_s
        self.take_timing(other, theirs_first=True)
        self.source = "model" if "model" in (self.source, other.source) else "rules"
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)


def _change(part: Part) -> _Change:
    """The values, gestures and timing one part asks for."""
    change = _Change(start=part.start, end=part.end)
    items = part.items
    if any(i.kind == "model" for i in items):
        change.source = "model"
    actions = [i for i in items if i.kind in ("action", "model", "direction", "away", "reset")]
    named_direction = any(i.kind == "direction" for i in items)
    scale: dict[int, float] = {}
    amount: dict[int, float] = {}
    more: dict[int, float] = {}
    negated: set[int] = set()

    def nearest(item: Item, pool: list[Item]) -> Item:
        return min(pool, key=lambda a: (abs(a.index - item.index), a.index < item.index))

    for item in items:
        if item.kind == "intensity" and actions:
            target = nearest(item, actions)
            scale[id(target)] = scale.get(id(target), 1.0) * float(item.value)  # type: ignore[arg-type]
        elif item.kind == "amount" and actions:
            before = [a for a in actions if a.index < item.index]
            amount[id(before[-1] if before else nearest(item, actions))] = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "comparative" and actions:
            after = [a for a in actions if a.index >= item.index]
            more[id(after[0] if after else nearest(item, actions))] = float(item.value)  # type: ignore[arg-type]
        elif item.kind in ("negation", "negation_after") and actions:
            after = [a for a in actions if a.index > item.index]
            before = [a for a in actions if a.index < item.index]
            if item.kind == "negation_after":
                after, before = before[::-1], after[::-1]
            negated.add(id(after[0] if after else before[-1]))
        elif item.kind == "negation" and not actions:
            change.stop = True  # "and then stops"
        elif item.kind == "back" and not actions:
            change.stop = True  # "turns left and then back"
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
        if id(item) in amount:  # "50% happy": the action's main channel at that value, the others in proportion
            main = max(abs(v) for v in values.values()) or 1.0
            factor = amount[id(item)] / main
        if id(item) in more and id(item) not in negated:
            for channel, value in values.items():
                if value:
                    change.relative[channel] = COMPARATIVE_STEP * more[id(item)] * (1 if value > 0 else -1)
            continue
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
        elif item.kind == "verb_speed":
            change.verb_ramp_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "ramp_for":
            change.ramp_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "hold_for":
            change.hold_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "hold":
            change.still = True
            change.hold_s = change.hold_s if change.hold_s is not None else HOLD_IT_S
        elif item.kind in ("delay_for", "later_for"):
            change.delay_s += float(item.value)  # type: ignore[arg-type]
            change.later = True
        elif item.kind == "at":
            change.at_s = float(item.value)  # type: ignore[arg-type]
        elif item.kind == "together":
            change.together = True
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


def steps_from_parts(parts: list[Part], start: Mapping[str, float] | None = None) -> Iterator[Step]:
    """Group parts into changes (commas join what fits), then apply them in order to the face."""
    groups: list[_Change] = []
    pending: _Change | None = None  # timing words before any change ("Slowly, she smiles")
    for part in parts:
        change = _change(part)
        if not change.changes_face and not change.gestures:
            if change.wait_s is not None and groups:
                groups[-1].hold_s = change.wait_s  # "waits two seconds": a hold of the step before
            elif groups and not change.delay_s and change.at_s is None and not change.together \
                    and (part.separator == "comma" or change.hold_s is not None):
                last = groups[-1]  # "She smiles, slowly." / "..., holds it, ..."
                last.hold_s = change.hold_s if change.hold_s is not None else last.hold_s
                last.ramp_s = change.ramp_s if change.ramp_s is not None else last.ramp_s
            elif change.still and not groups and pending is None:
                groups.append(change)  # "She stays still for 2 seconds": the face holds
            else:  # applies to the next change: "Slowly, ...", "After a moment, ...", "At 2 seconds, ..."
                change.delay_s += change.wait_s or 0.0
                if pending is None:
                    pending = change
                else:
                    pending.merge(change)
            continue
        if pending is not None:
            change.take_timing(pending, theirs_first=False)
            change.start, pending = min(change.start, pending.start), None
        if groups and part.separator == "comma" and not groups[-1].clashes(change) and not change.gestures \
                and not groups[-1].gestures and change.at_s is None and not change.later and not change.together:
            groups[-1].merge(change)
        else:
            if groups and change.later and groups[-1].hold_s is None:
                groups[-1].hold_s = 0.0  # "two seconds later": counted from when the change before is complete
            groups.append(change)
    if pending is not None and not groups and pending.still:
        groups.append(pending)
    yield from _apply(groups, start or {})


def _apply(groups: list[_Change], start: Mapping[str, float]) -> Iterator[Step]:
    state: dict[str, float] = {**dict.fromkeys(CHANNEL_NAMES, 0.0), **start}
    previous: dict[str, float] = {k: v for k, v in state.items() if v}  # what the last change set
    for change in groups:
        span = (change.start, change.end)
        ramp = next((r for r in (change.ramp_s, change.verb_ramp_s) if r is not None), DEFAULT_RAMP_S)  # manner first
        hold = change.hold_s if change.hold_s is not None else DEFAULT_HOLD_S
        delay = change.delay_s
        timing = {"at_s": change.at_s, "together": change.together}
        gestures_after = []
        for name, repeats, before in change.gestures:
            if before or not change.changes_face:
                for _ in range(repeats):
                    yield Step(dict(state), ramp_s=0.0, hold_s=0.0, delay_s=delay, gesture=name, span=span, **timing)
                    delay, timing = 0.0, {"at_s": None, "together": False}
            else:
                gestures_after += [name] * repeats
        if change.changes_face or change.still:
            before = dict(state)
            if change.reset:
                state = dict.fromkeys(state, 0.0)
            if change.stop:
                state.update(dict.fromkeys(previous, 0.0))
            if any(c in EMOTIONS and v != 0 for c, v in {**change.values, **change.relative}.items()):
                keep = {c: state[c] for c in change.relative}
                state.update(dict.fromkeys(EMOTIONS, 0.0))
                state.update(keep)
            state.update(change.values)
            for channel, delta in change.relative.items():
                state[channel] = round(max(-VALUE_LIMIT, min(VALUE_LIMIT, state[channel] + delta)), 2)
            changed = {c: v for c, v in state.items() if v != before[c]}
            previous = changed or previous
            yield Step(dict(state), ramp_s=ramp, hold_s=hold, delay_s=delay, span=span, source=change.source,
                       **timing)
        for name in gestures_after:
            yield Step(dict(state), ramp_s=0.0, hold_s=0.0, gesture=name, span=span)
