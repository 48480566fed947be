"""The settings a face carries: one PropertyGroup (``LATENT_EMOTION_PG_face``) for objects and strips.

Paths animators see (Graph Editor, Dope Sheet, drivers), each channel shown by its label:

- a face object: ``latent_emotion.joy`` on the object — "Joy (Emotion)";
- a face strip: ``latent_emotion_strips[0].joy`` on the strip's scene — "Joy (<strip name>)". The
  settings of strip faces live in a collection on the scene and the strip holds the key of its
  item (``Strip.latent_emotion_face``). Blender cannot make a path to custom properties nested in
  a strip (``path_from_id`` fails there, so keying or driving them from the UI would fail), while
  scene data has ordinary paths; and strip F-curves belong on the scene's action anyway.

Channels that the directions file defines beyond the built-in nine are items of a collection:
``latent_emotion.extra[0].value``, shown as "Value (brow_raise)" (the item's name is the
channel's). Registering properties per directions file would break every saved F-curve when the
file changes; collection items are ordinary data: saved in the .blend, animatable, drivable, kept
with their keys when another directions file lacks them. Blender keys collection items by index,
so items (extra channels, strip faces) are only ever appended, never removed or reordered.
"""

import math
import uuid
from dataclasses import dataclass
from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, FloatProperty, IntProperty, PointerProperty, StringProperty
from bpy.types import PropertyGroup

from . import compat
from .backend.animation.channels import CHANNELS, VALUE_LIMIT
from .state import STATE, value_key

PROPERTY = "latent_emotion"  # the settings of a face object
SCENE_STRIPS = "latent_emotion_strips"  # the settings of the scene's face strips
STRIP_KEY = "latent_emotion_face"  # on a strip: the uid of its settings in SCENE_STRIPS
# On a face's settings: the W+ code Face from Photo made, flat, as an ID property (a float array of
# any length, saved in the .blend: no RNA vector property holds num_ws × w_dim values).
FACE_CODE = "photo_code"


def _edited(_settings, _context) -> None:
    """A face setting was edited (UI, console; not animation playback): the preview refreshes."""
    if STATE.on_face_edit is not None:
        STATE.on_face_edit()


def _channel_edited(prop: str):
    """The update of a channel property: a NaN (which Blender's limits let through, unlike ±inf,
    which they clamp) is refused — the channel goes back to 0 and the face's panel says why."""
    def update(struct, context) -> None:
        # The face's settings: the struct itself, or the one holding this extra channel.
        settings = struct if prop != "value" else struct.id_data.path_resolve(struct.path_from_id().rsplit(".extra", 1)[0])
        key, name = value_key(settings.uid), struct.name if prop == "value" else prop
        if math.isnan(getattr(struct, prop)):
            setattr(struct, prop, 0.0)  # calls this update again, with a number
            message = f"{name}: NaN is not a channel value (finite, within ±{VALUE_LIMIT:g}); set to 0"
            print(f"Latent Emotion: {message}", flush=True)
            STATE.set_error(key, message)
            return
        if (STATE.error_for(key) or "").startswith(f"{name}: "):  # this channel holds a number again
            STATE.set_error(key, None)
        _edited(struct, context)
    return update


def _channel_property(prop: str, label: str, description: str, minimum: float, maximum: float):
    """A channel: its slider spans [minimum, maximum], the shared policy (±VALUE_LIMIT) is its hard range."""
    return FloatProperty(name=label, description=description, default=0.0, soft_min=minimum, soft_max=maximum,
                         min=-VALUE_LIMIT, max=VALUE_LIMIT, precision=3, step=5, update=_channel_edited(prop))


class LATENT_EMOTION_PG_extra_channel(PropertyGroup):
    """A channel from the directions file; ``name`` is the channel's name."""

    __annotations__ = {
        "value": _channel_property("value", "Value", "Amount of this direction (1 = its calibrated strength)", -1.0, 1.0),
    }


