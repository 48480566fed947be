"""Faces from photos: GAN inversion and the face code file."""
