"""A bake of any length holds a window of W+ codes at a time, never one per frame of the range."""

from __future__ import annotations

import pytest
from .harness import script

pytestmark = pytest.mark.slow

LONG = script("long_bake_long")


def test_a_long_bake_makes_codes_a_window_at_a_time(shared_blender):
    out = shared_blender.run(LONG)
    assert out["total"] == 1200 and out["done"] == 300
    assert out["max_rows"] <= out["window"] < 1200  # never the whole range's codes at once
    assert out["todo_after"] <= out["window"]
    assert out["pending"] == 900 and len(out["first"]) == 2
