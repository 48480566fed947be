from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

enable(rig=False)
import inspect
classes = [cls for name in ("operators", "learn", "describe", "photo", "capture", "script_import", "install")
           for cls in addon(name).CLASSES]
result(options={cls.bl_idname: sorted(getattr(cls, "bl_options", ())) for cls in classes},
       sources={cls.bl_idname: inspect.getsource(cls) for cls in classes})