class LATENT_EMOTION_PG_channel_tuning(PropertyGroup):
    """A face's change to one channel's direction; ``name`` is the channel's name."""

    __annotations__ = {
        "strength": FloatProperty(name="Strength", description="Multiplies the direction's calibrated strength",
                                  default=1.0, min=0.001, soft_max=3.0, options=set(), update=_edited),
        "use_layers": BoolProperty(name="Custom Layers", description="Add the direction to other W+ rows than "
                                   "the directions file says", default=False, options=set(), update=_edited),
        "layer_start": IntProperty(name="First Row", description="First W+ row the direction is added to",
                                   default=0, min=0, max=63, options=set(), update=_edited),
        "layer_stop": IntProperty(name="End Row", description="W+ row after the last one the direction is added to",
                                  default=8, min=1, max=64, options=set(), update=_edited),
    }


class LATENT_EMOTION_PG_face(PropertyGroup):
    """Emotion face settings: which face, at what size, and its animatable emotion channels."""

    __annotations__ = {
        "enabled": BoolProperty(name="Emotion Face", default=False, options=set()),
        "uid": StringProperty(name="Frames Folder ID", default="", options=set()),
        "seed": IntProperty(name="Seed", description="Which face: a seed of the generator", default=0, min=0,
                            max=2**31 - 1, options=set(), update=_edited),
        "truncation": FloatProperty(name="Truncation", description="Closer to the average face (0) or more varied "
                                    "(1)", default=0.7, min=0.0, max=1.0, options=set(), update=_edited),
        "resolution": IntProperty(name="Resolution", description="Size of the frames in pixels (0: the model's own)",
                                  default=0, min=0, max=8192, subtype="PIXEL", options=set(), update=_edited),
        "image": PointerProperty(name="Frames", type=bpy.types.Image, options=set(),
                                 description="The image sequence showing this face (objects only)"),
        **{c.name: _channel_property(c.name, c.label, c.description, c.minimum, c.maximum) for c in CHANNELS},
        "extra": CollectionProperty(name="Extra Channels", type=LATENT_EMOTION_PG_extra_channel),
        "tuning": CollectionProperty(name="Channel Tuning", type=LATENT_EMOTION_PG_channel_tuning),
        "use_photo": BoolProperty(name="Face from Photo", default=False, options=set(), update=_edited,
                                  description="Start from the code Face from Photo made (off: from the seed)"),
        "photo_path": StringProperty(name="Photo", default="", subtype="FILE_PATH", options=set(),
                                     description="The photo the face's code was inverted from"),
        "photo_fingerprint": StringProperty(name="Photo Code Model", default="", options=set(),
                                            description="Fingerprint of the face model the code was made for"),
        # The generator and directions this face was made with (records.py): paths as Blender stores
        # assets ("//" relative to the .blend where possible; "<default model>": the extension's own) and
        # their fingerprints. Empty: a face from before the record, which follows the preferences.
        "model_file": StringProperty(name="Generator", default="", options=set(),
                                     description="The face generator this face was made with"),
        "model_fingerprint": StringProperty(name="Generator Fingerprint", default="", options=set(),
                                            description="sha256 of the generator's weights"),
        "directions_file": StringProperty(name="Directions", default="", options=set(),
                                          description="The emotion directions this face was made with"),
        # The same files' absolute paths where they were recorded: looked at when the relative path
        # leads nowhere (the .blend moved without them); the fingerprints guard the file found there.
        "model_file_absolute": StringProperty(name="Generator (absolute)", default="", options=set()),
        "directions_file_absolute": StringProperty(name="Directions (absolute)", default="", options=set()),
        "directions_fingerprint": StringProperty(name="Directions Fingerprint", default="", options=set(),
                                                 description="sha256 of the directions"),
        "description_text": StringProperty(name="Description", default="", options=set(),
                                           description="What the face does, in plain English ('she smiles, then "
                                                       "looks surprised'): Describe keys it from the current frame"),
    }


CLASSES = (LATENT_EMOTION_PG_extra_channel, LATENT_EMOTION_PG_channel_tuning, LATENT_EMOTION_PG_face)
_ATTRIBUTES = ((bpy.types.Object, PROPERTY), (bpy.types.Scene, SCENE_STRIPS), (bpy.types.Scene, "latent_emotion_cache"),
               (compat.STRIP_TYPE, STRIP_KEY))


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Object.latent_emotion = PointerProperty(type=LATENT_EMOTION_PG_face, name="Latent Emotion")
    bpy.types.Scene.latent_emotion_strips = CollectionProperty(type=LATENT_EMOTION_PG_face,
                                                               name="Latent Emotion Strips")
    bpy.types.Scene.latent_emotion_cache = StringProperty(
        name="Frame Cache", subtype="DIR_PATH", default="", options=set(),
        description="This scene's folder for computed frames and the faces' image sequences, relative to the "
                    "file ('//le-cache/'): shared storage that every render-farm worker reads and writes. "
                    "Empty: the preferences' cache folder")
    setattr(compat.STRIP_TYPE, STRIP_KEY, StringProperty(name="Emotion Face", default="", options=set(),
                                                         description="Which emotion face this strip shows"))


