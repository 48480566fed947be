"""The StyleGAN2 generator (Karras et al., "Analyzing and Improving the Image Quality of StyleGAN").

One implementation for every size: a frozen ``GeneratorConfig`` describes the whole
architecture, so tiny test models, our default model and FFHQ config-F share this code.
Module and parameter names follow NVIDIA's stylegan2-ada-pytorch (``mapping.fc0.weight``,
``synthesis.b8.conv0.affine.bias``...), which makes their checkpoints load by name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .ops import (
    activation_gain,
    bias_act,
    conv2d_resample,
    modulated_conv2d,
    normalize_2nd_moment,
    setup_filter,
    upsample2d,
)

NoiseMode = Literal["const", "random", "none"]
ARCHITECTURES = ("orig", "skip", "resnet")
# Bounds on every size in a config, well past any published StyleGAN2 (FFHQ config-F: 1024 px, 512
# features, 8 mapping layers, channel_base 32768). The largest generator they allow is still
# gigabytes, so a checkpoint's tensors are matched against the config before one is built.
CONFIG_LIMITS: dict[str, tuple[int, int]] = {
    "img_resolution": (4, 4096), "z_dim": (0, 4096), "w_dim": (1, 4096), "c_dim": (0, 100_000),
    "img_channels": (1, 4), "mapping_layers": (1, 32), "mapping_layer_features": (1, 4096),
    "embed_features": (1, 4096), "channel_base": (1, 2**20), "channel_max": (1, 4096), "num_fp16_res": (0, 12),
    "kernel_size": (1, 7),
}


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that defines a generator's architecture; the defaults are NVIDIA's."""

    img_resolution: int = 1024
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0
    img_channels: int = 3
    # Mapping network.
    mapping_layers: int = 8
    mapping_layer_features: int | None = None  # None: w_dim
    embed_features: int | None = None  # None: w_dim (only used when c_dim > 0)
    mapping_lr_multiplier: float = 0.01
    mapping_activation: str = "lrelu"
    w_avg_beta: float | None = 0.995
    # Synthesis network.
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 0
    conv_clamp: float | None = None
    architecture: str = "skip"
    resample_filter: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)
    kernel_size: int = 3
    use_noise: bool = True
    activation: str = "lrelu"

    def __post_init__(self) -> None:
        # Types and bounds first: a config comes from files (checkpoint metadata, pickles), and a
        # few bytes asking for 4000 mapping layers must fail here, not after gigabytes of weights.
        for name, (lo, hi) in CONFIG_LIMITS.items():
            value = getattr(self, name)
            if value is None and name in ("mapping_layer_features", "embed_features"):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be within [{lo}, {hi}], got {value}")
        for name in ("mapping_lr_multiplier", "w_avg_beta", "conv_clamp"):
            value = getattr(self, name)
            if value is None and name != "mapping_lr_multiplier":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not self.mapping_lr_multiplier > 0 or (self.conv_clamp is not None and not self.conv_clamp > 0):
            raise ValueError("mapping_lr_multiplier and conv_clamp must be positive")
        taps = self.resample_filter
        if (not isinstance(taps, tuple) or not 1 <= len(taps) <= 16
                or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in taps)
                or sum(taps) == 0):
            raise ValueError(f"resample_filter must be 1 to 16 finite taps with a non-zero sum, got {taps!r}")
        if not isinstance(self.use_noise, bool):
            raise ValueError(f"use_noise must be true or false, got {self.use_noise!r}")
        log2 = math.log2(self.img_resolution)
        if log2 != int(log2):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {self.img_resolution}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.z_dim <= 0 and self.c_dim <= 0:
            raise ValueError("a generator needs z_dim > 0 or c_dim > 0")
        activation_gain(self.activation)
        activation_gain(self.mapping_activation)

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        """Rows of the W+ code: 2·log2(res) − 2 for the usual architectures."""
        convs = sum(1 if res == 4 else 2 for res in self.block_resolutions)
        return convs + 1

    @property
    def fp16_resolution(self) -> int:
        return max(2 ** (int(math.log2(self.img_resolution)) + 1 - self.num_fp16_res), 8)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["resample_filter"] = list(self.resample_filter)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GeneratorConfig:
        reject_unknown_keys(cls, d, "generator config")
        d = dict(d)
        if "resample_filter" in d:
            d["resample_filter"] = tuple(float(t) for t in d["resample_filter"])
        return cls(**d)


