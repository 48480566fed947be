"""Learn Directions' job on the worker: a model's directions learned, calibrated and written (no bpy here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .worker import WholeOrder


@dataclass(frozen=True)
class LearnedFile:
    """What a Learn Directions order wrote."""

    directions: Path
    report: Path
    samples: int  # drawn
    readable: int  # read by the reader (used)
    made: int  # made in this run (the rest came from the work folder)
    skipped: tuple[tuple[str, str], ...]  # (channel, why) left without a direction
    channels: tuple[str, ...] = ()  # the channels the file has

    @property
    def missing(self) -> tuple[str, ...]:
        """Built-in channels the file has no direction for (a face keyed with them would not bake)."""
        from .backend.animation.channels import CHANNEL_NAMES

        return tuple(name for name in CHANNEL_NAMES if name not in self.channels)


@dataclass(eq=False)
class LearnOrder(WholeOrder):
    """learn-directions (``backend.learning.self_labelled``) for a model, samples stored in ``work``
    as they are made (a cancelled run resumes), ``done`` of ``total`` in ``stage`` (``Cancelled``)."""

    model: Path
    device: str
    reader: str  # "faces" or "probe:PATH" (backend.learning.readers.reader_from_spec)
    out: Path
    work_dir: Path
    samples: int
    faces: int
    stage: str = ""

    def work(self) -> LearnedFile:
        return learn_directions(self)


def learn_directions(order: LearnOrder) -> LearnedFile:
    """Learn, calibrate and write ``order``'s directions file and its report (worker only: no bpy)."""
    import json

    from .backend.animation.directions import save_directions
    from .backend.files import write_atomic
    from .backend.learning.readers import reader_from_spec
    from .backend.learning.self_labelled import LearnSettings, learn_generator_directions, learning_report
    from .backend.model.checkpoints import load_generator
    from .backend.model.devices import pick_device
    from .backend.model.threads import use_threads_for

    G, info = load_generator(order.model, pick_device(order.device))
    if G.device.type == "cpu":
        use_threads_for(G.config)
    reader = reader_from_spec(order.reader, "labeller", str(G.device))
    settings = LearnSettings(samples=order.samples, faces=order.faces)

    def progress(stage: str, done: int, total: int) -> None:
        order.stage, order.done, order.total = stage, done, total

    result = learn_generator_directions(G, info.fingerprint, reader.read, reader.key, order.work_dir, settings,
                                        reader_name=order.reader, progress=progress, cancel=order.cancelled.is_set)
    save_directions(result.directions, order.out)
    report = order.out.with_name(order.out.name.removesuffix(".json") + ".report.json")
    write_atomic(report, json.dumps(learning_report(result, settings, model=str(order.model),
                                                    generator_fingerprint=info.fingerprint,
                                                    reader=reader.description, device=str(G.device),
                                                    work=str(order.work_dir)), indent=2) + "\n")
    return LearnedFile(order.out, report, result.samples, result.readable, result.made,
                       tuple(result.learned.skipped), result.directions.names)
