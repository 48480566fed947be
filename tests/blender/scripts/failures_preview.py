from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

preview = addon("preview")
lose_model()
scene.frame_set(2)
import time
end = time.time() + 60
while bpy.app.timers.is_registered(preview._poll) and time.time() < end:
    if preview._poll() is None:
        bpy.app.timers.unregister(preview._poll)
    time.sleep(0.01)
folder = str(api.frame_path(strip, 2).parent)
result(panel=STATE.error_for(folder))
