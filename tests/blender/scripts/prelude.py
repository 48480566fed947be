"""What every Blender test script starts with (``from prelude import *``): enable the installed
extension, point its preferences at the test rig, print results for the test to read.

The harness (``tests/blender/harness.py``) runs each script in a fresh Blender process, or in the
test worker's shared one after a factory reset (``session.py``), with this folder on ``sys.path``
and ``LE_MODULE`` / ``LE_ROOT`` / ``LE_RESULT`` in the environment.
"""

import json
import os
import sys
import time

import bpy  # first: the bpy module puts Blender's own modules (addon_utils) on sys.path

import addon_utils  # noqa: E402

MODULE = os.environ["LE_MODULE"]
ROOT = os.environ["LE_ROOT"]
RESULT = os.environ["LE_RESULT"]


def result(**values):
    print(RESULT + json.dumps(values), flush=True)


def enable(rig=True):
    """Enable the installed extension; return its api module."""
    import importlib

    errors = []
    mod = addon_utils.enable(MODULE, default_set=True, handle_error=errors.append)
    if mod is None or errors:
        raise SystemExit(f"enabling {MODULE} failed: {errors}")
    if rig:
        prefs = bpy.context.preferences.addons[MODULE].preferences
        prefs.model_path = os.environ["LE_TEST_MODEL"]
        prefs.directions_path = os.environ["LE_TEST_DIRECTIONS"]
        prefs.cache_dir = os.environ["LE_TEST_CACHE"]
        prefs.device = "cpu"
    return importlib.import_module(MODULE + ".api")


def addon(name):
    import importlib

    return importlib.import_module(MODULE + "." + name)


def repo_backend():
    """The repository's own backend package (not the add-on's copy), for independent checks."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    import backend

    return backend


def sequencer_output(scene, size=32):
    """Renders that give the sequencer's input back: ``size`` pixels square, no dithering, no
    compositing, the Standard view (frames comparable with the faces' cached frames)."""
    r = scene.render
    r.resolution_x = r.resolution_y = size
    r.resolution_percentage = 100
    r.dither_intensity = 0.0
    r.use_sequencer = True
    r.use_compositing = False
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"


class Event:
    def __init__(self, type):
        self.type, self.value = type, "PRESS"


def events_until_done(op, first=None, timeout=120):
    """Send a modal operator what a window would: ``first`` (e.g. ESC), then timer events until it ends."""
    states = [sorted(op.modal(bpy.context, Event(first)))[0]] if first else []
    end = time.time() + timeout
    while time.time() < end:
        states.append(sorted(op.modal(bpy.context, Event("TIMER")))[0])
        if states[-1] != "RUNNING_MODAL":
            return states[-1]
        time.sleep(0.01)
    raise SystemExit("the modal operator did not end")


__all__ = ["json", "os", "sys", "bpy", "addon_utils", "MODULE", "ROOT", "result", "enable", "addon", "repo_backend",
           "sequencer_output", "Event", "events_until_done"]
