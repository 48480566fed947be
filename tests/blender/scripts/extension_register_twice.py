from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import addon_utils

def leftovers():
    ours = lambda f: "latent_emotion" in getattr(f, "__module__", "")
    found = []
    for name in ("render_init", "render_pre", "render_complete", "render_cancel", "load_post",
                 "frame_change_pre", "frame_change_post", "depsgraph_update_post"):
        found += [f"{name}:{f.__name__}" for f in getattr(bpy.app.handlers, name) if ours(f)]
    for cls in ("LATENT_EMOTION_OT_bake", "LATENT_EMOTION_OT_install_dependencies", "VIEW3D_PT_latent_emotion",
                "LATENT_EMOTION_PG_face", "LATENT_EMOTION_AP_preferences"):
        if getattr(bpy.types, cls, None) is not None:
            found.append(cls)
    for owner, attr in ((bpy.types.Object, "latent_emotion"), (bpy.types.Scene, "latent_emotion_strips")):
        if hasattr(owner, attr):
            found.append(f"{owner.__name__}.{attr}")
    for menu in ("VIEW3D_MT_add", "SEQUENCER_MT_add", "TOPBAR_MT_file_import"):
        funcs = getattr(getattr(bpy.types, menu).draw, "_draw_funcs", [])
        found += [f"{menu}:{f.__name__}" for f in funcs if ours(f)]
    return found

states = []
for round in range(2):
    api = enable()
    face = api.add_face(seed=1)
    states.append(dict(
        enabled=MODULE in bpy.context.preferences.addons,
        handlers=sorted(f.__name__ for f in bpy.app.handlers.render_pre if "latent_emotion" in f.__module__),
        has_op=hasattr(bpy.ops.latent_emotion, "bake") and bpy.ops.latent_emotion.bake.idname() != "",
        face=face.latent_emotion.enabled,
        sys_path_tail=sys.path[-1].endswith("site-packages"),
    ))
    addon_utils.disable(MODULE, default_set=True)
    states[-1]["leftovers"] = leftovers()
    states[-1]["sys_path_removed"] = not any(p.endswith("latent_emotion/site-packages") for p in sys.path)
result(states=states)
# Enabled again at exit: Blender must still exit cleanly with the add-on on.
enable()
