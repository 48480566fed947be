"""The preview's job on the worker: the frames one frame change needs, computed into the frame cache (no bpy here)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .baking import SequenceRequest
from .rig import FaceRig, RigError, get_face_rig


@dataclass(frozen=True)
class PreviewOrder:
    """The frames one frame change needs: what the faces show at ``frame`` of ``scene``."""

    scene: str
    frame: int
    rigs: Sequence[FaceRig]  # the generator and directions of each request's face
    cache_root: Path
    requests: Sequence[SequenceRequest]
    submitted: float = field(default_factory=time.perf_counter)

    def run(self) -> int:
        return compute_frames(self)


def compute_frames(order: PreviewOrder) -> int:
    """Load the faces' rigs (once) and compute the order's frames that the cache lacks; how many were computed."""
    from .backend.rendering.frame_cache import FrameCache

    cache = FrameCache(order.cache_root)
    computed = 0
    failed: RigError | None = None
    for face, req in zip(order.rigs, order.requests, strict=True):
        try:
            rig = get_face_rig(face)
            rig.use_threads()
            ws = rig.latents(req.face, req.values)
        except RigError as e:  # one face's wrong settings: the other faces still get their frames
            failed = failed or RigError(f"{req.label}: {e}")
            continue
        stop_at = rig.preview_stop(req.preview_size)
        target = rig.target_at(stop_at)
        missing = [w for w in ws if not cache.contains(target.key(w))]
        if missing:
            rig.ensure_frames(np.stack(missing), cache, stop_at)
            computed += len(missing)
    if failed is not None:
        raise failed  # reported by the main thread, after the others were made
    return computed