def state_shapes(cfg: GeneratorConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor in ``Generator(cfg).state_dict()``, without building it:
    what a checkpoint must hold, checked before gigabytes are allocated for what its config claims.
    (The modules below build exactly these; ``tests/test_generator.py`` holds the two together.)"""
    shapes: dict[str, tuple[int, ...]] = {}

    def dense(name: str, n_in: int, n_out: int) -> None:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (n_out, n_in), (n_out,)

    embed = (cfg.embed_features or cfg.w_dim) if cfg.c_dim > 0 else 0
    hidden = cfg.mapping_layer_features or cfg.w_dim
    features = [cfg.z_dim + embed] + [hidden] * (cfg.mapping_layers - 1) + [cfg.w_dim]
    if cfg.c_dim > 0:
        dense("mapping.embed", cfg.c_dim, embed)
    for i in range(cfg.mapping_layers):
        dense(f"mapping.fc{i}", features[i], features[i + 1])
    shapes["mapping.w_avg"] = (cfg.w_dim,)
    taps = (len(cfg.resample_filter),) * 2
    k = cfg.kernel_size

    def layer(name: str, n_in: int, n_out: int, res: int) -> None:
        shapes[f"{name}.resample_filter"] = taps
        dense(f"{name}.affine", cfg.w_dim, n_in)
        shapes[f"{name}.weight"] = (n_out, n_in, k, k)
        if cfg.use_noise:
            shapes[f"{name}.noise_const"], shapes[f"{name}.noise_strength"] = (res, res), ()
        shapes[f"{name}.bias"] = (n_out,)

    for res in cfg.block_resolutions:
        b, n_in, n_out = f"synthesis.b{res}", cfg.channels(res // 2) if res > 4 else 0, cfg.channels(res)
        shapes[f"{b}.resample_filter"] = taps
        if n_in == 0:
            shapes[f"{b}.const"] = (n_out, res, res)
        else:
            layer(f"{b}.conv0", n_in, n_out, res)
        layer(f"{b}.conv1", n_out, n_out, res)
        if res == cfg.img_resolution or cfg.architecture == "skip":
            dense(f"{b}.torgb.affine", cfg.w_dim, n_out)
            shapes[f"{b}.torgb.weight"], shapes[f"{b}.torgb.bias"] = (cfg.img_channels, n_out, 1, 1), (cfg.img_channels,)
        if n_in != 0 and cfg.architecture == "resnet":
            shapes[f"{b}.skip.resample_filter"], shapes[f"{b}.skip.weight"] = taps, (n_out, n_in, 1, 1)
    return shapes


class FullyConnectedLayer(nn.Module):
    """Dense layer with equalized learning rate (weights scaled at run time, not at init)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, activation=self.activation)


class MappingNetwork(nn.Module):
    """z (and optional class label c) → w, with the running average w_avg for truncation."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.num_ws
        self.num_layers = cfg.mapping_layers
        self.w_avg_beta = cfg.w_avg_beta
        embed_features = (cfg.embed_features if cfg.embed_features is not None else cfg.w_dim) if cfg.c_dim > 0 else 0
        layer_features = cfg.mapping_layer_features if cfg.mapping_layer_features is not None else cfg.w_dim
        features = [cfg.z_dim + embed_features] + [layer_features] * (cfg.mapping_layers - 1) + [cfg.w_dim]
        if cfg.c_dim > 0:
            self.embed = FullyConnectedLayer(cfg.c_dim, embed_features)
        for idx in range(cfg.mapping_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=cfg.mapping_activation,
                                        lr_multiplier=cfg.mapping_lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([cfg.w_dim]))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        x = None
        if self.z_dim > 0:
            _check_shape(z, [None, self.z_dim], "z")
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            _check_shape(c, [None, self.c_dim], "c")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        return truncate(x, self.w_avg, truncation_psi, truncation_cutoff)


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """The truncation trick: pull W+ rows (all, or the first ``cutoff``) toward w_avg by ``psi``."""
    if psi == 1:
        return ws
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + noise + bias + activation (one W+ row)."""

    def __init__(self, in_channels: int, out_channels: int, cfg: GeneratorConfig, resolution: int, up: int = 1) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, cfg.use_noise
        self.activation, self.conv_clamp = cfg.activation, cfg.conv_clamp
        self.padding = cfg.kernel_size // 2
        self.act_gain = activation_gain(cfg.activation)
        self.register_buffer("resample_filter", setup_filter(cfg.resample_filter))
        self.affine = FullyConnectedLayer(cfg.w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, cfg.kernel_size, cfg.kernel_size]))
        if cfg.use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: NoiseMode = "const", fused: bool = True,
                gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            noise = torch.randn(shape, device=x.device, generator=generator) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=(self.up == 1), fused=fused)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), self.activation, gain=self.act_gain * gain, clamp=clamp,
                        inplace=True)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.conv_clamp = cfg.conv_clamp
        self.affine = FullyConnectedLayer(cfg.w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp, inplace=True)


