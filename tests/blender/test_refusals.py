"""Bad input to the add-on gets one clear error and leaves nothing half-made: NaN frames (API),
a cache folder that cannot be written (Add › Emotion Face), an empty photo (Face from Photo)."""

from __future__ import annotations

NAN_FRAMES = '''
api = enable()
face = api.add_face(seed=1)
errors = {}
def attempt(name, fn):
    try:
        fn()
        errors[name] = None
    except Exception as e:
        errors[name] = f"{type(e).__name__}: {e}"
nan = float("nan")
attempt("key_channels", lambda: api.key_channels(face, nan, joy=0.5))
attempt("set_channels", lambda: api.set_channels(face, float("inf"), joy=0.5))
attempt("describe", lambda: api.describe(face, "She smiles.", start=nan))
attempt("import_script", lambda: api.import_script(face, "joy\\nsurprise\\n", start=nan))
attempt("channel_values_at", lambda: api.channel_values_at(face, nan))
anim = face.animation_data
result(errors=errors, fcurves=len(anim.action.fcurves) if anim and anim.action and hasattr(anim.action, "fcurves") else 0,
       keyed=bool(anim and anim.action))
'''


def test_nan_frames_are_refused_with_a_clear_error_and_key_nothing(blender):
    out = blender.run(NAN_FRAMES)
    for name, error in out["errors"].items():
        assert error is not None and error.startswith("ValueError: "), (name, error)
        assert "finite frame number" in error, (name, error)
    assert not out["keyed"]


UNWRITABLE_CACHE = '''
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
'''


def test_add_face_with_an_unwritable_cache_says_so_and_makes_nothing(blender, tmp_path):
    out = blender.run(UNWRITABLE_CACHE, str(tmp_path))
    assert out["refused"] is not None and "cannot make the face's frames folder" in out["refused"]
    assert "Traceback" not in out["refused"]
    assert "FaceFolderError" in out["strip_refused"] and "choose a writable Cache Folder" in out["strip_refused"]
    assert out["after"] == out["before"] and out["strips"] == 0


EMPTY_PHOTO = '''
api = enable()
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face
empty = os.path.join(sys.argv[1], "empty.png")
open(empty, "wb").close()
try:
    api.face_from_photo(face, empty, steps=2)
    api_error = None
except Exception as e:
    api_error = f"{type(e).__name__}: {e}"
try:
    bpy.ops.latent_emotion.face_from_photo(filepath=empty, steps=2)
    op_error = None
except RuntimeError as e:
    op_error = str(e)
settings = face.latent_emotion
result(api_error=api_error, op_error=op_error, code=settings.get("photo_code") is not None,
       use_photo=settings.use_photo, images=sorted(i.name for i in bpy.data.images if "Photo" in i.name))
'''


def test_an_empty_photo_is_refused_in_one_line_and_changes_nothing(blender, tmp_path):
    out = blender.run(EMPTY_PHOTO, str(tmp_path))
    assert out["api_error"] == f"MediaError: {tmp_path / 'empty.png'}: the file is empty (0 bytes), not a photo"
    assert "the file is empty (0 bytes)" in out["op_error"] and "cv2" not in out["op_error"]
    assert not out["code"] and not out["use_photo"] and out["images"] == []
