from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import time
api = enable(rig=False)
deps, install = addon("dependencies"), addon("install")
STATE = addon("state").STATE
from importlib import import_module
Step = import_module(MODULE + ".backend.deps").Step

def run_timer(timeout=60):
    end = time.time() + timeout
    while bpy.app.timers.is_registered(install._poll) and time.time() < end:
        if install._poll() is None:
            bpy.app.timers.unregister(install._poll)
        time.sleep(0.05)

blend = os.path.join(sys.argv[1], "other.blend")
bpy.ops.wm.save_as_mainfile(filepath=blend)
# An installation runs (two quick steps standing in for pip), and the user opens a file meanwhile.
job = STATE.install_job = deps.InstallJob([Step("one", (sys.executable, "-c", "import time; time.sleep(1)")),
                                           Step("two", (sys.executable, "-c", "print('ok')"))])
job.start()
install.watch()
bpy.ops.wm.open_mainfile(filepath=blend)
timer_after_open = bpy.app.timers.is_registered(install._poll)
run_timer()
finished = [job.done, job.error, STATE.install_message, STATE.install_progress_open]
result(timer_after_open=timer_after_open, finished=finished)
