from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

compat = addon("compat")
scene = bpy.context.scene

def setup(length, seed=4):
    sequencer_output(scene)
    scene.frame_start, scene.frame_end = 1, length
    strip = api.add_strip(name="Face", frame_start=1, length=length, seed=seed)
    rng = __import__("random").Random(seed)
    for f in range(1, length + 1):
        api.key_channels(strip, f, interpolation="CONSTANT", joy=rng.uniform(-1, 1), anger=rng.uniform(-1, 1),
                         head_turn=rng.uniform(-1, 1))
    return strip

def render_png(folder, first, last):
    scene.frame_start, scene.frame_end = first, last
    compat.set_output_png(scene.render)
    scene.render.filepath = os.path.join(folder, "####")
    bpy.ops.render.render(animation=True)

def sequence_files(strip, frames):
    return {f: str(api.frame_path(strip, f)) for f in frames}
