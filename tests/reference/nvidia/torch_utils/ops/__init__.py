"""Test-only pure-PyTorch versions of the resampling / activation helpers used by
tests/reference/nvidia/training/networks.py (independent re-implementation)."""
