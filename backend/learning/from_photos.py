"""Directions the paper's way: labelled photos, inverted into the generator, then fitted and
calibrated as the self-labelled recipe does (Zhang & Pollett 2021, Sec. 3 stage 1)."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..animation.channels import CHANNEL_NAMES
from ..files import FileError, load_array, write_atomic
from ..jobs import Cancel, Progress, check_cancel
from ..model.generator import Generator
from .calibration import finite_mean
from .labels import SIGNED_CHANNEL, LabeledLatents, Reader, Thresholds
from .self_labelled import GeneratorDirections, LearnSettings, fit_and_calibrate

PHOTO_LABELS: tuple[str, ...] = (*CHANNEL_NAMES, "neutral", "head_turn_left")


PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


PHOTO_CLASSES = Thresholds(positive=0.5, negative=0.0, turn=0.5)  # labels are exactly 0 or ±1


def labelled_photos(root: str | Path) -> list[tuple[Path, str]]:
    """(photo, label) for every image in ``root``'s sub-folders, each named for its label:
    a channel (``joy/`` …, ``head_turn/`` for right), ``head_turn_left/`` or ``neutral/``."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder of labelled photos")
    out: list[tuple[Path, str]] = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name not in PHOTO_LABELS:
            raise ValueError(f"{sub}: a folder must be named for its label, one of {', '.join(PHOTO_LABELS)}")
        out += [(f, sub.name) for f in sorted(sub.iterdir()) if f.suffix.lower() in PHOTO_SUFFIXES]
    if not out:
        raise ValueError(f"{root}: no photos ({', '.join(PHOTO_SUFFIXES)}) in sub-folders named for their labels")
    return out


def photo_values(labels: Sequence[str]) -> np.ndarray:
    """(N, 9) exact channel values of labels: 1 on the label's channel (head_turn_left: −1)."""
    values = np.zeros((len(labels), len(CHANNEL_NAMES)), np.float32)
    for i, label in enumerate(labels):
        if label == "head_turn_left":
            values[i, CHANNEL_NAMES.index(SIGNED_CHANNEL)] = -1.0
        elif label != "neutral":
            values[i, CHANNEL_NAMES.index(label)] = 1.0
    return values


@dataclass(frozen=True)
class PhotoLatents:
    """Labelled photos inverted into W."""

    data: LabeledLatents
    aligned: np.ndarray  # (N, res, res, 3) uint8, the aligned photos
    labels: tuple[str, ...]
    made: int  # photos inverted in this run (the others were stored)


def photo_latents(G: Generator, photos: Sequence[tuple[Path, str]], work: str | Path, *, fingerprint: str,
                  steps: int = 100, aligned: bool = False, features: bool = True, seed: int = 0,
                  progress: Progress | None = None, cancel: Cancel | None = None) -> PhotoLatents:
    """Each photo detected, FFHQ-aligned (or taken as ``aligned``) and inverted into W (``steps``
    steps; pixels plus, with ``features``, face-api's identity, expression and landmark features:
    ``backend.photos.face_code``); stored per photo (by its sha256) under ``work`` as it is made."""
    from ..photos.face_code import FEATURE_WEIGHT, FaceFeatures, central_box, fit_to_resolution, photo_face, read_photo
    from ..photos.inversion import invert_batch

    res = G.config.img_resolution
    text = json.dumps({"fingerprint": fingerprint, "steps": steps, "aligned": aligned, "features": features,
                       "seed": seed}, sort_keys=True)
    folder = Path(work) / f"photos-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    readers = face_features = None
    latents, errors, crops, labels = [], [], [], []
    made = 0
    for i, (path, label) in enumerate(photos):
        check_cancel(cancel, f"inversion cancelled after {i} of {len(photos)} photos (stored; a rerun resumes)")
        image, sha = read_photo(path)
        stored = folder / f"{sha}.npz"
        try:
            f = load_array(stored)
            w, mae, crop = f["w"], float(f["pixel_mae"]), f["aligned"]
            if w.shape != (G.w_dim,) or crop.shape != (res, res, 3) or crop.dtype != np.uint8:
                raise ValueError(f"{stored}: not this run's inversion")  # made again
        except (FileError, KeyError, TypeError, IndexError, ValueError):
            if aligned:
                crop, box = fit_to_resolution(image, res), central_box(res)
            else:
                if readers is None:
                    from ..readers.reading import FaceReaders

                    readers = FaceReaders(crop_size=res, device=str(G.device))
                try:
                    face = photo_face(image, res, None, readers)
                except ValueError as e:
                    raise ValueError(f"{path}: {e}") from None
                crop, box = face.aligned, face.box
            if features:
                face_features = face_features or FaceFeatures(box, G.device)
                face_features.box = box
            r = invert_batch(G, crop[None], space="w", steps=steps, features=face_features if features else None,
                             feature_weight=FEATURE_WEIGHT, seed=seed)
            w, mae = r.w_plus[0, 0], float(r.pixel_mae[0])
            buffer = io.BytesIO()
            np.savez(buffer, w=w, pixel_mae=np.float32(mae), aligned=crop)
            write_atomic(stored, buffer.getvalue())
            made += 1
        latents.append(w)
        errors.append(mae)
        crops.append(crop)
        labels.append(label)
        if progress is not None:
            progress("inverting photos", i + 1, len(photos))
    n = len(latents)
    data = LabeledLatents(np.stack(latents) if n else np.zeros((0, G.w_dim), np.float32), photo_values(labels),
                          "inversion", np.asarray(errors, np.float32))
    return PhotoLatents(data, np.stack(crops) if n else np.zeros((0, res, res, 3), np.uint8), tuple(labels), made)


def photo_targets(read: Reader, result: PhotoLatents) -> np.ndarray:
    """(9,) the labeller's mean reading of each channel on that channel's own photos (head turn:
    the right-turned ones): what value 1.0 should read as. NaN for a channel without photos."""
    out = np.full(len(CHANNEL_NAMES), np.nan)
    labels = np.asarray(result.labels)
    for c, name in enumerate(CHANNEL_NAMES):
        mine = labels == name
        if mine.any():
            out[c] = float(finite_mean(read(result.aligned[mine]).values[:, c]))
    return out


def learn_photo_directions(G: Generator, fingerprint: str, photos_root: str | Path, read: Reader, work: str | Path,
                           settings: LearnSettings = LearnSettings(), *, steps: int = 100, aligned: bool = False,
                           features: bool = True, reader_name: str = "labeller",
                           progress: Progress | None = None,
                           cancel: Cancel | None = None) -> GeneratorDirections:
    """The paper's way: labelled photos (``labelled_photos``) inverted into W (``photo_latents``),
    then the same fit, orthogonalisation and calibration as the self-labelled recipe, with value
    1.0 reading as the channel's own photos do."""
    t = time.perf_counter()
    photos = photo_latents(G, labelled_photos(photos_root), work, fingerprint=fingerprint, steps=steps,
                           aligned=aligned, features=features, seed=settings.seed,
                           progress=progress, cancel=cancel)
    seconds = {"inversion": time.perf_counter() - t}
    return fit_and_calibrate(G, fingerprint, photos.data, PHOTO_CLASSES, photo_targets(read, photos), read,
                             settings, seconds=seconds, drawn=len(photos.labels), made=photos.made,
                             reader_name=reader_name,
                             target_name="the mean reading of its photos", progress=progress, cancel=cancel)
