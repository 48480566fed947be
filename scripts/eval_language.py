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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--no-model", action="store_true", help="rules only, without the sentence model")
    p.add_argument("--text-model", type=Path, help="folder of the sentence model (default: models/text)")
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


if __name__ == "__main__":
    main()
