from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import numpy as np
from backend.rendering.video import decode_png

scene = bpy.context.scene
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
scene.frame_start, scene.frame_end = 1, 3
face = api.add_face(name="Plane Face", seed=5)
strip = api.add_strip(name="Strip Face", frame_start=1, length=3, seed=6)
animate(face)
animate(strip)
values = {name: {f: api.channel_values_at(t, f) for f in (1, 2, 3)} for name, t in (("face", face), ("strip", strip))}
stats = [api.bake(t, 1, 3).written for t in (face, strip)]
files = {name: {f: str(api.frame_path(t, f)) for f in (1, 2, 3)} for name, t in (("face", face), ("strip", strip))}
right = {name: {f: bool(np.array_equal(decode_png(open(files[name][f], "rb").read()), expected_frame(seed, f)))
                for f in (1, 2, 3)} for name, seed in (("face", 5), ("strip", 6))}
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
result(values=values, stats=stats, files=files, right=right)
