from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

api = enable()
face = api.add_face(seed=1)
errors = {}
def attempt(name, fn):
    try:
        fn()
        errors[name] = None
    except Exception as e:
        errors[name] = f"{type(e).__name__}: {e}"
nan = float("nan")
attempt("key_channels", lambda: api.key_channels(face, nan, joy=0.5))
attempt("set_channels", lambda: api.set_channels(face, float("inf"), joy=0.5))
attempt("describe", lambda: api.describe(face, "She smiles.", start=nan))
attempt("import_script", lambda: api.import_script(face, "joy\nsurprise\n", start=nan))
attempt("channel_values_at", lambda: api.channel_values_at(face, nan))
anim = face.animation_data
result(errors=errors, fcurves=len(anim.action.fcurves) if anim and anim.action and hasattr(anim.action, "fcurves") else 0,
       keyed=bool(anim and anim.action))