class Conv2dLayer(nn.Module):
    """Plain equalized-lr convolution; here only the 1x1 upsampling shortcut of 'resnet' blocks."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, cfg: GeneratorConfig,
                 bias: bool = True, activation: str = "linear", up: int = 1) -> None:
        super().__init__()
        self.activation, self.up, self.conv_clamp = activation, up, cfg.conv_clamp
        self.padding = kernel_size // 2
        self.act_gain = activation_gain(activation)
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.register_buffer("resample_filter", setup_filter(cfg.resample_filter))
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w.to(x.dtype), f=self.resample_filter, up=self.up, padding=self.padding,
                            flip_weight=(self.up == 1))
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, b, self.activation, gain=self.act_gain * gain, clamp=clamp, inplace=True)


class SynthesisBlock(nn.Module):
    """One resolution: (const or upsampling conv0) → conv1 → toRGB added to the skip image."""

    def __init__(self, in_channels: int, out_channels: int, cfg: GeneratorConfig, resolution: int,
                 is_last: bool, use_fp16: bool) -> None:
        super().__init__()
        self.in_channels, self.resolution, self.is_last = in_channels, resolution, is_last
        self.architecture, self.use_fp16 = cfg.architecture, use_fp16
        self.register_buffer("resample_filter", setup_filter(cfg.resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, cfg, resolution, up=2)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, cfg, resolution)
        self.num_conv += 1
        if is_last or cfg.architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, cfg.img_channels, cfg)
            self.num_torgb += 1
        if in_channels != 0 and cfg.architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, 1, cfg, bias=False, up=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: NoiseMode = "const", force_fp32: bool = False, fused: bool | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        w_iter = iter(ws.unbind(dim=1))
        dtype = torch.float16 if self.use_fp16 and not force_fp32 else torch.float32
        if fused is None:
            fused = dtype == torch.float32 or ws.shape[0] == 1
        kw = dict(noise_mode=noise_mode, fused=fused, generator=generator)
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = self.conv1(x, next(w_iter), **kw)
        elif self.architecture == "resnet":
            x = x.to(dtype)
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), **kw)
            x = self.conv1(x, next(w_iter), gain=math.sqrt(0.5), **kw)
            x = y + x
        else:
            x = x.to(dtype)
            x = self.conv0(x, next(w_iter), **kw)
            x = self.conv1(x, next(w_iter), **kw)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused=fused).to(torch.float32)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """W+ (B, num_ws, w_dim) → image (B, C, H, W), roughly in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.w_dim, self.num_ws = cfg.w_dim, cfg.num_ws
        self.block_resolutions = cfg.block_resolutions
        self.architecture = cfg.architecture
        for res in self.block_resolutions:
            in_channels = cfg.channels(res // 2) if res > 4 else 0
            block = SynthesisBlock(in_channels, cfg.channels(res), cfg, res, is_last=(res == cfg.img_resolution),
                                   use_fp16=(res >= cfg.fp16_resolution and cfg.num_fp16_res > 0))
            setattr(self, f"b{res}", block)

    def blocks(self) -> Iterator[SynthesisBlock]:
        for res in self.block_resolutions:
            yield getattr(self, f"b{res}")

    def preview_resolutions(self) -> tuple[int, ...]:
        """Resolutions ``forward(..., stop_at=r)`` can stop at: every block's for the skip
        architecture (its image is the sum of every block's toRGB), only the last otherwise."""
        if self.architecture == "skip":
            return tuple(self.block_resolutions)
        return (self.block_resolutions[-1],)

    def forward(self, ws: torch.Tensor, noise_mode: NoiseMode = "const", force_fp32: bool = False,
                fused: bool | None = None, generator: torch.Generator | None = None,
                stop_at: int | None = None) -> torch.Tensor:
        """``stop_at``: a resolution of ``preview_resolutions()`` — the image as built up to that
        block, a true low-resolution preview at a fraction of the cost (skip architecture)."""
        _check_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        if noise_mode not in ("const", "random", "none"):
            raise ValueError(f"noise_mode must be 'const', 'random' or 'none', got {noise_mode!r}")
        if stop_at is not None and stop_at not in self.preview_resolutions():
            raise ValueError(f"stop_at must be one of {self.preview_resolutions()} for this generator, got {stop_at}")
        ws = ws.to(torch.float32)
        # fp16 layers only where the hardware has fast, exact-enough half precision.
        force_fp32 = force_fp32 or ws.device.type != "cuda"
        x = img = None
        w_idx = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv  # toRGB shares its row with the next block's first conv
            x, img = block(x, img, block_ws, noise_mode=noise_mode, force_fp32=force_fp32, fused=fused,
                           generator=generator)
            if block.resolution == stop_at:
                break
        return img


class Generator(nn.Module):
    """Mapping + synthesis. ``mapping`` gives W+ codes; ``synthesis`` turns them into images."""

    def __init__(self, config: GeneratorConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = dataclasses.replace(config or GeneratorConfig(), **overrides)
        self.config = cfg
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    @property
    def device(self) -> torch.device:
        return self.mapping.w_avg.device

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: NoiseMode = "const") -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)

    def z_from_seed(self, seed: int, batch: int = 1) -> torch.Tensor:
        """z drawn from a seed the way NVIDIA's generate.py does (numpy RandomState)."""
        z = np.random.RandomState(seed).randn(batch, self.config.z_dim)
        return torch.from_numpy(z).to(torch.float32).to(self.device)

    @torch.no_grad()
    def w_from_seed(self, seed: int, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                    c: torch.Tensor | None = None) -> torch.Tensor:
        """The W+ code (1, num_ws, w_dim) of a seed's face."""
        return self.mapping(self.z_from_seed(seed), c, truncation_psi=truncation_psi,
                            truncation_cutoff=truncation_cutoff)

    @torch.inference_mode()
    def synthesize(self, ws: torch.Tensor, noise_mode: NoiseMode = "const", stop_at: int | None = None) -> torch.Tensor:
        """Batched inference: W+ (B, num_ws, w_dim) → float images (B, C, H, W); ``stop_at`` gives a
        low-resolution preview (``SynthesisNetwork.forward``)."""
        return self.synthesis(ws.to(self.device), noise_mode=noise_mode, stop_at=stop_at)

    def preview_resolution(self, size: int) -> int:
        """The cheapest resolution at which synthesis can stop and still give at least ``size``
        pixels (the full resolution when none can)."""
        return min((r for r in self.synthesis.preview_resolutions() if r >= size),
                   default=self.config.img_resolution)


