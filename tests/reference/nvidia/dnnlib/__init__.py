"""Test-only stand-in for NVIDIA's ``dnnlib`` package (see tests/reference/README.md)."""

from . import util
from .util import EasyDict

__all__ = ["EasyDict", "util"]
