"""Test-only re-implementation of the stylegan2-ada-pytorch persistence wire format.

Written independently for the Latent Emotion test-suite (see tests/reference/README.md);
this is not NVIDIA's code.  What matters is that an object pickled through
``persistent_class`` produces the same pickle stream shape as NVIDIA's:

    REDUCE(torch_utils.persistence._reconstruct_persistent_obj, (meta,))
    meta = {'type': 'class', 'version': 6, 'module_src': <source of the defining
            module>, 'class_name': <class name>, 'state': <object state>}

where ``state`` is the third element of the reduction the undecorated class would
have produced (for ``torch.nn.Module`` that is its ``__getstate__()`` dict).

Unpickling rebuilds the class from ``module_src``; if that source text belongs to a
module already imported in this process the live module is reused, otherwise the
text is executed into a fresh module (acceptable here because this is test-only
code that only ever reads pickles it wrote itself).
"""

import copy
import inspect
import io
import pickle
import sys
import types
import uuid

import dnnlib

# Format version written into every ``meta`` dict; NVIDIA's reader asserts equality.
_version = 6

_persistent_classes = set()   # every decorated class created so far
# Test-only extension (not part of the original format): when set, a callable applied
# to every object's state before it is written, e.g. to mimic older torch versions.
state_transform = None
_source_by_module = {}        # module object -> its source text
_module_by_source = {}        # source text -> module object

__all__ = ["persistent_class", "is_persistent", "_reconstruct_persistent_obj"]


def is_persistent(obj):
    """True for a decorated class or for an instance of one."""
    if isinstance(obj, type) and obj in _persistent_classes:
        return True
    return type(obj) in _persistent_classes


def _source_of(module):
    text = _source_by_module.get(module)
    if text is None:
        text = inspect.getsource(module)
        _source_by_module[module] = text
        _module_by_source[text] = module
    return text


def _module_from_source(text):
    module = _module_by_source.get(text)
    if module is not None:
        return module
    name = "_imported_module_" + uuid.uuid4().hex
    module = types.ModuleType(name)
    sys.modules[name] = module
    _source_by_module[module] = text
    _module_by_source[text] = module
    exec(compile(text, "<persistent module " + name + ">", "exec"), module.__dict__)  # test-only
    return module


def _assert_pickleable(value):
    """Cheap constructor-time check in the same spirit as the original: everything that
    is not a container, primitive, tensor/ndarray or persistent object is pickled for real."""
    def strip(item):
        if isinstance(item, (list, tuple, set)):
            return [strip(x) for x in item]
        if isinstance(item, dict):
            return [[strip(k), strip(v)] for k, v in item.items()]
        if item is None or isinstance(item, (str, bytes, bytearray, bool, int, float)):
            return None
        kind = type(item).__module__ + "." + type(item).__name__
        if kind in ("torch.Tensor", "numpy.ndarray") or is_persistent(item):
            return None
        return item
    with io.BytesIO() as sink:
        pickle.dump(strip(value), sink)


def persistent_class(cls):
    """Class decorator: instances remember their constructor arguments and pickle as
    ``_reconstruct_persistent_obj(meta)`` (see module docstring)."""
    assert isinstance(cls, type)
    if is_persistent(cls):
        return cls
    home = sys.modules[cls.__module__]
    home_source = _source_of(home)
    plain_name = cls.__name__

    class Persistent(cls):
        _orig_module_src = home_source
        _orig_class_name = plain_name

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._init_args = copy.deepcopy(args)
            self._init_kwargs = copy.deepcopy(kwargs)
            assert plain_name in home.__dict__
            _assert_pickleable(self.__reduce__())

        @property
        def init_args(self):
            return copy.deepcopy(self._init_args)

        @property
        def init_kwargs(self):
            return dnnlib.EasyDict(copy.deepcopy(self._init_kwargs))

        def __reduce__(self):
            # Start from what the undecorated class would do and keep its state part.
            default = tuple(super().__reduce__())
            if default and default[0] is _reconstruct_persistent_obj:
                return default
            state = default[2] if len(default) > 2 else None
            if state_transform is not None:
                state = state_transform(state)
            meta = dict(
                type="class",
                version=_version,
                module_src=self._orig_module_src,
                class_name=self._orig_class_name,
                state=state,
            )
            tail = default[3:]
            return (_reconstruct_persistent_obj, (meta,), None) + tail

    Persistent.__name__ = plain_name
    _persistent_classes.add(Persistent)
    return Persistent


def _reconstruct_persistent_obj(meta):
    meta = dnnlib.EasyDict(meta)
    meta.state = dnnlib.EasyDict(meta.state)
    assert meta.type == "class"
    assert meta.version == _version
    module = _module_from_source(meta.module_src)
    cls = persistent_class(module.__dict__[meta.class_name])
    obj = cls.__new__(cls)
    setstate = getattr(obj, "__setstate__", None)
    if callable(setstate):
        setstate(meta.state)
    else:
        obj.__dict__.update(meta.state)
    return obj
