"""Keying emotion channels, one keyframe at a time or a whole emotion script.

Keys go through ``keyframe_insert`` on the struct holding the channel, so Blender picks the ID
(the object, or the strip's scene), the action and — from 4.4 — the slot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from . import compat
from .backend.animation.channels import check_channel_value
from .backend.animation.script import MAX_FRAME, Script
from .properties import channel_names, channel_ref, face_settings

INTERPOLATIONS = (("LINEAR", "Linear", "Straight lines between keyframes, as in the paper"),
                  ("BEZIER", "Bézier", "Smooth ease in and out of each keyframe"),
                  ("CONSTANT", "Constant", "Hold each keyframe until the next"))


def scene_fps(scene) -> float:
    """The scene's frame rate (frames per second)."""
    return scene.render.fps / scene.render.fps_base


def group_name(target) -> str:
    return f"Emotion: {target.name}" if compat.is_strip(target) else "Emotion"


def checked_frame(frame, what: str = "frame") -> float:
    """``frame`` as a float if it is a finite number within Blender's frames (±MAX_FRAME), else a
    ValueError saying so: a NaN frame would be keyed, and the frames after it read wrong."""
    if isinstance(frame, bool):
        raise ValueError(f"{what} must be a frame number, got {frame!r}")
    try:
        number = float(frame)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a frame number, got {frame!r}") from None
    if not math.isfinite(number) or abs(number) > MAX_FRAME:
        raise ValueError(f"{what} must be a finite frame number within ±{MAX_FRAME}, got {number}")
    return number


def checked(target, values: Mapping[str, float], frame: float | None = None) -> dict[str, float]:
    """``values`` checked against the shared policy (finite, within ±VALUE_LIMIT): ChannelValueError
    naming the face, channel and frame, before anything is set."""
    at = "" if frame is None else f" at frame {frame:g}"
    return {name: check_channel_value(value, f"{target.name}: {name}{at}") for name, value in values.items()}


def set_channels(target, values: Mapping[str, float]) -> None:
    """Set channel values (what an un-animated channel holds)."""
    face_settings(target)
    for name, value in checked(target, values).items():
        ref = channel_ref(target, name)
        setattr(ref.struct, ref.prop, value)


def key_channels(target, frame: float, values: Mapping[str, float], interpolation: str | None = None) -> None:
    """Set and key channel values at ``frame``; ``interpolation`` (LINEAR, BEZIER, CONSTANT) for the
    new keys, else the user's default."""
    face_settings(target)
    frame = checked_frame(frame)
    group = group_name(target)
    for name, value in checked(target, values, frame).items():
        ref = channel_ref(target, name)
        setattr(ref.struct, ref.prop, value)
        ref.struct.keyframe_insert(ref.prop, frame=frame, group=group)
        if interpolation is not None:
            fc = compat.find_fcurve(target.id_data, ref.paths)
            for kp in fc.keyframe_points:
                if kp.co[0] == frame:
                    kp.interpolation = interpolation


def clear_channel_keys(target, frames: tuple[float, float] | None = None,
                       names: Sequence[str] | None = None) -> None:
    """Remove the keys of the face's channels (``names``, default all): within ``frames`` (first,
    last), else their whole F-curves."""
    settings = face_settings(target)
    for name in names if names is not None else channel_names(settings):
        fc = compat.find_fcurve(target.id_data, channel_ref(target, name).paths)
        if fc is None:
            continue
        if frames is None:
            compat.remove_fcurve(target.id_data, fc)
            continue
        for kp in reversed(fc.keyframe_points):
            if frames[0] <= kp.co[0] <= frames[1]:
                fc.keyframe_points.remove(kp)


def clip_offsets(script: Script, frames_between: int) -> list[int]:
    """Where each clip starts when all clips play one after another: each clip's start face comes
    ``frames_between`` in-betweens after the previous clip's last keyframe."""
    offsets, at = [], 0
    for clip in script.clips:
        offsets.append(at)
        at += clip.keyframes[-1].frame + frames_between + 1
    return offsets


def key_script(target, script: Script, *, start: int, clip: int = 0, frames_between: int = 32,
               interpolation: str = "LINEAR", replace: bool = True) -> list[int]:
    """Key every keyframe of a parsed script (one clip, or with ``clip=0`` all of them in a row)
    from scene frame ``start``; returns the keyed frames."""
    start = int(checked_frame(start, "start"))
    clips = script.clips
    offsets = clip_offsets(script, frames_between)
    if clip:
        chosen = [i for i, c in enumerate(clips) if c.index == clip]
        if not chosen:
            raise ValueError(f"the script has no clip {clip} (it has {', '.join(str(c.index) for c in clips)})")
        clips, offsets = [clips[chosen[0]]], [0]
    if replace:
        clear_channel_keys(target)
    keyed = []
    for c, offset in zip(clips, offsets):
        for kf in c.keyframes:
            frame = start + offset + kf.frame
            key_channels(target, frame, dict(kf.values), interpolation)
            keyed.append(frame)
    return keyed
