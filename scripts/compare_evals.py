#!/usr/bin/env python3
"""Put evaluations of the default model side by side, as a Markdown table.

    python scripts/compare_evals.py shipped=models/default/eval.json new=runs/x/eval.json

Each argument is ``LABEL=PATH`` (or a path, labelled by its folder) to a JSON file written by
``scripts/eval_default_model.py --json``. Per channel: Spearman / dominant share / reading at
1.0; then the summary (mean emotion Spearman and dominance, how many meet the targets, drift under
the paper's mask as a fraction of the distance between two faces). Files measured on other face
seeds or protocols are flagged, since their numbers do not compare.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.animation.channels import CHANNEL_NAMES  # noqa: E402


def load(arg: str) -> tuple[str, dict[str, Any]]:
    label, sep, path = arg.partition("=")
    if not sep:
        label, path = Path(arg).parent.name or arg, arg
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or "channels" not in doc or "summary" not in doc:
        raise ValueError(f"{path}: not a JSON file written by eval_default_model.py --json")
    return label, doc


def table(evals: list[tuple[str, dict[str, Any]]]) -> str:
    """The Markdown comparison of ``evals`` ((label, document) pairs)."""
    lines = ["| channel | " + " | ".join(label for label, _ in evals) + " |",
             "| --- |" + " --- |" * len(evals)]
    for name in CHANNEL_NAMES:
        cells = []
        for _, doc in evals:
            row = next((c for c in doc["channels"] if c["name"] == name), None)
            cells.append("—" if row is None else
                         f"{row['spearman']:.3f} / {row['dominant']:.0%} / {row['reading_at_1']:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    def summary(doc: dict[str, Any]) -> dict[str, str]:
        s = doc["summary"]
        n = s["emotions_measured"]
        return {
            "mean emotion Spearman": f"{s['emotions_spearman_mean']:.3f} ({s['emotions_meeting_spearman_target']}/{n})",
            "mean emotion dominant": f"{s['emotions_dominant_mean']:.0%} ({s['emotions_meeting_dominant_target']}/{n})",
            "drift (paper's mask) / between faces": (f"{s['drift_paper_mask_mean']:.3f} / "
                                                     f"{s['identity_distance_between_faces']:.3f} = "
                                                     f"{s['drift_paper_mask_mean'] / s['identity_distance_between_faces']:.2f}"),
            "ACD consecutive": f"{s['acd_consecutive_emotion_videos']:.4f}",
            "face seed": str(doc.get("protocol", {}).get("face_seed", "?")),
        }

    rows = [summary(doc) for _, doc in evals]
    for key in rows[0]:
        lines.append(f"| {key} | " + " | ".join(r[key] for r in rows) + " |")
    protocols = {json.dumps(doc.get("protocol"), sort_keys=True) for _, doc in evals}
    if len(protocols) > 1:
        lines.append("\n(the protocols differ — face seed, faces or frames — so these columns do not compare)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("evals", nargs="+", help="LABEL=PATH or PATH of an eval_default_model.py --json file")
    args = p.parse_args(argv)
    try:
        evals = [load(a) for a in args.evals]
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("Spearman / dominant / reading at 1.0 (eval probe)\n")
    print(table(evals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
