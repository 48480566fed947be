"""face-api's landmark and recognition nets (``backend.readers.nets``) as frozen feature extractors
for the fit's feature loss: images in [-1, 1] of any size are resized (bilinear, differentiably)
to the net's input, preprocessed as face-api does, and the outputs of a few of its stages are
returned, as ``FaceProbe.features`` returns the probe's (``lab.fit.loss.stage_l1`` compares them)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from backend.readers.nets.densenet import FACEAPI_SIZE, faceapi_input
from backend.readers.nets.identity import IDENTITY_SIZE, load_recognition_net
from backend.readers.nets.landmarks import load_landmark_net

# net name (``lab.fit.config.FACE_NET_NAMES``) -> (loader, input side, the submodules whose outputs are the features): the dense
# blocks at 56, 28, 14 and 7 px and the 136 landmark coordinates; the recognition net's last
# residual block at each width (37, 18, 9 and 4 px) and the 128-d descriptor.
FACE_NETS: dict[str, tuple[Callable[[], nn.Module], int, tuple[str, ...]]] = {
    "landmark": (load_landmark_net, FACEAPI_SIZE, ("dense0", "dense1", "dense2", "dense3", "fc")),
    "identity": (load_recognition_net, IDENTITY_SIZE, ("conv32_3", "conv64_3", "conv128_2", "conv256_2", "fc")),
}


class FaceFeatures(nn.Module):
    """A frozen face-api net whose ``features(x)`` lists the chosen stages' outputs for x (N, 3, H, W) in [-1, 1]."""

    def __init__(self, net: nn.Module, size: int, stages: tuple[str, ...]) -> None:
        super().__init__()
        self.net, self.size, self.stages = net.eval().requires_grad_(False), size, stages

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.interpolate(x.float(), size=(self.size, self.size), mode="bilinear", align_corners=False)
        out: dict[str, torch.Tensor] = {}
        hooks = [self.net.get_submodule(name).register_forward_hook(
            lambda _m, _i, y, name=name: out.__setitem__(name, y)) for name in self.stages]
        try:
            self.net(faceapi_input((x.permute(0, 2, 3, 1) + 1.0) * 127.5))
        finally:
            for h in hooks:
                h.remove()
        return [out[name] for name in self.stages]


def load_face_features(name: str, device: str | torch.device = "cpu") -> FaceFeatures:
    """The feature extractor of ``FACE_NETS[name]`` with the converted face-api weights."""
    if name not in FACE_NETS:
        raise ValueError(f"no face net {name!r} (one of {', '.join(FACE_NETS)})")
    load, size, stages = FACE_NETS[name]
    return FaceFeatures(load(), size, stages).to(device)
