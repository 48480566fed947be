from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
prefs = bpy.context.preferences.addons[MODULE].preferences
blocker = os.path.join(sys.argv[1], "not-a-folder")
open(blocker, "w").close()
prefs.cache_dir = blocker  # nothing can be made under it (a read-only share reads the same way)
before = (len(bpy.data.objects), len(bpy.data.images), len(bpy.data.meshes), len(bpy.data.materials))
try:
    bpy.ops.latent_emotion.add_face()
    refused = None
except RuntimeError as e:
    refused = str(e)
scene = bpy.context.scene
scene.sequence_editor_create()
try:
    api.add_strip(length=3)
    strip_refused = None
except OSError as e:
    strip_refused = f"{type(e).__name__}: {e}"
after = (len(bpy.data.objects), len(bpy.data.images), len(bpy.data.meshes), len(bpy.data.materials))
result(refused=refused, strip_refused=strip_refused, before=before, after=after,
       strips=len(list(addon("compat").all_strips(scene))))
