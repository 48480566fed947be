"""Latent Emotion: keyframe facial emotions on a face and get frames of a StyleGAN face performing them.

Modules (this package is the Blender layer; ``backend/`` is the pure Python core it ships with):

- ``compat``: the one place for differences between Blender versions;
- ``dependencies``, ``install``: finding the backend's packages, installing them;
- ``preferences``: model, directions, device, cache folder;
- ``properties``: the ``latent_emotion`` settings of faces (channels, seed, tuning);
- ``faces``: making face planes and strips; ``targets``: reading faces for baking;
- ``rig``: the loaded generator + directions; ``baking``: cached frames → image sequences;
- ``jobs``: bake jobs from the preferences; ``handlers``: baking frames as a render needs them;
- ``preview``: the live preview while scrubbing;
- ``worker``: the one thread for generator work, a scheduler that knows no feature (no bpy); each job it
  runs lives beside its feature, bpy-free: ``preview_job``, ``baking.BakeOrder``, ``capture_job``,
  ``photo_job``, ``learn_job``;
- ``records``: the generator and directions each face was made with, checked before rendering;
- ``keyframes``, ``script_import``: keying channels and emotion scripts; ``capture``: keys from a video;
  ``describe``: keys from a description in plain English; ``photo``: a face's start from a photo;
  ``learn``: Learn Directions for the chosen model;
- ``operators``, ``ui``: what the user clicks; ``api``: the same for scripts.

Only ``register``/``unregister`` need Blender: the bpy-free modules (worker, the ``*_job`` modules,
baking, rig, state, paths) import without it, so plain unit tests reach them.
"""

from . import paths

paths.use_source_backend(__package__)  # a developer install: the repository's backend/ (README.md)

from .state import STATE  # noqa: E402


def _classes() -> tuple:
    """Every class the add-on registers, in registration order."""
    from . import capture, describe, install, learn, operators, photo, preferences, script_import, ui

    return (*preferences.CLASSES, *install.CLASSES, *operators.CLASSES, *script_import.CLASSES, *capture.CLASSES,
            *describe.CLASSES, *photo.CLASSES, *learn.CLASSES, *ui.CLASSES)


def register() -> None:
    import bpy

    from . import dependencies

    # Before anything imports a backend package: installed packages live in the user folder.
    dependencies.add_site_packages(__package__)
    dependencies.missing(refresh=True)
    from .backend.model.threads import prepare_openmp

    prepare_openmp()  # before torch starts: OpenMP threads waiting for work sleep instead of spinning

    from . import handlers, preview, properties, ui

    properties.register()
    for cls in _classes():
        bpy.utils.register_class(cls)
    ui.register_menus()
    handlers.register()
    preview.register()


def unregister() -> None:
    import bpy

    from . import dependencies, handlers, install, operators, preview, properties, rig, ui

    operators.stop_modal()
    install.stop()
    preview.unregister()  # before the rig is dropped: its thread may be using it
    handlers.unregister()
    ui.unregister_menus()
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
    properties.unregister()
    rig.forget_rig()
    STATE.reset()
    dependencies.remove_site_packages()
