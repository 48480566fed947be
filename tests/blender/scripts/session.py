"""One Blender process that runs test scripts one after another (``harness.SharedBlender``): the
interpreter, bpy and torch start once per test worker instead of once per test.

After each script Blender reads its factory settings (new file, preferences and add-ons as a fresh
process has them: the extension off, so it unregisters), and the next script's ``enable()`` registers
it again from nothing. Each request is a JSON line on stdin: the script's file, its ``argv``, environment and
working folder, and two files that take its stdout and stderr (Blender's C output too). The answer
is ``LE_DONE <exit code>`` on this process's own stdout.
"""

import ctypes
import json
import os
import sys
import traceback

import bpy

LIBC = ctypes.CDLL(None)
channel = os.fdopen(os.dup(1), "w")  # the answers: fds 1 and 2 go to each script's own files


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    LIBC.fflush(None)  # Blender's printf output, before its file is swapped


def _reset() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=False)


def _run(request: dict) -> int:
    env, argv, path, cwd = dict(os.environ), list(sys.argv), list(sys.path), os.getcwd()
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [request["script"], *request["args"]]
    os.chdir(request["cwd"])
    _flush()
    saved = os.dup(1), os.dup(2)
    with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
    code = 0
    try:
        with open(request["script"], encoding="utf-8") as f:
            source = f.read()
        exec(compile(source, request["script"], "exec"), {"__name__": "__main__", "__file__": request["script"]})
    except SystemExit as e:  # what the process would have exited with
        if isinstance(e.code, int):
            code = e.code
        elif e.code is not None:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            _reset()
        except BaseException:
            traceback.print_exc()
            code = code or 1
        _flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.environ.clear()
        os.environ.update(env)
        sys.argv, sys.path[:] = argv, path
        os.chdir(cwd)
    return code


_reset()
for line in sys.stdin:
    channel.write(f"LE_DONE {_run(json.loads(line))}\n")
    channel.flush()
