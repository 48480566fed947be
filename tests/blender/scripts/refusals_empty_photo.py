from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

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
