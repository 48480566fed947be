#!/usr/bin/env python3
"""Score the description reader on tests/data/language/descriptions.jsonl, per part.

    python scripts/eval_language.py [--data FILE] [--no-model] [--text-model models/text]
        [--show-errors]

Per part (tuning, heldout; and each part's free phrasing alone, the descriptions marked
``"free"``: idioms without a word of the tables, or sentences with no expression at all),
comparing the reader's steps with the expected segments in order:

- channel accuracy: share of segment positions (over the longer of the two sequences) where the
  read step names the same channels with the same signs (|value| ≥ 0.05) and the same gesture;
- intensity: share of those channel-correct segments whose values are all within ±0.5;
- order accuracy: share of descriptions whose whole sequence is right (count, and each segment's
  channels, signs and gesture, in order);
- timing error: mean absolute difference in seconds over the ramp, hold and delay values the
  expectations fix, for segments at the same position.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.language import LanguageError, Step, describe  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "language" / "descriptions.jsonl"
ZERO = 0.05
INTENSITY_TOLERANCE = 0.5


@dataclass(frozen=True)
class Scores:
    part: str
    descriptions: int
    channel_accuracy: float
    intensity_accuracy: float
    order_accuracy: float
    timing_error_s: float
    timing_values: int
    errors: tuple[str, ...]


def load_descriptions(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _signs(values: dict[str, float]) -> frozenset[tuple[str, int]]:
    return frozenset((c, 1 if v > 0 else -1) for c, v in values.items() if abs(v) >= ZERO)


def _shape(segment: dict) -> tuple:
    return segment.get("gesture"), _signs(segment.get("state", {}))


def _as_segment(step: Step) -> dict:
    return {"gesture": step.gesture, "state": dict(step.state), "ramp_s": step.ramp_s, "hold_s": step.hold_s,
            "delay_s": step.delay_s}


def score(rows: list[dict], part: str, interpret=None) -> Scores:
    """The scores of one part; `interpret` is a sentence model's reader (None: rules only)."""
    channel_hits = positions = intensity_hits = order_hits = timing_n = 0
    timing_sum = 0.0
    errors = []
    chosen = [r for r in rows if r["part"] == part]
    for row in chosen:
        expected = row["segments"]
        try:
            read = [_as_segment(s) for s in describe(row["text"], interpret=interpret).steps]
        except LanguageError as e:
            read = []
            errors.append(f"{row['id']}: {e}")
        positions += max(len(expected), len(read))
        all_right = len(read) == len(expected)
        for want, got in zip(expected, read, strict=False):
            if _shape(want) == _shape(got):
                channel_hits += 1
                states = want.get("state", {}), got["state"]
                if all(abs(states[0].get(c, 0.0) - states[1].get(c, 0.0)) <= INTENSITY_TOLERANCE
                       for c in set(states[0]) | set(states[1])):
                    intensity_hits += 1
            else:
                all_right = False
            for key in ("ramp_s", "hold_s", "delay_s"):
                if key in want:
                    timing_sum += abs(want[key] - got[key])
                    timing_n += 1
        order_hits += all_right
        if not all_right:
            errors.append(f"{row['id']}: {row['text']!r}\n    want {[_shape(s) for s in expected]}\n"
                          f"    got  {[_shape(s) for s in read]}")
    return Scores(part, len(chosen), channel_hits / max(positions, 1), intensity_hits / max(channel_hits, 1),
                  order_hits / max(len(chosen), 1), timing_sum / max(timing_n, 1), timing_n, tuple(errors))


# ---------------------------------------------------------------------------------------------
# readings.jsonl (issue 30): times, amounts, stops, holds, slowness, continuations, off-target
# phrases and misspellings, scored on the script's keys (see tests/data/language/README.md)

READINGS = DATA.with_name("readings.jsonl")
KINDS = ("time", "amount", "stop", "hold", "slow", "continuation", "offtarget", "misspelt")
TIMING_TOLERANCE_S = 0.2
AMOUNT_TOLERANCE = 0.1
READ_FPS = 25.0


@dataclass(frozen=True)
class Change:
    """One channel moving from one value to another: begins `at`, complete at `reach` (seconds)."""

    at: float
    reach: float
    value: float


