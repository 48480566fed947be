"""The training loop: steps until a budget or a signal, with checkpoints and a JSONL log."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from backend.model.generator import Generator, images_from_uint8
from backend.readers.probe import FaceProbe
from lab.fit.checkpoint import CHECKPOINT_NAME, save_checkpoint
from lab.fit.data import TargetSource, eval_latents, identity_pool
from lab.fit.fidelity import channel_response, expression_fidelity
from lab.fit.loss import LossParts
from lab.fit.state import FitResult, FitState, evaluate, train_step

LOG_NAME = "log.jsonl"


@dataclass
class _Log:
    """Progress lines to a stream and, as JSON objects, to a JSONL file."""

    path: Path | None
    stream: TextIO | None = field(default_factory=lambda: sys.stdout)

    def write(self, event: str, text: str, **values: Any) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"event": event, "time": round(time.time(), 3), **values}) + "\n")


@contextlib.contextmanager
def _stop_on_signals(enabled: bool) -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM while inside, so that the loop stops between steps."""
    stop = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def fit(state: FitState, run_dir: str | os.PathLike[str], *, minutes: float | None = None,
        max_steps: int | None = None, checkpoint_minutes: float = 5.0, log_seconds: float = 30.0,
        handle_signals: bool = True, stream: TextIO | None = sys.stdout,
        on_step: Callable[[FitState, LossParts], None] | None = None,
        fidelity_probe: FaceProbe | None = None, source: TargetSource | None = None,
        measure: Callable[[Generator], tuple[str, dict[str, Any]]] | None = None) -> FitResult:
    """Train until ``minutes`` of training time or ``max_steps`` steps (both counted over all
    sessions of the run) or SIGINT/SIGTERM; checkpoints to ``run_dir`` every ``checkpoint_minutes``
    and at the end, and logs to ``run_dir/log.jsonl``. With ``fidelity_probe`` (the features
    probe) each checkpoint also logs how much of each channel G_ema draws (``lab.fit.fidelity``:
    the probe's reading, and the response of 16 held-out faces and, in a fit with fixed people,
    of those people's faces). ``source`` gives the targets in place of the procedural renderer
    (anything with ``TargetSource``'s ``batch``, ``render`` and ``close``, e.g. a teacher
    generator, ``lab.standin``); the fit closes it at the end. ``measure`` (G_ema → a line and a
    dict) adds the caller's own measures to each checkpoint's log line and entry (``measure``)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = _Log(run_dir / LOG_NAME, stream)
    cfg = state.config
    z_eval = torch.from_numpy(eval_latents(cfg))
    source = TargetSource(cfg) if source is None else source
    try:
        images_eval, regions_eval = source.render(z_eval.numpy())
    except BaseException:
        source.close()
        raise
    target_eval = images_from_uint8(images_eval)
    region_eval = None if regions_eval is None else torch.from_numpy(regions_eval)
    log.write("start", f"start at step {state.step} ({state.nimg} images, {state.seconds / 60:.1f} min trained)",
              step=state.step, nimg=state.nimg, minutes=state.seconds / 60, config=cfg.to_dict())

    def done() -> str | None:
        if max_steps is not None and state.step >= max_steps:
            return "steps"
        if minutes is not None and state.seconds >= minutes * 60:
            return "minutes"
        return None

    def checkpoint() -> LossParts:
        ev = evaluate(state.G_ema, z_eval, target_eval, cfg.loss, probe=state.probe, regions=region_eval,
                      faces=state.faces)
        save_checkpoint(state, run_dir / CHECKPOINT_NAME)
        extra: dict[str, Any] = {}
        text = ""
        if fidelity_probe is not None:
            fid = expression_fidelity(state.G_ema, cfg.prior, fidelity_probe, z_eval.numpy(), rendered=images_eval)
            response = channel_response(state.G_ema, cfg.prior, z_eval.numpy()[:16])
            extra["fidelity"] = dataclasses.asdict(fid)
            extra["response"] = dataclasses.asdict(response)
            text = (f"; channels drawn: mean r {sum(fid.r_generated) / len(fid.r_generated):.3f} "
                    f"(renders {sum(fid.r_rendered) / len(fid.r_rendered):.3f}), "
                    f"identity cosine {fid.identity_cosine:.3f}; response {response.line()}")
            if cfg.identities > 0:  # the fixed people's own faces: what the pinned share taught
                pool = identity_pool(cfg, state.step)
                seen = channel_response(state.G_ema, cfg.prior,
                                        cfg.prior.with_identities(z_eval.numpy()[:16], pool[np.arange(16) % len(pool)]))
                extra["response_fixed_people"] = dataclasses.asdict(seen)
                text += f"; fixed people {seen.line()}"
        if measure is not None:
            line, extra["measure"] = measure(state.G_ema)
            text += f"; {line}"
        log.write("checkpoint", f"checkpoint at step {state.step}: G_ema held-out loss {ev.total:.4f} "
                                f"(L1 {ev.full:.4f}){text}", step=state.step, nimg=state.nimg,
                  eval=dataclasses.asdict(ev), **extra)
        return ev

    window: list[LossParts] = []
    last_window: LossParts | None = None
    stopped_by = done()
    with _stop_on_signals(handle_signals) as stop, source:
        t_log = t_ckpt = time.monotonic()
        window_start_nimg, window_seconds = state.nimg, 0.0
        while stopped_by is None:
            t0 = time.monotonic()
            parts = train_step(state, *source.batch(state.step))
            dt = time.monotonic() - t0
            state.seconds += dt
            window_seconds += dt
            window.append(parts)
            if on_step is not None:
                on_step(state, parts)
            stopped_by = done() or ("signal" if stop.is_set() else None)
            now = time.monotonic()
            if now - t_log >= log_seconds or stopped_by is not None:
                last_window = LossParts.mean(window)
                rate = (state.nimg - window_start_nimg) / max(window_seconds, 1e-9)
                log.write("train", f"step {state.step:7d}  images {state.nimg:9d}  loss {last_window.total:.4f}  "
                                   f"L1 {last_window.full:.4f}  grad {last_window.gradient:.4f}  "
                                   + "".join(f"{name} {getattr(last_window, 'face_' + name):.4f}  "
                                             for name in cfg.loss.face_nets)
                                   + (f"adv {last_window.adversarial:.4f}  D {last_window.discriminator:.4f}  "
                                      f"r1 {last_window.r1:.4f}  " if cfg.loss.adversarial > 0 else "")
                                   + f"{rate:5.1f} img/s  "
                                   f"{state.seconds / 60:6.1f} min",
                          step=state.step, nimg=state.nimg, minutes=state.seconds / 60, img_per_s=rate,
                          loss=dataclasses.asdict(last_window))
                window, window_start_nimg, window_seconds, t_log = [], state.nimg, 0.0, now
            if now - t_ckpt >= checkpoint_minutes * 60 and stopped_by is None:
                checkpoint()
                t_ckpt = time.monotonic()
        ev = checkpoint()
    log.write("stop", f"stopped by {stopped_by} at step {state.step}", step=state.step, stopped_by=stopped_by)
    return FitResult(state.step, state.nimg, state.seconds / 60, stopped_by, last_window, ev)
