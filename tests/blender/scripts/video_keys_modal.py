from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

import time, types
api = enable()
capture = addon("capture")
Op = capture.LATENT_EMOTION_OT_key_from_video
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 10, 1.0
face = api.add_face(seed=1)
bpy.context.view_layer.objects.active = face

def operator():
    op = types.SimpleNamespace(reports=[], strip="", filepath=sys.argv[1], start_frame=3, reduce=True,
                               tolerance=0.02, replace=True)
    op.report = lambda kind, message: op.reports.append([sorted(kind)[0], message])
    for name in ("begin", "start", "_source", "modal", "status", "_finish", "cancelled_report", "error_report",
                 "apply", "still_active"):
        setattr(op, name, types.MethodType(getattr(Op, name), op))
    assert op.begin(bpy.context)
    return op

op = operator()
cancelled = events_until_done(op, first="ESC")
cancel_reports, keyed_after_cancel = op.reports, face.animation_data is not None
op = operator()
done = events_until_done(op)
fc = addon("compat").find_fcurve(face, addon("properties").channel_ref(face, "joy").paths)
result(cancelled=cancelled, cancel_reports=cancel_reports, keyed_after_cancel=keyed_after_cancel,
       done=done, reports=op.reports, first_key=fc.keyframe_points[0].co[0], last_key=fc.keyframe_points[-1].co[0])