def images_to_uint8(img: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) floats in [-1, 1] → (B, H, W, C) uint8, rounding as NVIDIA's generate.py."""
    img = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return img.cpu().numpy()


def images_from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 → (N, C, H, W) float32 in [-1, 1], the generator's range: u / 127.5 − 1."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0


def reject_unknown_keys(cls: type, d: Mapping[str, Any], what: str) -> None:
    """Raise ValueError naming the keys of ``d`` that are not fields of the dataclass ``cls``."""
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"unknown {what} keys: {', '.join(unknown)}")


def _check_shape(t: torch.Tensor | None, shape: list[int | None], name: str) -> None:
    if t is None:
        raise ValueError(f"{name} is required")
    if t.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, t.shape)):
        want = "(" + ", ".join("B" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")


# A call of the generator makes at most this much of one layer's output: on the CPU a bigger batch
# only costs. Random config-F 1024, one thread, CPU ms a face at batch 1 / 2 / 4 / 16: 2154 / 2219
# / 2647 / 3660, peak memory 1.0 / 1.8 / 2.9 / 14.6 GB (a 128 MB layer output is past what
# ``allocator`` keeps at batch 16); stopped at 256 px 1287 / 1296 / 1416 / 1421.
BATCH_LAYER_BYTES = 128 * 2**20


def frames_per_call(cfg: GeneratorConfig, stop_at: int | None = None) -> int:
    """The most frames one call may synthesize within ``BATCH_LAYER_BYTES`` (at least 1)."""
    last = stop_at or cfg.img_resolution
    largest = max(cfg.channels(r) * (r + cfg.kernel_size) ** 2 * 4 for r in cfg.block_resolutions if r <= last)
    return max(1, BATCH_LAYER_BYTES // largest)


def synthesize_frames(G: Generator, ws: np.ndarray, batch: int = 1, noise_mode: NoiseMode = "const",
                      stop_at: int | None = None) -> np.ndarray:
    """uint8 frames (N, H, W, C) of W+ codes (N, num_ws, w_dim), up to ``batch`` codes per call of
    ``G`` (fewer where a layer would outgrow ``BATCH_LAYER_BYTES``); ``stop_at``: low-resolution
    previews (``Generator.synthesize``).

    ``batch=1`` makes each frame's bytes independent of its neighbours (convolution kernels differ
    with the batch size); larger batches are for measurements, where that does not matter.
    """
    ws = np.ascontiguousarray(ws, np.float32)
    if len(ws) == 0:
        res = stop_at or G.config.img_resolution
        return np.zeros((0, res, res, G.config.img_channels), np.uint8)
    batch = max(1, min(batch, frames_per_call(G.config, stop_at)))
    return np.concatenate([images_to_uint8(G.synthesize(torch.from_numpy(ws[i:i + batch]), noise_mode=noise_mode,
                                                        stop_at=stop_at))
                           for i in range(0, len(ws), batch)])