def unregister() -> None:
    for owner, attribute in _ATTRIBUTES:
        if hasattr(owner, attribute):
            delattr(owner, attribute)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)


# --- helpers over the settings ------------------------------------------------------------------

def settings_of(owner) -> "LATENT_EMOTION_PG_face | None":
    """The face settings of an object or strip, or None when it is not an emotion face."""
    if compat.is_strip(owner):
        uid = getattr(owner, STRIP_KEY, "")
        if not uid:
            return None
        for settings in getattr(owner.id_data, SCENE_STRIPS, ()):
            if settings.uid == uid:
                return settings
        return None
    settings = getattr(owner, PROPERTY, None)
    return settings if settings is not None and settings.enabled else None


def face_settings(target) -> "LATENT_EMOTION_PG_face":
    """The face settings of ``target``; TypeError when it is not an emotion face."""
    settings = settings_of(target)
    if settings is None:
        raise TypeError(f"{target!r} is not an emotion face (add one with Add › Emotion Face, or api.add_face)")
    return settings


def new_strip_settings(strip, uid: str):
    """Settings for a new face strip, in its scene's collection (named after the strip, for the
    Graph Editor's channel names)."""
    settings = getattr(strip.id_data, SCENE_STRIPS).add()
    settings.name = strip.name
    setattr(strip, STRIP_KEY, uid)
    return settings


def new_uid() -> str:
    """A name for a face's frames folder."""
    return uuid.uuid4().hex[:16]


def init_face(settings, uid: str, seed: int, truncation: float, resolution: int = 0) -> None:
    settings.enabled = True
    settings.uid = uid
    settings.seed = seed
    settings.truncation = truncation
    settings.resolution = resolution
    for c in CHANNELS:
        tuning_item(settings, c.name, create=True)


def channel_names(settings) -> tuple[str, ...]:
    """Built-in channels, then the extra ones this face has."""
    return tuple(c.name for c in CHANNELS) + tuple(item.name for item in settings.extra)


def sync_extra_channels(settings, names) -> list[str]:
    """Add an extra channel item for each of ``names`` the face lacks; returns the added names."""
    builtin = {c.name for c in CHANNELS}
    have = {item.name for item in settings.extra}
    added = []
    for name in names:
        if name not in builtin and name not in have:
            settings.extra.add().name = name
            tuning_item(settings, name, create=True)
            added.append(name)
    return added


@dataclass(frozen=True)
class ChannelRef:
    """Where a channel of a face lives: ``getattr(struct, prop)`` is its value, ``path`` its path
    from the ID that owns its F-curves (the object, or the strip's scene) as Blender writes it
    when keying; ``aliases`` are other spellings of it (an extra channel by name, not index)."""

    struct: Any
    prop: str
    path: str
    aliases: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.aliases)


def channel_ref(owner, name: str) -> ChannelRef:
    """The channel ``name`` of a face object or strip (KeyError if it has none)."""
    settings = settings_of(owner)
    if name in settings.bl_rna.properties and name not in ("extra", "tuning") and \
            isinstance(getattr(settings, name), float):
        return ChannelRef(settings, name, settings.path_from_id(name))
    index = settings.extra.find(name)
    if index < 0:
        raise KeyError(f"this face has no channel {name!r} (it has {', '.join(channel_names(settings))})")
    item = settings.extra[index]
    alias = f'{settings.path_from_id()}.extra["{bpy.utils.escape_identifier(name)}"].value'
    return ChannelRef(item, "value", item.path_from_id("value"), (alias,))


def channel_refs(owner) -> dict[str, ChannelRef]:
    return {name: channel_ref(owner, name) for name in channel_names(settings_of(owner))}


def tuning_item(settings, name: str, create: bool = False):
    item = settings.tuning.get(name)
    if item is None and create:
        item = settings.tuning.add()
        item.name = name
    return item
