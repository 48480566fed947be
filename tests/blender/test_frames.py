"""Keyed channels → baked frames: the same pixels as the backend, computed only when they change."""

from __future__ import annotations
from .harness import script

INBETWEENS = script("frames_inbetweens")


def test_keyed_inbetween_frames_are_the_backends_pixels_and_only_changes_are_recomputed(shared_blender):
    out = shared_blender.run(INBETWEENS)
    assert out["extra"] == ["brow_raise"]
    checks = {int(f): c for f, c in out["checks"].items()}
    for f, c in checks.items():
        t = (f - 1) / 10  # linear keys at frames 1 and 11
        assert abs(c["joy"] - t) < 1e-6 and abs(c["surprise"] - (1 - 1.5 * t)) < 1e-6
        assert abs(c["brow"] - 0.8 * t) < 1e-6
        assert c["equal"] and c["array_equal"] and c["shape"] == [32, 32, 3], (f, c)
    assert out["first"] == [11, 11, 11]
    assert out["again"] == [11, 0, 0]
    assert out["changed"] == [10, 10]
    assert out["preview"] == [0, 3] and out["preview_shape"] == [16, 16, 3]
    assert out["final"] == [0, 3] and out["final_shape"] == [32, 32, 3]
    assert out["image"] == ["SEQUENCE", "frame_00001.png"]
    assert out["twin_files"][0] != out["twin_files"][1]
    assert len(set(out["twin_materials"])) == 2 and len(set(out["twin_images"])) == 2


DRIVEN_AND_OPERATOR = script("frames_driven_and_operator")


def test_bake_operator_evaluates_drivers_and_bakes_the_scene_range(shared_blender):
    out = shared_blender.run(DRIVEN_AND_OPERATOR)
    assert out["state"] == ["FINISHED"]
    assert out["equal"]
    assert out["frame"] == 1  # the frame stepping for drivers puts the scene back
    assert out["files"] == [f"frame_{f:05d}.png" for f in range(1, 6)]


MODAL = script("frames_modal")


def test_modal_bake_computes_on_the_worker_waits_for_renders_and_esc_cancels_at_once(shared_blender):
    out = shared_blender.run("import numpy as np\nfrom pathlib import Path\n" + MODAL.replace(
        "api = enable()", "api = enable()\nrepo_backend()\nfrom backend.rendering.video import decode_png", 1))
    assert out["passthrough"] == "PASS_THROUGH" and not out["poll_while_running"]
    assert out["full"] == "FINISHED" and out["files_right"]
    state = out["full_state"]
    assert state["done"] == 6 and state["reports"] == [["INFO", "Bake done: 6/6 files (6 frames computed by torch)"]]
    assert state["threads"] == ["latent-emotion-worker"]  # never the UI thread
    assert state["loading"] and state["loaded_on"] == ["latent-emotion-worker"]
    assert state["modal"] == {} and state["poll_after"]
    print(f"UI-thread time per baked frame: {state['ui_ms_per_frame']:.2f} ms")
    assert out["during"] == {"done": 0, "computed": 5, "unchanged": True}
    assert out["after_render"] == ["FINISHED", 5]  # frame 1 kept its value
    assert out["cancel"] == "CANCELLED" and out["worker_busy_at_cancel"]
    assert out["cancel_computed"] == 1 and out["cancel_done"] == 0
    assert out["cancel_reports"] == [["WARNING", "Bake cancelled: 0/5 files (0 frames computed by torch)"]]
