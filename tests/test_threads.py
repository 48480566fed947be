"""backend.model.threads: one thread policy for torch, BLAS and OpenCV."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import ROOT

CHECK = """
import os, json
os.environ.pop("OMP_NUM_THREADS", None)
import numpy, cv2, threadpoolctl, torch
from backend.model.threads import use_threads
cv2.setNumThreads(2)
threadpoolctl.threadpool_limits(limits=2, user_api="blas")
n = use_threads(1e6)  # a small model: one thread everywhere
blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"torch": n, "blas": blas, "cv2": cv2.getNumThreads()}))
"""


def run_json(script: str, env: dict[str, str]) -> dict:
    """The JSON of the last line ``script`` prints, run in a fresh interpreter from the repository root."""
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_a_small_models_one_thread_holds_for_blas_and_opencv_too():
    got = run_json(CHECK, {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"})
    assert got["torch"] == 1 and got["cv2"] == 1
    assert got["blas"] and set(got["blas"]) == {1}


def test_a_users_omp_num_threads_is_the_count_for_every_pool():
    # A big model would get every free core; the user's OMP_NUM_THREADS=1 wins, for OpenCV too.
    check = CHECK.replace('os.environ.pop("OMP_NUM_THREADS", None)', 'os.environ["OMP_NUM_THREADS"] = "1"')
    check = check.replace("use_threads(1e6)", "use_threads(1e15)")
    got = run_json(check, {**os.environ, "OMP_NUM_THREADS": "1"})
    assert got["torch"] == 1 and got["cv2"] == 1
    assert got["blas"] and set(got["blas"]) == {1}


REUSE = """
import json, resource, torch
from torch.nn.functional import conv2d, leaky_relu
from backend.model.allocator import keep_freed_memory
keep_freed_memory()  # as python -m backend does at start
x, w = torch.randn(1, 16, 1024, 1024), torch.randn(16, 16, 3, 3)  # 64 MB: over glibc's largest mmap threshold
def layer():  # three 64 MB blocks a call, as a 1024 px layer makes them
    return leaky_relu(conv2d(x, w, padding=1) + 1.0)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):  # the heap settles
    layer()
before = faults()
for _ in range(5):
    layer()
print(json.dumps({"kept": keep_freed_memory(), "faults": faults() - before}))
"""


def test_a_frames_large_blocks_are_reused_not_faulted_in_afresh():
    """A 1024 px layer's 128 MB output was a fresh mmap each time: 5.2 s of page faults in three
    config-F frames. Once keep_freed_memory has run, freed blocks are reused without faults; with
    LATENT_EMOTION_KEEP_FREED=0 malloc is left alone and every block's 16,384 pages fault again."""
    runs = {}
    for keep in ("1", "0"):
        runs[keep] = run_json(REUSE, {**os.environ, "LATENT_EMOTION_KEEP_FREED": keep})
    assert runs["1"]["kept"] and not runs["0"]["kept"]
    assert runs["1"]["faults"] < 16_384 < 5 * 16_384 < runs["0"]["faults"]
