"""GAN inversion: the latent code whose image matches a given face (Zhang & Pollett 2021, Sec. 3.2).

The paper finds the latent codes of labelled images by optimisation against the frozen
generator; this is that optimisation, the same code for the procedural renders the directions
are trained on and for a user's photo. It follows NVIDIA's stylegan2-ada-pytorch ``projector.py``
(Karras et al. 2020): start from ``w_avg``, Adam with a learning rate that ramps up over the
first 5 % of the steps and down along a cosine over the last 25 %, and Gaussian noise on the
latent (a fraction of W's spread) that decays quadratically to zero at 75 % of the steps, which
shakes the code out of poor local minima early on. Differences, and why:

- The generator's noise inputs stay at their constant buffers and are not optimised: frames are
  rendered with that constant noise, so detail fitted into the noise maps would be lost in the
  animation. Only the latent receives gradients (``torch.autograd.grad`` on the latent alone).
- The learning rate is in units of W's spread: Adam's rate is ``lr · scale`` with ``scale`` the
  RMS per-coordinate standard deviation of mapping(z), so one ``lr`` serves generators whose W
  scales differ (our small models and FFHQ).
- The loss is a pixel MSE pyramid (full, 1/2, 1/4 resolution, average-pooled) plus, when a
  ``features`` callable is given (e.g. ``FaceProbe.features``), an LPIPS-style distance of
  channel-normalised feature maps, in place of NVIDIA's VGG16 LPIPS.
- Coarse to fine (``coarse``): the first steps stop synthesis at a lower resolution (StyleGAN2's
  skip generator builds the image block by block) against the target scaled down to it (area),
  the last ``fine_steps`` render the full resolution. The stopped image differs from the full
  frame scaled down (on a random 32 px generator, inverting against it alone missed the code by
  half of W's spread), so every ``REFRESH_STEPS`` coarse steps one full frame is drawn, without
  gradients, and the difference is added to the stopped images until the next (a defect
  correction: the gradient is the stopped image's, the loss the full frame's at the code where
  it was measured). A 1024 px step with gradients costs several 256 px ones plus a tenth of a
  full frame.

Spaces: ``"w"`` optimises one w shared by every W+ row (the paper's directions act on W, so such
codes edit best); ``"w+"`` optimises each row (Abdal et al. 2019, Image2StyleGAN), which
reconstructs better but may leave W's distribution.

Images are uint8 ``(H, W, 3)`` / ``(N, H, W, 3)`` or float tensors ``(3, H, W)`` / ``(N, 3, H, W)``
in [-1, 1]; their size must equal the generator's resolution (a ``ValueError`` says so; resize
beforehand, e.g. ``cv2.resize(img, (res, res), interpolation=cv2.INTER_AREA)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..jobs import Cancel, Progress
from ..model.generator import Generator, NoiseMode, images_from_uint8, images_to_uint8

Space = Literal["w", "w+"]
SPACES: tuple[str, ...] = ("w", "w+")
STAGES: dict[str, str] = {"w": "W", "w+": "W+"}  # what progress calls each space
FeatureFn = Callable[[torch.Tensor], Sequence[torch.Tensor]]

# NVIDIA projector.py's schedule, as fractions of the steps.
LR_RAMPUP = 0.05
LR_RAMPDOWN = 0.25
NOISE_RAMP = 0.75
PYRAMID_LEVELS = 3  # full, 1/2, 1/4
REFRESH_STEPS = 10  # coarse steps between two measurements of the stopped image's difference to the full frame
# NVIDIA's initial_noise_factor in W. Image2StyleGAN's W+ optimisation adds no noise, and on our
# test generators any (even one draw shared by the rows) left W+ reconstructions worse.
DEFAULT_W_NOISE: Mapping[str, float] = MappingProxyType({"w": 0.05, "w+": 0.0})


@dataclass(frozen=True)
class InversionResult:
    """One inverted image."""

    w_plus: np.ndarray  # (num_ws, w_dim) float32; in "w" space every row is the same w
    loss_history: np.ndarray  # (steps,) float32, the loss at each step (with latent noise)
    pixel_mae: float  # mean |G(w_plus) − target| of the final code, both clipped to [-1, 1], in 0..255 units
    image: np.ndarray  # (H, W, 3) uint8, G(w_plus)
    space: str
    steps: int  # steps taken; fewer than asked when cancelled
    cancelled: bool


@dataclass(frozen=True)
class InversionBatch:
    """A batch of images inverted together; ``batch[i]`` is image i's ``InversionResult``."""

    w_plus: np.ndarray  # (N, num_ws, w_dim) float32
    loss_history: np.ndarray  # (steps, N) float32
    pixel_mae: np.ndarray  # (N,) float32, 0..255 units
    images: np.ndarray  # (N, H, W, 3) uint8
    space: str
    steps: int
    cancelled: bool

    def __len__(self) -> int:
        return len(self.w_plus)

    def __getitem__(self, i: int) -> InversionResult:
        return InversionResult(self.w_plus[i], self.loss_history[:, i].copy(), float(self.pixel_mae[i]),
                               self.images[i], self.space, self.steps, self.cancelled)


