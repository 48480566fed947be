"""Every operator that changes the .blend (keys, faces, settings) is undoable; those that are not say
why in their class (they write files or the preferences, which Blender's undo does not hold)."""

from __future__ import annotations
from .harness import script

OPERATORS = script("undo_operators")

# Not undoable, each with its reason in the class: bake and Learn Directions write files (and Learn
# Directions the preferences); installing packages writes the extension's user folder.
NOT_UNDOABLE = {"latent_emotion.bake", "latent_emotion.learn_directions", "latent_emotion.install_dependencies",
                "latent_emotion.cancel_install"}


def test_operators_that_change_the_blend_are_undoable_and_the_others_say_why(shared_blender):
    out = shared_blender.run(OPERATORS)
    options = out["options"]
    assert {"latent_emotion.relink", "latent_emotion.describe", "latent_emotion.import_script",
            "latent_emotion.face_from_photo", "latent_emotion.key_from_video", "latent_emotion.add_face",
            "latent_emotion.add_strip", "latent_emotion.sync_channels"} <= set(options)
    for idname, opts in options.items():
        if idname in NOT_UNDOABLE:
            assert "UNDO" not in opts
            continue
        assert "UNDO" in opts, f"{idname} changes the .blend but is not undoable"
    for idname in ("latent_emotion.bake", "latent_emotion.learn_directions"):
        assert "not UNDO" in out["sources"][idname] or "Not undoable" in out["sources"][idname], idname
