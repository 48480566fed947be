from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import time, types
api = enable()
Op = addon("photo").LATENT_EMOTION_OT_face_from_photo
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face

def operator(steps):
    op = types.SimpleNamespace(reports=[], filepath=sys.argv[1], steps=steps)
    op.report = lambda kind, message: op.reports.append([sorted(kind)[0], message])
    for name in ("begin", "start", "modal", "status", "_finish", "cancelled_report", "error_report", "apply",
                 "still_active"):
        setattr(op, name, types.MethodType(getattr(Op, name), op))
    assert op.begin(bpy.context)
    return op

op = operator(500)
cancelled = events_until_done(op, first="ESC")
cancel_reports, code_after_cancel = op.reports, face.latent_emotion.get("photo_code") is not None
op = operator(2)
done = events_until_done(op)
result(cancelled=cancelled, cancel_reports=cancel_reports, code_after_cancel=code_after_cancel, done=done,
       reports=op.reports, use_photo=face.latent_emotion.use_photo)
