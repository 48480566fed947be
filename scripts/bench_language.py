#!/usr/bin/env python3
"""Time the description reader: sentence-model load, and text → script with and without it.

    python scripts/bench_language.py [--text-model models/text] [--compare FOLDER] [--repeat 3]

Prints the model's file size and load time (weights, tokenizer and the prototype embeddings; best
of ``--repeat`` loads), then the mean time per description of tests/data/language over
``--repeat`` passes: rules only, and rules plus the sentence model. ``--compare`` takes a folder
with the same model at another precision (``scripts/convert_text_model.py --precision fp32 --out
FOLDER``) and prints the cosine similarity of the two models' embeddings of every description and
whether both read each phrase the same. Runs on one CPU thread (as in Blender's main process);
times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from backend.language import LanguageError, describe  # noqa: E402
from backend.language.embedding import MODEL_FILE, TEXT_MODEL_DIR, PhraseReader, load_sentence_model  # noqa: E402
from eval_language import load_descriptions  # noqa: E402


def per_description(texts: list[str], repeat: int, interpret=None) -> float:
    """Mean seconds to describe one text (best pass of `repeat`)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            try:
                describe(text, interpret=interpret)
            except LanguageError:
                pass
        best = min(best, (time.perf_counter() - start) / len(texts))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text-model", type=Path, default=TEXT_MODEL_DIR)
    p.add_argument("--compare", type=Path, help="the same model at another precision")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    texts = [row["text"] for row in load_descriptions()]

    size = (args.text_model / MODEL_FILE).stat().st_size
    loads = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        reader = PhraseReader(load_sentence_model(args.text_model))
        loads.append(time.perf_counter() - start)
    print(f"model: {args.text_model / MODEL_FILE} ({size / 1e6:.1f} MB), load with prototypes: "
          f"{min(loads) * 1000:.0f} ms (best of {args.repeat})")
    start = time.perf_counter()
    reader.model.embed([texts[0]])
    print(f"one sentence embedded: {(time.perf_counter() - start) * 1000:.1f} ms")
    rules = per_description(texts, args.repeat)
    model = per_description(texts, args.repeat, reader)
    print(f"text → script, {len(texts)} descriptions: rules only {rules * 1000:.2f} ms each, "
          f"rules + sentence model {model * 1000:.2f} ms each")

    if args.compare:
        other = PhraseReader(load_sentence_model(args.compare))
        cos = (reader.model.embed(texts) * other.model.embed(texts)).sum(dim=1)
        same = sum(getattr(reader(t), "prototype", None) == getattr(other(t), "prototype", None) for t in texts)
        print(f"vs {args.compare}: embedding cosine min {cos.min():.5f}, mean {cos.mean():.5f}; "
              f"same prototype decision for {same}/{len(texts)} descriptions")


if __name__ == "__main__":
    main()
