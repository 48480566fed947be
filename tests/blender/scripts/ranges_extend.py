from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import math
import numpy as np
from pathlib import Path
api = enable()
compat, targets = addon("compat"), addon("targets")
repo_backend()
from backend.rendering.video import decode_png

scene = bpy.context.scene
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj)
scene.frame_start, scene.frame_end = 1, 48
face = api.add_face(seed=2)
strip = api.add_strip(frame_start=1, seed=3)  # 48 frames: to the scene's end
scene.frame_end = 100
for target in (face, strip):
    api.key_channels(target, 1, interpolation="LINEAR", joy=-1.0)
    api.key_channels(target, 100, interpolation="LINEAR", joy=1.0)
strip.frame_final_end = 101  # dragged to 100 frames
bpy.context.view_layer.update()  # what Blender does after an edit: depsgraph_update_post

paths = {name: str(api.frame_path(t, 100)) for name, t in (("face", face), ("strip", strip))}
baked = [api.bake(face).frames, api.bake(strip).frames]
expected = {name: {f: api.frame_array(t, f) for f in (48, 100)} for name, t in (("face", face), ("strip", strip))}

def dist(a, b):
    return float(np.abs(a.astype(int) - b.astype(int)).mean())

out = sys.argv[1]
r = scene.render
r.resolution_x = r.resolution_y = 32
r.dither_intensity, r.filter_size = 0.0, 0.01
scene.view_settings.view_transform = "Standard"
compat.set_output_png(r)
scene.frame_start = scene.frame_end = 100
for name in ("face", "strip"):  # fresh files: the renders make frame 100 themselves
    Path(paths[name]).unlink()
r.use_sequencer = True
r.filepath = os.path.join(out, "strip_####")
bpy.ops.render.render(animation=True)
scene.sequence_editor_clear()
r.engine = compat.CYCLES
scene.cycles.samples = 1
camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
scene.collection.objects.link(camera)
scene.camera = camera
camera.location, camera.rotation_euler = (0, -5, 0), (math.pi / 2, 0, 0)
camera.data.type, camera.data.ortho_scale = "ORTHO", 2.0
r.filepath = os.path.join(out, "face_####")
bpy.ops.render.render(animation=True)
rendered = {name: decode_png(open(os.path.join(out, f"{name}_0100.png"), "rb").read()) for name in ("face", "strip")}
dists = {name: [dist(rendered[name], expected[name][f]) for f in (48, 100)] for name in ("face", "strip")}
# The plane's image user of an older version stopped at the scene's end: opening the file fixes it.
targets.image_user(face).frame_duration = 48
blend = os.path.join(out, "old.blend")
bpy.ops.wm.save_as_mainfile(filepath=blend)
bpy.ops.wm.open_mainfile(filepath=blend)
result(paths=paths, baked=baked, reopened=str(api.frame_path(api.faces()[0], 100)), dists=dists)
