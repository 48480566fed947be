"""The generator: StyleGAN2 synthesis, its tensor ops, checkpoint files (read safely), devices and threads."""
