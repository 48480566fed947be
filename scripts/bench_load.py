#!/usr/bin/env python3
"""Peak memory of loading a checkpoint: each load runs in its own process, and the peak RSS of a
process that only builds the same generator is subtracted, so what is left is the loader's own
cost. "whole file" reads the pickle into memory first (the loader before it streamed); "streamed"
is the loader as it is.

    .venv/bin/python scripts/bench_load.py [FILE ...]     (default: the upstream test fixtures' pickles)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
import torch
from backend import checkpoints
from backend.model.generator import Generator, GeneratorConfig
from backend.model.safe_pickle import safe_load
mode, path = sys.argv[1], sys.argv[2]
if mode == "build":
    G = Generator(GeneratorConfig.from_dict(json.loads(sys.argv[3])))
elif mode == "whole file":
    weights = checkpoints._from_nvidia(path, safe_load(open(path, "rb").read()))
    G = checkpoints._build(path, weights.config, weights.tensors)
else:
    G, _ = checkpoints.load_generator(path)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def peak(mode: str, path: Path, *extra: str) -> float:
    code = CHILD.format(root=str(ROOT))
    r = subprocess.run([sys.executable, "-c", code, mode, str(path), *extra], capture_output=True, text=True,
                       check=True)
    return float(r.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    files = [Path(a) for a in argv] or sorted((ROOT / "tests" / "data" / "upstream").glob("*.pkl"))
    sys.path.insert(0, str(ROOT))
    from backend.model.checkpoints import load_generator

    print(f"{'file':>24} {'MB':>6} {'whole file':>11} {'streamed':>9}   (MB above building the generator)")
    for path in files:
        config = json.dumps(load_generator(path)[0].config.to_dict())
        base = peak("build", path, config)
        whole, streamed = peak("whole file", path) - base, peak("streamed", path) - base
        print(f"{path.name:>24} {path.stat().st_size / 2**20:6.1f} {whole:11.1f} {streamed:9.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
