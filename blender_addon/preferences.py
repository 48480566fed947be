"""Add-on preferences: which face model and directions, where frames are cached, on what device."""

import os
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import AddonPreferences

from .rig import DEFAULT_MODEL, RigPaths, resolve_paths

PACKAGE = __package__


class LATENT_EMOTION_AP_preferences(AddonPreferences):
    bl_idname = PACKAGE

    __annotations__ = {
        "model_path": StringProperty(
            name="Model", subtype="FILE_PATH", default="",
            description="Face generator: ours (.safetensors), an NVIDIA StyleGAN2-ADA network pickle (.pkl) or a "
                        "rosinality stylegan2-pytorch checkpoint (.pt). Empty: the default model"),
        "directions_path": StringProperty(
            name="Directions", subtype="FILE_PATH", default="",
            description="Emotion directions learned for this model (.json). Empty: directions.json next to the model"),
        "device": EnumProperty(
            name="Device", default="auto",
            description="Where the generator runs for previews, bakes and renders. A GPU's frames differ in "
                        "the last bits from the CPU's, so the frame cache keeps them apart",
            items=[("auto", "Automatic", "CUDA, then Apple Metal, then the CPU"),
                   ("cpu", "CPU", "Always the CPU"),
                   ("cuda", "CUDA", "An NVIDIA GPU"),
                   ("mps", "Apple Metal", "The GPU of an Apple Silicon Mac")]),
        "engine": EnumProperty(
            name="Frame Engine", default="auto",
            description="What makes frames on the CPU. ONNX Runtime is about twice as fast on the default model "
                        "(the model is exported once, a few seconds, and kept in the cache folder); its frames "
                        "differ by at most 1/255 and are cached apart",
            items=[("auto", "Automatic", "ONNX Runtime on the CPU where it is installed and the model exports; "
                    "else PyTorch"),
                   ("torch", "PyTorch", "The generator itself (also on a GPU)"),
                   ("onnx", "ONNX Runtime", "The exported generator on the CPU")]),
        "cache_dir": StringProperty(
            name="Cache Folder", subtype="DIR_PATH", default="",
            description="Where computed frames and the faces' image sequences are kept. Empty: the extension's "
                        "user folder"),
        "cache_limit_gb": FloatProperty(
            name="Frame Cache Limit", default=4.0, min=0.0, soft_max=200.0, precision=2,
            description="Gigabytes of computed frames to keep; past it the least recently used go, after a bake "
                        "and when a file opens (never the frames a face or strip shows). 0: no limit"),
        "preview_resolution": IntProperty(
            name="Preview Resolution", subtype="PIXEL", default=256, min=0, max=4096,
            description="Size of the frames 'Bake Preview' puts in the viewport and sequencer (0: full size); "
                        "renders always use the full size"),
        "lowres_previews": BoolProperty(
            name="Low-Resolution Previews", default=True,
            description="Previews of a model bigger than the preview resolution stop its synthesis at a smaller "
                        "block (a fraction of the time; not the full frame scaled down). Off: full frames, scaled"),
    }

    def draw(self, context):
        layout = self.layout
        from .install import draw_install

        draw_install_needed = draw_install(layout)
        if draw_install_needed:
            layout.separator()
        col = layout.column()
        col.prop(self, "model_path")
        if not self.model_path and not os.environ.get("LATENT_EMOTION_MODEL"):
            col.label(text="Default model: " + ("included" if DEFAULT_MODEL.is_file() else "not installed — "
                                                "choose a model file"), icon="INFO")
        col.prop(self, "directions_path")
        if not draw_install_needed:
            col.operator("latent_emotion.learn_directions", icon="LIGHT")  # learn.LATENT_EMOTION_OT_learn_directions
        col.prop(self, "device")
        col.prop(self, "engine")
        col.prop(self, "cache_dir")
        col.label(text=f"Frames are cached in {user_cache_dir()} (unless a scene names its own folder)")
        col.prop(self, "cache_limit_gb")
        col.prop(self, "preview_resolution")
        col.prop(self, "lowres_previews")


def get() -> LATENT_EMOTION_AP_preferences | None:
    addon = bpy.context.preferences.addons.get(PACKAGE)
    return addon.preferences if addon is not None else None


def rig_paths() -> RigPaths:
    """The model, directions and device chosen (RigError when there is none)."""
    prefs = get()
    model = bpy.path.abspath(prefs.model_path) if prefs and prefs.model_path else ""
    directions = bpy.path.abspath(prefs.directions_path) if prefs and prefs.directions_path else ""
    return resolve_paths(model, directions, prefs.device if prefs else "auto", *rig_engine())


def rig_engine() -> tuple[str, Path]:
    """The frame engine chosen, and where its exported graphs are cached (the user cache folder)."""
    prefs = get()
    return (prefs.engine if prefs else "auto"), user_cache_dir() / "graphs"


SCENE_CACHE = "latent_emotion_cache"  # on a scene: its own cache folder (properties.register)


def scene_cache_dir(scene=None) -> Path | None:
    """The scene's own cache folder (``//`` relative to the .blend: shared storage on a render farm),
    or None when it has none. ``scene``: default the context's."""
    scene = scene if scene is not None else getattr(bpy.context, "scene", None)
    folder = getattr(scene, SCENE_CACHE, "") if scene is not None else ""
    return Path(os.path.normpath(bpy.path.abspath(folder))) if folder else None


def user_cache_dir() -> Path:
    """The preferences' cache folder, else $LATENT_EMOTION_CACHE, else the extension's user folder."""
    prefs = get()
    if prefs is not None and prefs.cache_dir:
        return Path(bpy.path.abspath(prefs.cache_dir)).resolve()
    if os.environ.get("LATENT_EMOTION_CACHE"):
        return Path(os.environ["LATENT_EMOTION_CACHE"]).resolve()
    return Path(bpy.utils.extension_path_user(PACKAGE, path="cache", create=True))


def cache_dir(scene=None) -> Path:
    """Where ``scene``'s frames are cached: its own folder (``scene_cache_dir``), else ``user_cache_dir``."""
    return scene_cache_dir(scene) or user_cache_dir()


def frames_dir(scene=None) -> Path:
    """The frame cache (``backend.rendering.frame_cache.FrameCache`` root) of ``scene`` (default: the context's)."""
    return cache_dir(scene) / "frames"


def sequences_dir(scene=None) -> Path:
    """Where each face's image sequence folder is made."""
    return cache_dir(scene) / "sequences"


def cache_limit_bytes() -> int:
    """The frame cache's size limit in bytes; 0: none."""
    prefs = get()
    return int(prefs.cache_limit_gb * 2**30) if prefs is not None else 0


def preview_resolution() -> int:
    prefs = get()
    return prefs.preview_resolution if prefs is not None else 0


def lowres_previews() -> bool:
    prefs = get()
    return prefs.lowres_previews if prefs is not None else False


CLASSES = (LATENT_EMOTION_AP_preferences,)
