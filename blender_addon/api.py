"""Python API of Latent Emotion, for scripts and the Python console.

The extension's package name depends on the repository it was installed into, so import it
through the add-on's own module name (importing it enables the extension if it is not)::

    import importlib
    le = importlib.import_module("bl_ext.user_default.latent_emotion.api")

    face = le.add_face(seed=3)                        # a plane in the active scene
    le.key_channels(face, 1, joy=0.0)
    le.key_channels(face, 33, joy=1.0, surprise=0.5)  # linear in-betweens, as in the paper
    le.channel_values_at(face, 17)                    # {'joy': 0.5, 'surprise': 0.25, ...}
    le.bake(face, 1, 33)                              # frames into the cache and the face's folder
    le.frame_array(face, 17)                          # (H, W, 3) uint8

    strip = le.add_strip(frame_start=1, length=100)   # the same in the sequencer
    le.import_script(strip, "fig7.txt", start=1)
    le.key_from_video(face, "take3.mp4", start=1)    # the nine channels from a filmed face
    le.describe(face, "She smiles, then slowly looks surprised.", start=100)

Targets are emotion-face objects or strips (``faces()`` lists a scene's). Channels are named as
``backend.animation.channels`` (joy, sadness, anger, fear, surprise, disgust, eye_close, mouth_open,
head_turn) plus the extra channels of the directions file. Functions that need the model
raise ``RigError`` when none is set (Preferences › Add-ons › Latent Emotion).
"""

from __future__ import annotations

from pathlib import Path

import bpy


def _enable() -> None:
    """Importing the API enables the extension if it is not (a fresh session, a script run with
    ``blender -b --python``): its properties and handlers exist from then on."""
    if __package__ not in bpy.context.preferences.addons:
        import addon_utils

        addon_utils.enable(__package__, default_set=True)


_enable()

import numpy as np  # noqa: E402

from . import compat, keyframes  # noqa: E402
from .backend.animation.script import DEFAULT_FRAMES_BETWEEN, load_script, parse_script  # noqa: E402
from .baking import BakeStats  # noqa: E402
from .capture import DEFAULT_TOLERANCE  # noqa: E402
from .faces import new_face_object, new_face_strip  # noqa: E402
from .handlers import is_rendering  # noqa: E402
from .properties import channel_ref, face_settings  # noqa: E402
from .rig import RigError  # noqa: E402, F401  (part of the API)
from .targets import displayed_files, folder, frame_values, scene_targets  # noqa: E402


def faces(scene: bpy.types.Scene | None = None) -> list:
    """The emotion faces (objects, then strips) of ``scene`` (default: the active scene)."""
    return scene_targets(scene or bpy.context.scene)


