"""The budget options the training scripts share: ``--minutes``, ``--steps`` and ``--threads``."""

from __future__ import annotations

import argparse


def add_budget_options(p: argparse.ArgumentParser, scope: str = "") -> None:
    """``--minutes`` and ``--steps`` (at least one is needed; ``scope`` ends their help) and ``--threads``."""
    p.add_argument("--minutes", type=float, default=None, help=f"training-time budget{scope}")
    p.add_argument("--steps", type=int, default=None, help=f"step budget{scope}")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")


def apply_budget_options(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a run without a budget; set torch's thread count when ``--threads`` is given."""
    if args.minutes is None and args.steps is None:
        p.error("give --minutes and/or --steps")
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