def channel_changes(script: str, fps: float = READ_FPS) -> dict[str, list[Change]]:
    """Each channel's changes in a script's first clip: runs of keys moving the same way."""
    from backend.animation.script import parse_script

    keys = parse_script(script).clips[0].keyframes
    times = [k.frame / fps for k in keys]
    out: dict[str, list[Change]] = {}
    for channel in keys[0].values:
        values = [k.values[channel] for k in keys]
        i = 0
        while i < len(values) - 1:
            way = (values[i + 1] > values[i]) - (values[i + 1] < values[i])
            if way == 0:
                i += 1
                continue
            j = i + 1
            while j < len(values) - 1 and (values[j + 1] > values[j]) - (values[j + 1] < values[j]) == way:
                j += 1
            out.setdefault(channel, []).append(Change(times[i], times[j], values[j]))
            i = j
    return out


def _class(value: float) -> int:
    return 1 if value >= ZERO else -1 if value <= -ZERO else 0


@dataclass(frozen=True)
class RowResult:
    row: dict
    checks: dict[str, bool]  # check name -> passed (only the checks the row asks for)
    note: str

    @property
    def right(self) -> bool:
        return all(self.checks.values())


def score_reading(row: dict, interpret=None) -> RowResult:
    """Whether the reader gets one readings.jsonl row right, check by check."""
    checks: dict[str, bool] = {}
    try:
        d = describe(row["text"], fps=READ_FPS, interpret=interpret, start=row.get("start"))
        changes, report, words = channel_changes(d.script), d.report(), {u.word.lower() for u in d.unknown}
        model_words = " ".join(m.phrase.lower() for m in d.model_matches)
    except LanguageError as e:
        changes, report, words, model_words = {}, str(e), set(), ""
        if row["events"] or row["kind"] == "hold":
            checks["read"] = False
    expected: dict[str, list[dict]] = {}
    was = dict(row.get("start", {}))
    for event in row["events"]:
        for channel, value in event["set"].items():
            if value != was.get(channel, 0.0):  # a channel named at the value it has does not change
                expected.setdefault(channel, []).append({**event, "value": value})
            was[channel] = value
    shapes_right = all([_class(w["value"]) for w in expected.get(c, [])] == [_class(g.value) for g in changes.get(c, [])]
                       for c in set(expected) | set(changes))
    checks["channel"] = shapes_right
    if shapes_right:
        for channel, wants in expected.items():
            for want, got in zip(wants, changes.get(channel, []), strict=True):
                for key in ("at", "reach"):
                    if key in want:
                        checks["timing"] = checks.get("timing", True) and \
                            abs(want[key] - getattr(got, key)) <= TIMING_TOLERANCE_S + 1e-9
                if want.get("amount"):
                    checks["amount"] = checks.get("amount", True) and \
                        abs(want["value"] - got.value) <= AMOUNT_TOLERANCE + 1e-9
        if "end" in row:
            last = max((g.reach for gs in changes.values() for g in gs), default=0.0)
            if "d" in locals():
                from backend.animation.script import parse_script

                last = parse_script(d.script).clips[0].keyframes[-1].frame / READ_FPS
            checks["timing"] = checks.get("timing", True) and abs(last - row["end"]) <= TIMING_TOLERANCE_S
    else:
        for key in ("at", "reach", "amount"):
            if any(key in e for e in row["events"]):
                checks["timing" if key != "amount" else "amount"] = False
    if row.get("declined"):
        checks["declined"] = all(w.lower() in words or (f"'{w.lower()}'" in report.lower() and not words)
                                 for w in row["declined"]) and not any(w.lower() in model_words
                                                                       for w in row["declined"])
    if row.get("suggest") and not checks["channel"]:
        suggested = "did you mean" in report and f"'{row['suggest']}'" in report
        checks["channel"] = suggested
        checks.pop("read", None) if suggested else None
    got = {c: [(round(g.at, 2), round(g.reach, 2), round(g.value, 2)) for g in gs] for c, gs in changes.items()}
    return RowResult(row, checks, f"{row['id']} [{row['kind']}] {row['text']!r}: got {got}; "
                                  f"{report.splitlines()[0] if report else ''}")