def add_face(*, name: str = "Emotion Face", seed: int = 0, truncation: float = 0.7, resolution: int = 0,
             location=(0.0, 0.0, 0.0), scene: bpy.types.Scene | None = None,
             collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """A new emotion-face plane, linked into ``collection`` (default: the scene's)."""
    scene = scene or bpy.context.scene
    return new_face_object(scene, collection or scene.collection, name=name, seed=seed, truncation=truncation,
                           resolution=resolution, location=location)


def add_strip(*, name: str = "Emotion Face", channel: int = 1, frame_start: int = 1, length: int | None = None,
              seed: int = 0, truncation: float = 0.7, resolution: int = 0,
              scene: bpy.types.Scene | None = None):
    """A new emotion-face image strip of ``length`` frames (default: to the scene's end)."""
    return new_face_strip(scene or bpy.context.scene, name=name, channel=channel, frame_start=frame_start,
                          length=length, seed=seed, truncation=truncation, resolution=resolution)


def set_channels(target, frame: float | None = None, **values: float) -> None:
    """Set channel values. Without ``frame`` they are set now (an animated channel takes its keys'
    value again at the next frame change, as in the UI); with ``frame`` they hold at that frame:
    animated channels get a key there, the others are simply set."""
    if frame is None:
        keyframes.set_channels(target, values)
        return
    face_settings(target)
    frame = keyframes.checked_frame(frame)
    values = keyframes.checked(target, values, frame)  # all of them before any is set
    keyed, plain = {}, {}
    for name, value in values.items():
        animated = compat.find_fcurve(target.id_data, channel_ref(target, name).paths) is not None
        (keyed if animated else plain)[name] = value
    keyframes.set_channels(target, plain)
    if keyed:
        keyframes.key_channels(target, frame, keyed)


def key_channels(target, frame: float, interpolation: str | None = None, **values: float) -> None:
    """Key channel values at ``frame`` (interpolation LINEAR, BEZIER or CONSTANT; default: the
    user's preference)."""
    keyframes.key_channels(target, frame, values, interpolation)


def channel_values_at(target, frame: float) -> dict[str, float]:
    """Every channel's value at ``frame`` as Blender evaluates it (keys, NLA strips, drivers)."""
    face_settings(target)
    frame = keyframes.checked_frame(frame)
    return {name: float(v[0]) for name, v in frame_values(_scene(target, None), target, [frame]).items()}


def import_script(target, script: str | Path, *, start: int = 1, frames_between: int = DEFAULT_FRAMES_BETWEEN,
                  interpolation: str = "LINEAR", clip: int = 0, replace: bool = True) -> list[int]:
    """Key an emotion script — a file path, or the text itself when it has a line break — and return
    the keyed frames. Raises ``ScriptError`` (with ``.line``/``.column``) for a bad script."""
    extra = [item.name for item in face_settings(target).extra]
    if isinstance(script, str) and "\n" in script:
        parsed = parse_script(script, frames_between=frames_between, extra_channels=extra)
    else:
        parsed = load_script(script, frames_between=frames_between, extra_channels=extra)
    return keyframes.key_script(target, parsed, start=start, clip=clip, frames_between=frames_between,
                                interpolation=interpolation, replace=replace)


def key_from_video(target, video: str | Path, *, start: int | None = None, tolerance: float | None = DEFAULT_TOLERANCE,
                   replace: bool = True, scene: bpy.types.Scene | None = None) -> list[int]:
    """Key the nine channels from a video of a face (read at the scene's frame rate) from scene frame
    ``start`` (default: the current frame): the keyframes within ``tolerance`` (None: every frame);
    returns the keyed frames. A video without a face, or not a video, raises ValueError."""
    from .capture import key_capture, start_capture, wait

    face_settings(target)
    scene = _scene(target, scene)
    result = wait(start_capture(video, keyframes.scene_fps(scene)))
    return key_capture(target, result, scene.frame_current if start is None else start, tolerance, replace)


def face_from_photo(target, photo: str | Path, *, steps: int = 100):
    """Start the face from ``photo``: its largest face inverted (``steps`` in W, half as many in W+)
    on the worker; the code is stored with the face (saved in the .blend). Returns the
    ``photo_job.PhotoCode``. A photo without a face, or no image, raises ValueError."""
    from .photo import apply_code, start_inversion, wait

    face_settings(target)
    code = wait(start_inversion(photo, steps, target))
    apply_code(target, code, photo)
    return code


def describe(target, text: str, *, start: int | None = None, interpolation: str = "BEZIER", replace: bool = False,
             use_text_model: bool = True):
    """Key a description in plain English ("she smiles, then slowly looks surprised") from scene frame
    ``start`` (default: the current frame). Returns the ``backend.language.Description`` (``.script``:
    the emotion script keyed, also put in the text datablock "Emotion Description: <face>";
    ``.unknown`` / ``.report()``: words not understood) and the keyed frames. Raises
    ``LanguageError`` when nothing in it says what the face does."""
    from .describe import describe_keys, show_script

    scene = _scene(target, None)
    description, keyed = describe_keys(target, text, start=scene.frame_current if start is None else start,
                                       fps=keyframes.scene_fps(scene), interpolation=interpolation, replace=replace,
                                       use_text_model=use_text_model)
    show_script(target, description)
    return description, keyed


def bake(target, frame_start: int | None = None, frame_end: int | None = None, *, preview: bool = False,
         scene: bpy.types.Scene | None = None) -> BakeStats:
    """Compute frames ``frame_start``–``frame_end`` (default: the scene's range where the face shows)
    into the cache and the face's image sequence; only frames whose W+ code changed are computed."""
    from .jobs import bake_range, finish, make_job

    if is_rendering():
        raise RuntimeError("cannot bake while a render runs")
    face_settings(target)
    scene = _scene(target, scene)
    if frame_start is None or frame_end is None:
        default = bake_range(target, scene)
        frame_start = default.start if frame_start is None else frame_start
        frame_end = default.stop - 1 if frame_end is None else frame_end
    job = make_job(scene, [target], range(frame_start, frame_end + 1), preview=preview, interactive=True)
    stats = job.run()
    finish(job, scene)
    return stats


def frame_path(target, frame: int) -> Path | None:
    """The file the face shows at ``frame`` (whether or not it is baked), or None if it shows none."""
    shown, names = displayed_files(target, [frame])
    where = folder(target)
    return where / names[0] if shown and where is not None else None


def frame_array(target, frame: int) -> np.ndarray:
    """The face's frame at ``frame`` as (H, W, 3) uint8 RGB, at the face's resolution; computed
    into the cache if it is not there yet."""
    from .backend.rendering.render import resize
    from .jobs import open_cache, targets_rig
    from .targets import face_spec

    settings = face_settings(target)
    rig = targets_rig([target])
    scene = _scene(target, None)
    values = frame_values(scene, target, [keyframes.checked_frame(frame)])
    ws = rig.latents(face_spec(settings), values)
    cache = open_cache(scene)
    rig.ensure_frames(ws, cache)
    image = cache.get(rig.target.key(ws[0]))
    size = settings.resolution or rig.resolution
    return image if size == image.shape[0] else resize(image, size)


def _scene(target, scene):
    if compat.is_strip(target):
        return target.id_data
    return scene or bpy.context.scene
