"""Test-only stand-in for the ``dnnlib.util`` module name used in NVIDIA pickles.

Independent re-implementation written for the Latent Emotion test-suite; it only
provides what a stylegan2-ada-pytorch network pickle refers to by name.
"""


class EasyDict(dict):
    """A plain ``dict`` whose keys can also be read and written as attributes."""

    def __getattr__(self, key):
        if key in self:
            return self[key]
        raise AttributeError(key)

    def __setattr__(self, key, value):
        self[key] = value

    def __delattr__(self, key):
        try:
            del self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc
