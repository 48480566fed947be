"""Latent Emotion backend: StyleGAN2 synthesis and the latent maths behind emotion channels.

Plain Python, no Blender. Importing the package is cheap: torch and friends are imported by
the submodules that need them, so the Blender add-on can load (and offer to install the
dependencies) even where torch is missing.
"""

__version__ = "0.1.0"
