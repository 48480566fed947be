"""Test-only stand-in for NVIDIA's ``torch_utils`` package (see tests/reference/README.md)."""
