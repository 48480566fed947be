from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

enable(rig=False)
deps, install = addon("dependencies"), addon("install")
STATE = addon("state").STATE
from pathlib import Path
plan = deps.plan_install(MODULE)
site = deps.site_packages_dir(MODULE)
import numpy
pip_step = plan[-1].argv

# A stand-in for pip: a step that takes long, cancelled while it runs.
Step = type(plan[0])
job = deps.InstallJob([Step("slow step", (sys.executable, "-c", "import time; time.sleep(60)"))])
STATE.install_job = job
job.start()
import time
time.sleep(0.5)
running = not job.done
job.cancel()
job.join(10)
install._poll()  # what the timer would run: reports the outcome
cancelled = (job.done, job.error, STATE.install_message)

ok = deps.InstallJob([Step("quick", (sys.executable, "-c", "print('ok')"))])
STATE.install_job = ok
ok.start(); ok.join(10)
install._poll()
result(site=site, in_user_folder=site.startswith(bpy.utils.user_resource("EXTENSIONS")),
       targets=pip_step[pip_step.index("--target") + 1], numpy_pin=f"numpy=={numpy.__version__}" in pip_step,
       running=running, cancelled=list(cancelled), ok=[ok.done, ok.error, STATE.install_message])
