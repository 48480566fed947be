from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import hashlib
import numpy as np
api = enable()
photo_job = addon("photo_job")
inverted = []
photo_job.invert_photo = lambda order: inverted.append(order) or 1 / 0  # reopening must not invert again
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
face = bpy.data.objects["Emotion Face"]
code = np.array(face.latent_emotion[addon("properties").FACE_CODE].to_list(), np.float32)
frame = api.frame_array(face, 1)
images = sorted(im.name for im in addon("photo").photo_images(face))
face.latent_emotion.use_photo = False  # back to the seed's face
seed_frame = api.frame_array(face, 1)
digest = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
result(code=digest(code), frame=digest(frame), seed_frame=digest(seed_frame), images=images, inverted=len(inverted))
