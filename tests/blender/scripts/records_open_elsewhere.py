from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

other = api.add_strip(name="New", channel=2, frame_start=1, length=3, seed=5)  # a new face takes b
for f, joy in ((1, -1.0), (3, 1.0)):
    api.key_channels(other, f, joy=joy)
settings = addon("properties").settings_of(other)
result(new_model=settings.model_file, b_frame=api.frame_array(other, 2).tolist())
