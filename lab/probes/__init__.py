"""Making the probes (``backend.readers.probe``) on procedural renders: ``data`` (batches and
augmentation), ``training`` (roles, loss, loop) and ``evaluation`` (held-out scores)."""

from lab.probes.data import HELDOUT_SEED, ProbeBatch, augment, heldout_batch, render_probe_batch, training_batch
from lab.probes.evaluation import ProbeScores, evaluate_probe
from lab.probes.training import PROBE_ROLES, ProbeLoss, ProbeTrainLog, probe_learning_rate, probe_loss, train_probe

__all__ = [
    "HELDOUT_SEED", "PROBE_ROLES", "ProbeBatch", "ProbeLoss", "ProbeScores", "ProbeTrainLog", "augment",
    "evaluate_probe", "heldout_batch", "probe_learning_rate", "probe_loss", "render_probe_batch", "train_probe",
    "training_batch",
]