def score_readings(rows: list[dict], part: str, interpret=None) -> dict[str, tuple[int, int]]:
    """Per kind (and 'all'): (rows right, rows)."""
    out: dict[str, tuple[int, int]] = {}
    for row in rows:
        if row["part"] != part:
            continue
        right = score_reading(row, interpret).right
        for kind in (row["kind"], "all"):
            hits, n = out.get(kind, (0, 0))
            out[kind] = (hits + right, n + 1)
    return out


OFF_TARGET = DATA.with_name("off_target.txt")


def load_off_target(path: Path = OFF_TARGET) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Calibration:
    """The sentence model on phrases alone: off-target ones it declined, and of everything it read
    (off-target and free phrasing of one part), how much was right."""

    declined: int
    off_target: int
    read_right: int
    read_wrong: int

    @property
    def precision(self) -> float:
        return self.read_right / max(self.read_right + self.read_wrong, 1)


def calibration(interpret, rows: list[dict], part: str, off_target: list[str]) -> Calibration:
    declined = sum(interpret(p) is None for p in off_target)
    right = wrong = 0
    for row in rows:
        if row["part"] != part or not row.get("free"):
            continue
        match = interpret(row["text"].rstrip("."))
        if match is not None:
            want = _signs(row["segments"][0]["state"]) if row["segments"] else None
            right += want == _signs(dict(match.values))
            wrong += want != _signs(dict(match.values))
    return Calibration(declined, len(off_target), right, wrong + (len(off_target) - declined))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--no-model", action="store_true", help="rules only, without the sentence model")
    p.add_argument("--text-model", type=Path, help="folder of the sentence model (default: models/text)")
    p.add_argument("--readings", type=Path, default=READINGS, help="issue 30's set of times, amounts, ...")
    p.add_argument("--show-errors", action="store_true")
    args = p.parse_args()
    interpret = None
    if not args.no_model:
        from backend.language.embedding import load_phrase_reader

        interpret, note = load_phrase_reader(args.text_model)
        if note:
            print(note)
    rows = load_descriptions(args.data)
    print(f"{'part':12s} {'n':>3s} {'channels':>9s} {'intensity':>9s} {'order':>7s} {'timing':>10s}")
    free = [{**r, "part": r["part"] + "/free"} for r in rows if r.get("free")]
    for part in ("tuning", "heldout", "tuning/free", "heldout/free"):
        s = score(rows + free, part, interpret)
        print(f"{s.part:12s} {s.descriptions:3d} {s.channel_accuracy:9.1%} {s.intensity_accuracy:9.1%} "
              f"{s.order_accuracy:7.1%} {s.timing_error_s:7.2f} s ({s.timing_values} values)")
        if args.show_errors:
            print("\n".join(s.errors))
    if interpret is not None:
        off_target = load_off_target()
        print(f"\nsentence model on phrases alone ({OFF_TARGET.name}: off-target phrases it must decline)")
        for part in ("tuning", "heldout"):
            c = calibration(interpret, rows, part, off_target)
            print(f"{part:8s} declined {c.declined}/{c.off_target} off-target phrases; of what it read "
                  f"(off-target and the part's free phrasing) {c.read_right} right, {c.read_wrong} wrong: "
                  f"precision {c.precision:.0%}")
    readings = load_descriptions(args.readings)
    print(f"\n{args.readings.name}: share of descriptions read right, per kind (channels; timing within "
          f"{TIMING_TOLERANCE_S:g} s; amounts within {AMOUNT_TOLERANCE:g}; declined where it should)")
    print(f"{'part':8s} " + " ".join(f"{k:>12s}" for k in (*KINDS, "all")))
    for part in ("tuning", "heldout"):
        table = score_readings(readings, part, interpret)
        cells = [f"{table[k][0]:>3d}/{table[k][1]:<3d} {table[k][0] / table[k][1]:4.0%}" if k in table else "-"
                 for k in (*KINDS, "all")]
        print(f"{part:8s} " + " ".join(f"{c:>12s}" for c in cells))
        if args.show_errors:
            for row in readings:
                if row["part"] == part:
                    result = score_reading(row, interpret)
                    if not result.right:
                        print(f"  {sorted(k for k, v in result.checks.items() if not v)} {result.note}")


if __name__ == "__main__":
    main()
