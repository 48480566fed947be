"""Blender's windows: asking areas to redraw (main thread)."""

import bpy


def redraw(area_types: set[str] | None = None) -> None:
    """Tag the areas of every window (of ``area_types`` only, when given) for a redraw."""
    wm = bpy.context.window_manager
    for window in wm.windows if wm is not None else ():
        for area in window.screen.areas:
            if area_types is None or area.type in area_types:
                area.tag_redraw()
