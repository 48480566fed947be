"""Test-only stand-in for NVIDIA's ``training`` package (see tests/reference/README.md)."""
