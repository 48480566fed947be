"""A .blend file that moves finds its faces' frames in the cache (no folder tree made beside it)."""

from __future__ import annotations

import os
from pathlib import Path

MAKE = '''
api = enable()
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 3
face = api.add_face(name="Plane Face", seed=1)
strip = api.add_strip(name="Strip Face", frame_start=1, length=3, seed=2)
for t in (face, strip):
    api.key_channels(t, 1, joy=-0.5)
    api.key_channels(t, 3, joy=0.5)
    api.bake(t)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])  # Blender's default: paths relative to the file
result(files={t.name: str(api.frame_path(t, 2)) for t in (face, strip)},
       stored=[face.latent_emotion.image.filepath, strip.directory])
'''

OPEN = '''
api = enable()
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
faces = api.faces()
stats = [api.bake(t).written for t in faces]
result(files={t.name: str(api.frame_path(t, 2)) for t in faces}, written=stats,
       image=bpy.path.abspath(faces[0].latent_emotion.image.filepath))
'''


def test_moved_blend_file_shows_the_cached_frames_without_a_new_folder_tree(blender, tmp_path):
    first = tmp_path / "a" / "b" / "scene.blend"
    first.parent.mkdir(parents=True)
    made = blender.run(MAKE, str(first))
    assert all(p.startswith("//") for p in made["stored"])  # relative: they break when the file moves
    moved = tmp_path / "elsewhere" / "scene.blend"
    moved.parent.mkdir()
    os.rename(first, moved)
    out = blender.run(OPEN, str(moved))
    assert out["files"] == made["files"]
    assert out["written"] == [0, 0]  # the files were there already
    assert os.path.normpath(out["image"]) == os.path.normpath(made["files"]["Plane Face"].replace("00002", "00001"))
    for stored in made["stored"]:  # where the relative paths lead from the new place: nothing made there
        stale = Path(os.path.normpath(moved.parent / stored[2:]))
        assert not stale.exists() and not stale.parent.exists(), stale
