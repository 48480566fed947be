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


def test_a_small_models_one_thread_holds_for_blas_and_opencv_too():
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["torch"] == 1 and got["cv2"] == 1
    assert got["blas"] and set(got["blas"]) == {1}
