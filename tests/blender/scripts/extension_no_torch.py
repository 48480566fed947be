from prelude import *  # noqa: F403  (bpy, enable, addon, result, ...: tests/blender/scripts/prelude.py)

sys.modules["torch"] = None  # "import torch" now fails, as in a Blender without it
api = enable()
deps, ui, install = addon("dependencies"), addon("ui"), addon("install")

class Layout:
    """Records what a panel draws."""
    def __init__(self, log): self.log = log
    def __getattr__(self, name):
        def call(*args, **kw):
            self.log.append((name, args[0] if args else kw.get("text", "")))
            return Layout(self.log)
        return call

class Panel:
    def __init__(self): self.log = []; self.layout = Layout(self.log)

face = api.add_face(seed=2)
bpy.context.view_layer.objects.active = face
drawn = {}
for cls in (ui.VIEW3D_PT_latent_emotion, ui.SEQUENCER_PT_latent_emotion):
    panel = Panel()
    cls.draw(panel, bpy.context)
    drawn[cls.__name__] = panel.log
result(
    missing=deps.missing(),
    drawn=drawn,
    install_registered=bpy.ops.latent_emotion.install_dependencies.idname(),
    install_poll=bpy.ops.latent_emotion.install_dependencies.poll(),
    bake_poll=bpy.ops.latent_emotion.bake.poll(),
    channels=[c for c in ("joy", "head_turn") if hasattr(face.latent_emotion, c)],
)