def learning_rate(t: float, lr: float) -> float:
    """NVIDIA's schedule at progress ``t`` in [0, 1]: linear warm-up, cosine ramp-down."""
    ramp = min(1.0, (1.0 - t) / LR_RAMPDOWN)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return lr * ramp * min(1.0, t / LR_RAMPUP)


def latent_noise_scale(t: float, w_noise: float) -> float:
    """Latent noise at progress ``t`` as a fraction of W's spread: quadratic decay to 0 at 75 %."""
    return w_noise * max(0.0, 1.0 - t / NOISE_RAMP) ** 2


def stop_resolution(G: Generator, size: int | None) -> int | None:
    """Where synthesis can stop and still draw at least ``size`` pixels (``Generator.preview_resolution``);
    None — the full frame, bit for bit as without stopping — when ``size`` is None or that is the
    generator's own resolution."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"an image size must be a positive whole number of pixels, got {size!r}")
    res = G.preview_resolution(size)
    return None if res >= G.config.img_resolution else res


@torch.no_grad()
def w_statistics(G: Generator, n: int = 2000, seed: int = 0) -> tuple[torch.Tensor, float, float]:
    """(w_avg, per-coordinate RMS std, total std) of W, from ``n`` mapped z.

    The total std is NVIDIA's ``w_std``, sqrt(E|w − E w|²); the per-coordinate one is it divided
    by sqrt(w_dim). ``w_avg`` is the generator's own buffer (the truncation centre), the start.
    """
    cfg = G.config
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn([n, cfg.z_dim], generator=gen).to(G.device)
    c = torch.zeros([n, cfg.c_dim], device=G.device) if cfg.c_dim > 0 else None
    w = G.mapping(z, c)[:, 0]
    total = float((w - w.mean(dim=0)).square().sum(dim=1).mean().sqrt())
    w_avg = G.w_avg.detach().clone().to(torch.float32)
    return w_avg, total / math.sqrt(cfg.w_dim), total


def invert(G: Generator, image: np.ndarray | torch.Tensor, *, space: Space = "w", steps: int = 300,
           lr: float = 0.1, features: FeatureFn | None = None, feature_weight: float = 1.0,
           init: str | np.ndarray | torch.Tensor = "w_avg", noise_mode: NoiseMode = "const",
           w_noise: float | None = None, seed: int = 0, coarse: int | None = None, fine_steps: int = 0,
           progress: Progress | None = None, cancel: Cancel | None = None) -> InversionResult:
    """The latent of one image (uint8 (H, W, 3) or float (3, H, W) in [-1, 1]); see ``invert_batch``."""
    if isinstance(image, torch.Tensor):
        if image.ndim != 3:
            raise ValueError(f"image must be a float tensor (3, H, W), got shape {tuple(image.shape)}")
        batch: np.ndarray | torch.Tensor = image[None]
    else:
        image = np.asarray(image)
        if image.ndim != 3:
            raise ValueError(f"image must be a uint8 array (H, W, 3), got shape {image.shape}")
        batch = image[None]
    if not isinstance(init, str):
        init = init[None]
    return invert_batch(G, batch, space=space, steps=steps, lr=lr, features=features,
                        feature_weight=feature_weight, init=init, noise_mode=noise_mode, w_noise=w_noise,
                        seed=seed, coarse=coarse, fine_steps=fine_steps, progress=progress, cancel=cancel)[0]


def invert_batch(G: Generator, images: np.ndarray | torch.Tensor, *, space: Space = "w", steps: int = 300,
                 lr: float = 0.1, features: FeatureFn | None = None, feature_weight: float = 1.0,
                 init: str | np.ndarray | torch.Tensor = "w_avg", noise_mode: NoiseMode = "const",
                 w_noise: float | None = None, seed: int = 0, coarse: int | None = None, fine_steps: int = 0,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> InversionBatch:
    """Invert N images at once: uint8 (N, H, W, 3) or float (N, 3, H, W) in [-1, 1].

    Each image's loss depends on its own latent only and Adam works per coordinate, so a batch
    follows the same path its images would alone (the latent noise aside, drawn per batch).

    ``init``: ``"w_avg"``, or codes (N, w_dim) / (N, num_ws, w_dim) — in ``"w"`` space the
    rows of a W+ init must be equal. ``lr`` is the peak Adam step in units of W's spread (see the
    module docstring). ``w_noise`` is NVIDIA's ``initial_noise_factor``; None picks 0.05 in W and
    0 in W+ (``DEFAULT_W_NOISE``). ``coarse``: a resolution of ``G.synthesis.preview_resolutions()``
    (e.g. ``stop_resolution(G, 256)``) that every step but the last ``fine_steps`` renders at
    (None: every step at full resolution); the result is always drawn at full resolution. For the
    best reconstruction, invert in ``"w"`` and refine in ``"w+"`` from that result
    (``init=result.w_plus``, a lower ``lr`` such as 0.02).
    ``progress(STAGES[space], done, steps)`` is called after every step; when ``cancel()`` returns True
    the optimisation stops and the result holds the codes reached so far (``cancelled=True``).
    Memory grows with N (autograd through the synthesis network): invert large sets in chunks.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be positive, got {lr}")
    if w_noise is None:
        w_noise = DEFAULT_W_NOISE[space]
    if not (math.isfinite(w_noise) and w_noise >= 0):
        raise ValueError(f"w_noise must be non-negative, got {w_noise}")
    if noise_mode not in ("const", "random", "none"):
        raise ValueError(f"noise_mode must be 'const', 'random' or 'none', got {noise_mode!r}")
    if coarse is not None and coarse not in G.synthesis.preview_resolutions():
        raise ValueError(f"coarse must be one of {G.synthesis.preview_resolutions()} for this generator, got {coarse}")
    if isinstance(fine_steps, bool) or not isinstance(fine_steps, int) or fine_steps < 0:
        raise ValueError(f"fine_steps must be a non-negative integer, got {fine_steps!r}")
    if coarse == G.config.img_resolution:
        coarse = None
    device = G.device
    target = images_to_target(images, G.config.img_resolution, G.config.img_channels).to(device)
    n = target.shape[0]
    w_avg, scale, w_std = w_statistics(G)
    if scale <= 0:
        raise ValueError("the generator's mapping gives a constant w; there is nothing to optimise")
    w_opt = _initial_codes(init, n, space, G.num_ws, G.w_dim, w_avg).to(device).requires_grad_(True)
    # Adam's steps are about lr per coordinate, whatever the gradient's scale: scaling lr by W's
    # spread is optimising (w − w_avg) / scale, without rounding the initial codes.
    optimizer = torch.optim.Adam([w_opt], lr=lr * scale, betas=(0.9, 0.999))
    gen = torch.Generator(device=device).manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1) if noise_mode == "random" else None

    aims: dict[int | None, tuple[list[torch.Tensor], list[torch.Tensor] | None]] = {}

    def aim(stop_at: int | None) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """The target's pyramid and features at the resolution synthesis stops at."""
        if stop_at not in aims:
            with torch.no_grad():
                x = target if stop_at is None else F.interpolate(target, size=(stop_at, stop_at), mode="area")
                aims[stop_at] = (_pyramid(x), [f.detach() for f in features(x)] if features is not None else None)
        return aims[stop_at]

    def draw(w: torch.Tensor, stop_at: int | None = None) -> torch.Tensor:
        return G.synthesis(w.expand(-1, G.num_ws, -1), noise_mode=noise_mode, generator=noise_gen, stop_at=stop_at)

    def losses(w: torch.Tensor, stop_at: int | None, offset: torch.Tensor | None = None) -> torch.Tensor:
        target_pyramid, target_features = aim(stop_at)
        synth = draw(w, stop_at)
        if offset is not None:
            synth = synth + offset
        loss = sum(F.mse_loss(a, b, reduction="none").mean(dim=(1, 2, 3))
                   for a, b in zip(_pyramid(synth), target_pyramid))
        if target_features is not None:
            loss = loss + feature_weight * feature_distance(features(synth), target_features)
        return loss

    history: list[np.ndarray] = []
    cancelled = False
    offset: torch.Tensor | None = None
    refreshed = 0
    for step in range(steps):
        if cancel is not None and cancel():
            cancelled = True
            break
        t = step / steps
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(t, lr) * scale
        with torch.enable_grad():
            w = w_opt
            sigma = latent_noise_scale(t, w_noise) * w_std
            if sigma > 0:
                # One draw per image shared by its rows: independent rows would tear W+ apart.
                w = w + sigma * torch.randn([n, 1, G.w_dim], generator=gen, device=device)
            stop_at = coarse if step < steps - fine_steps else None
            if stop_at is not None and (step - refreshed >= REFRESH_STEPS or offset is None):
                # The stopped image is not the full frame scaled down (the higher blocks' toRGB
                # layers add colour at every scale): measure the difference at the current code
                # now and then, so that the coarse loss's minimum is the full frame's.
                with torch.no_grad():
                    offset = (F.interpolate(draw(w_opt), size=(stop_at, stop_at), mode="area")
                              - draw(w_opt, stop_at))
                refreshed = step
            per_image = losses(w, stop_at, offset if stop_at is not None else None)
            (grad,) = torch.autograd.grad(per_image.sum(), [w_opt])
        w_opt.grad = grad
        optimizer.step()
        per_image = per_image.detach()
        history.append(per_image.cpu().numpy().astype(np.float32))
        if progress is not None:
            progress(STAGES[space], step + 1, steps)

    with torch.no_grad():
        w_final = w_opt.detach().expand(-1, G.num_ws, -1)
        synth = G.synthesis(w_final, noise_mode=noise_mode, generator=noise_gen)
        # As displayed: both clipped to [-1, 1] (uint8 targets already are).
        mae = (synth.clamp(-1, 1) - target.clamp(-1, 1)).abs().mean(dim=(1, 2, 3)) * 127.5
    out = images_to_uint8(synth)
    loss_history = np.stack(history) if history else np.zeros((0, n), np.float32)
    return InversionBatch(w_final.detach().cpu().numpy().astype(np.float32).copy(), loss_history,
                          mae.cpu().numpy().astype(np.float32), out, space, len(history), cancelled)


