"""Live preview: frame changes show the backend's frame, off the main thread, latest request first."""

from __future__ import annotations

from .harness import script

# Blender's event loop does not run in the bpy module: ``drive`` calls the preview's timer as the
# loop would, until it asks to stop. ``expected`` is the backend's own frame for a face's values.
HELPERS = script("preview_helpers")

SCRUB = HELPERS + script("preview_scrub")


def test_scrubbing_shows_the_backends_frame_latest_request_first(shared_blender):
    out = shared_blender.run(SCRUB)
    first = out["first"]
    assert first["timer"] and not first["shown_at_once"]
    assert first["shown"] == 4 and first["equal"]
    assert first["threads"] and "MainThread" not in first["threads"]
    cached = out["cached"]
    assert cached["shown"] == 4 and cached["new_orders"] == 0 and not cached["timer"] and cached["equal"]
    latest = out["latest"]
    # The held order, then only the newest of the 19 that queued behind it.
    assert latest["ran"] == 2 and latest["dropped"] == 18 and latest["computed"] == 2, latest
    assert latest["shown"] == 31 and latest["equal"]
    # Each frame passed shows frame 4 meanwhile; frame 31 shows frame 12 once that is made, unless
    # the timer first runs after frame 31 itself is made (then it shows at once: a race, both fine).
    stand_ins = latest["stand_ins"]
    assert stand_ins[:20] == list(range(12, 32)) and stand_ins[20:] in ([], [31]) and latest["between"], stand_ins
    assert out["render"] == {"new_orders": 0, "file": False}
    assert out["reopened"] == {"shown": 45, "equal": True, "handler": True}
    assert out["edited"]["timer"] and out["edited"]["shown"] == 45 and out["edited"]["equal"], out["edited"]
    assert out["edited"]["changed"]
    assert out["unregistered"] == {"thread": False, "timer": False, "handler": False, "threads": []}


BAD_FACE = HELPERS + script("preview_bad_face")


def test_a_face_with_wrong_settings_does_not_stop_the_others(shared_blender):
    out = shared_blender.run(BAD_FACE)
    assert out["good"] == [True, True], out
    assert out["bad"] == [False, False]
    assert any("layer range 6-2" in m for m in out["printed"] + out["later"]), out
