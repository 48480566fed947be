"""Bake jobs for faces in a scene: the rig and frame cache from the preferences, one request per face."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import bpy

from . import compat, preferences
from .baking import BakeJob
from .faces import follow_ranges, point_at_folders, separate_duplicates
from .properties import settings_of, sync_extra_channels
from .rig import Rig, RigError, get_face_rig, get_rig
from .targets import displayed_range, frame_values, label, refresh_display, scene_targets, sequence_request


def open_cache(scene=None):
    """The frame cache of ``scene`` (its own folder, else the preferences')."""
    from .backend.rendering.frame_cache import FrameCache

    return FrameCache(preferences.frames_dir(scene))


def load_rig() -> Rig:
    """The rig of the preferences (RigError says what is missing)."""
    return get_rig(preferences.rig_paths())


def targets_rig(targets: Sequence) -> Rig:
    """The one rig ``targets`` render with (each face's recorded files, ``records``; checked against
    its fingerprints). RigError when a file is missing or another, or when the faces record
    different generators (one job computes with one generator: bake those faces one at a time)."""
    from .records import face_rig

    rigs = [face_rig(t) for t in targets]
    if not rigs:
        return load_rig()
    others = [r for r in rigs if r.paths != rigs[0].paths]
    if others:
        raise RigError(f"{rigs[0].label} and {others[0].label} use different generator or directions files "
                       f"({rigs[0].paths.model.name} and {others[0].paths.model.name}): bake them one at a time")
    rig = get_face_rig(rigs[0])
    for r in rigs[1:]:
        r.check(rig)
    return rig


def bake_range(target, scene: bpy.types.Scene) -> range:
    """The frames a bake covers by default: where the face shows its frames, within the scene's range."""
    first, last = displayed_range(target, scene)
    return range(max(first, scene.frame_start), min(last, scene.frame_end) + 1)


def file_size(settings, rig: Rig, preview_size: int = 0) -> int:
    """Size of a face's files: ``preview_size`` where smaller than its final size, else its own (0: the model's)."""
    final_size = settings.resolution or rig.resolution
    return preview_size if 0 < preview_size < final_size else settings.resolution


def synthesis_size(settings) -> int:
    """The size a face's preview synthesis may stop at (``SequenceRequest.preview_size``): the
    preferences' preview resolution, or the face's own where smaller; 0 when low-resolution previews
    are off (previews are then full frames scaled down)."""
    size = preferences.preview_resolution()
    if not size or not preferences.lowres_previews():
        return 0
    return min(size, settings.resolution) if settings.resolution else size


def make_job(scene: bpy.types.Scene, targets: Sequence, frames: Iterable[int] | None = None, *,
             preview: bool = False, rig: Rig | None = None, interactive: bool = False,
             values_of: Callable | None = None) -> BakeJob:
    """A job baking ``frames`` (default: ``bake_range``) of each target.

    ``interactive``: called from the UI or a script on the main thread, so channel values come from
    stepping the scene where drivers or NLA strips count (``frame_values``) and the faces' extra
    channels may be added to. ``values_of(target, frames)``: the channel values otherwise (render
    handlers read what Blender evaluated); default: the F-curves.
    """
    rig = rig or targets_rig(targets)
    if interactive:
        from .records import fill_fingerprints

        for target in targets:
            fill_fingerprints(target, rig)
        separate_duplicates(scene)
        point_at_folders(scene)
        follow_ranges(scene)
        values_of = values_of or (lambda target, shown: frame_values(scene, target, shown))
    requests = []
    preview_files = preferences.preview_resolution() if preview else 0
    for target in targets:
        settings = settings_of(target)
        if interactive:
            sync_extra_channels(settings, rig.extra_channels)
            if compat.is_strip(target) and settings.name != target.name:
                settings.name = target.name  # the Graph Editor shows strip channels by this name
        span = list(frames) if frames is not None else list(bake_range(target, scene))
        size = file_size(settings, rig, preview_files)
        of_target = None if values_of is None else (lambda shown, t=target: values_of(t, shown))
        req = sequence_request(target, span, resolution=size, values_of=of_target,
                               preview_size=synthesis_size(settings) if preview else 0)
        if req is not None:
            requests.append(req)
    return BakeJob(rig, open_cache(scene), requests)


def finish(job: BakeJob, scene: bpy.types.Scene) -> None:
    """Show the new files (main thread, never during a render), then keep the cache within its limit.
    Faces are looked up again by name: references held since the job began may have been freed by an undo."""
    labels = {req.label for i, req in enumerate(job.requests) if i in job.changed}
    for target in scene_targets(scene):
        if label(target) in labels:
            refresh_display(target)
    prune_cache()


def shown_keys() -> set[str]:
    """Keys of the frames any face's folder holds (every folder under the preferences' cache's
    ``sequences/``: the faces of other .blend files too)."""
    from .baking import INDEX_NAME, SequenceIndex

    keys: set[str] = set()
    for index_file in (preferences.user_cache_dir() / "sequences").glob(f"*/{INDEX_NAME}"):
        keys.update(entry.get("key", "") for entry in SequenceIndex(index_file.parent).entries.values())
    return keys


def prune_cache() -> int:
    """Delete the least recently used frames of the preferences' cache past their limit, never a
    frame a face shows; how many were deleted. A scene's own folder (shared storage, written by
    several farm workers at once) is never pruned here: the studio manages it."""
    from .backend.rendering.frame_cache import FrameCache

    limit = preferences.cache_limit_bytes()
    if limit <= 0:
        return 0
    return FrameCache(preferences.user_cache_dir() / "frames").prune(limit, keep=shown_keys())