def images_to_target(images: np.ndarray | torch.Tensor, resolution: int, channels: int = 3) -> torch.Tensor:
    """uint8 (N, H, W, C) or float (N, C, H, W) → float (N, C, H, W) in [-1, 1], sizes checked.

    uint8 u maps to u / 127.5 − 1, the inverse of ``images_to_uint8`` (which floors x·127.5 + 128).
    """
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != channels:
            raise ValueError(f"float images must have shape (N, {channels}, H, W), got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"image tensors must be float in [-1, 1], got {images.dtype}")
        x = images.detach().to(torch.float32)
        size = tuple(x.shape[2:])
    else:
        arr = np.asarray(images)
        if arr.ndim != 4 or arr.shape[3] != channels:
            raise ValueError(f"uint8 images must have shape (N, H, W, {channels}), got {arr.shape}")
        if arr.dtype != np.uint8:
            raise ValueError(f"image arrays must be uint8, got {arr.dtype} (pass floats as a torch tensor)")
        x = images_from_uint8(arr)
        size = arr.shape[1:3]
    if x.shape[0] == 0:
        raise ValueError("no images to invert")
    if size != (resolution, resolution):
        raise ValueError(f"images are {size[0]}x{size[1]} but the generator draws {resolution}x{resolution}; "
                         "resize them first (cv2.resize with INTER_AREA)")
    if not torch.isfinite(x).all():
        raise ValueError("images hold non-finite values")
    return x


def feature_distance(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """LPIPS-style distance per image (Zhang et al. 2018, unweighted): channel-normalise each map,
    then Σ over layers of the spatial mean of the squared difference summed over channels."""
    if len(a) != len(b):
        raise ValueError(f"feature lists differ in length: {len(a)} and {len(b)}")
    total = None
    for fa, fb in zip(a, b):
        d = (_unit(fa) - _unit(fb)).square().sum(dim=1).mean(dim=(1, 2))
        total = d if total is None else total + d
    if total is None:
        raise ValueError("features returned no feature maps")
    return total


def _unit(f: torch.Tensor) -> torch.Tensor:
    return f / (f.square().sum(dim=1, keepdim=True) + 1e-10).sqrt()


def _pyramid(x: torch.Tensor) -> list[torch.Tensor]:
    levels = [x]
    for _ in range(PYRAMID_LEVELS - 1):
        if min(levels[-1].shape[2:]) < 8:
            break
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels


def _initial_codes(init: str | np.ndarray | torch.Tensor, n: int, space: str, num_ws: int, w_dim: int,
                   w_avg: torch.Tensor) -> torch.Tensor:
    """The starting codes as (N, 1, w_dim) for "w" space or (N, num_ws, w_dim) for "w+"."""
    rows = 1 if space == "w" else num_ws
    if isinstance(init, str):
        if init != "w_avg":
            raise ValueError(f"init must be 'w_avg' or an array of codes, got {init!r}")
        return w_avg.detach().cpu().reshape(1, 1, w_dim).repeat(n, rows, 1)
    w = torch.tensor(np.array(init.detach().cpu() if isinstance(init, torch.Tensor) else init),
                     dtype=torch.float32)
    if w.shape == (n, w_dim):
        w = w[:, None]
    elif w.shape != (n, num_ws, w_dim):
        raise ValueError(f"init codes must have shape ({n}, {w_dim}) or ({n}, {num_ws}, {w_dim}), "
                         f"got {tuple(w.shape)}")
    if not torch.isfinite(w).all():
        raise ValueError("init codes hold non-finite values")
    if space == "w" and w.shape[1] > 1:
        if not torch.equal(w, w[:, :1].expand_as(w)):
            raise ValueError("space='w' needs one w per image, but the init's W+ rows differ; "
                             "pass its mean row, or use space='w+'")
        w = w[:, :1]
    return w.expand(n, rows, w_dim).clone()
