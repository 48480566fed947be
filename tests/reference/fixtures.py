"""Fixture builders for tests: write NVIDIA-style network pickles and rosinality-style
checkpoints with deterministic, non-trivial random parameters, and compute reference
outputs with the independent test-only implementations in this directory.

Everything here is CPU-only and deterministic for a given ``seed``.  See README.md.
"""

import argparse
import contextlib
import copy
import importlib
import os
import pickle
import sys

import torch

__all__ = [
    "NVIDIA_ROOT",
    "nvidia_importable",
    "nvidia_modules",
    "make_nvidia_pickle",
    "nvidia_reference_ws",
    "nvidia_reference_synthesis",
    "nvidia_reference_images",
    "make_rosinality_checkpoint",
    "rosinality_reference_ws",
    "rosinality_reference_images",
]

HERE = os.path.dirname(os.path.abspath(__file__))
# Root that makes ``torch_utils``, ``dnnlib`` and ``training`` importable under the
# exact top-level names that NVIDIA pickles refer to.
NVIDIA_ROOT = os.path.join(HERE, "nvidia")

try:  # imported as part of a package (tests.reference / reference)
    from . import rosinality as _ros
except ImportError:  # imported as a top-level module with this directory on sys.path
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    import rosinality as _ros  # type: ignore[no-redef]

rosinality = _ros


@contextlib.contextmanager
def nvidia_importable():
    """Temporarily put tests/reference/nvidia first on sys.path.  Modules imported
    while it is there stay in sys.modules afterwards."""
    added = NVIDIA_ROOT not in sys.path
    if added:
        sys.path.insert(0, NVIDIA_ROOT)
    try:
        yield
    finally:
        if added:
            try:
                sys.path.remove(NVIDIA_ROOT)
            except ValueError:
                pass


def nvidia_modules():
    """(dnnlib, persistence, networks) imported under their NVIDIA top-level names."""
    with nvidia_importable():
        dnnlib = importlib.import_module("dnnlib")
        persistence = importlib.import_module("torch_utils.persistence")
        networks = importlib.import_module("training.networks")
    expected = os.path.join(NVIDIA_ROOT, "training", "networks.py")
    if os.path.abspath(networks.__file__) != expected:
        raise RuntimeError(f"'training.networks' resolves to {networks.__file__}, not the test reference "
                           f"implementation at {expected}")
    return dnnlib, persistence, networks


# ----------------------------------------------------------------------------
# Parameter randomisation.


def _fill_(tensor, values):
    with torch.no_grad():
        tensor.copy_(values.reshape(tensor.shape).to(tensor.dtype))


def _randomize_nvidia_(module, networks, gen, *, w_avg_scale=0.5):
    """Give every parameter/buffer of an NVIDIA-layout module a non-trivial value.

    Weights get N(0, 1) in the *stored* parametrisation (for FullyConnectedLayer that
    is N(0,1)/lr_multiplier, as at init); biases get effective values 0.1*N(0,1)
    (affine biases 1 + 0.1*N(0,1)); noise strengths 0.2*N(0,1); w_avg
    ``w_avg_scale``*N(0,1); const / noise_const N(0,1).  FIR filters are left alone.
    """
    def randn(t):
        return torch.randn(t.shape, generator=gen, dtype=torch.float32)

    for name, sub in module.named_modules():
        if isinstance(sub, networks.FullyConnectedLayer):
            lr = float(sub.bias_gain)
            _fill_(sub.weight, randn(sub.weight) / lr)
            if sub.bias is not None:
                center = 1.0 if name.endswith("affine") else 0.0
                _fill_(sub.bias, (center + 0.1 * randn(sub.bias)) / lr)
        elif isinstance(sub, (networks.SynthesisLayer, networks.ToRGBLayer, networks.Conv2dLayer)):
            _fill_(sub.weight, randn(sub.weight))
            if sub.bias is not None:
                _fill_(sub.bias, 0.1 * randn(sub.bias))
            if isinstance(sub, networks.SynthesisLayer) and sub.use_noise:
                _fill_(sub.noise_strength, 0.2 * randn(sub.noise_strength))
                _fill_(sub.noise_const, randn(sub.noise_const))
        elif isinstance(sub, networks.SynthesisBlock) and sub.in_channels == 0:
            _fill_(sub.const, randn(sub.const))
        elif isinstance(sub, networks.MappingNetwork) and hasattr(sub, "w_avg"):
            _fill_(sub.w_avg, w_avg_scale * randn(sub.w_avg))


def _perturb_(module, gen, scale=0.05):
    """Small deterministic perturbation of all floating parameters (not buffers)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype))


# ----------------------------------------------------------------------------
# NVIDIA stylegan2-ada-pytorch pickles.


# nn.Module.__dict__ keys created by torch 1.7's Module.__init__ (the torch generation
# NVIDIA's released pickles were written with); newer torch adds more hook dicts.
TORCH17_MODULE_KEYS = (
    "training", "_parameters", "_buffers", "_non_persistent_buffers_set", "_backward_hooks",
    "_forward_hooks", "_forward_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks", "_modules",
)
_NEWER_MODULE_KEYS = (
    "_backward_pre_hooks", "_is_full_backward_hook", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs", "_state_dict_pre_hooks", "_load_state_dict_post_hooks", "_compiled_call_impl",
)


def _torch17_state(state):
    return {k: v for k, v in state.items() if k not in _NEWER_MODULE_KEYS}


def make_nvidia_pickle(path, *, seed=0, z_dim=32, w_dim=32, img_resolution=32, img_channels=3, c_dim=0,
                       mapping_kwargs=None, synthesis_kwargs=None, protocol=None, with_discriminator=True,
                       module_state="current"):
    """Write a stylegan2-ada-pytorch style training snapshot to ``path`` and return its G_ema.

    Networks are constructed the way ``train.py`` does it (all arguments as keywords,
    ``mapping_kwargs`` / ``synthesis_kwargs`` as ``dnnlib.EasyDict``).  Defaults:
    ``mapping_kwargs = {num_layers: 2}`` and
    ``synthesis_kwargs = {channel_base: 512, channel_max: 32, num_fp16_res: 4, conv_clamp: 256}``
    (train.py's fp16/clamp settings, tiny channel counts).  Anything given replaces
    the default dict entirely (NVIDIA's class defaults then apply to missing keys).

    The file holds, in this key order and like ``training_loop.py``'s snapshot:
    ``{'training_set_kwargs': dict, 'G': Generator, 'D': Discriminator|None,
    'G_ema': Generator, 'augment_pipe': None}``; every module is a deep copy put in
    eval mode with requires_grad False.  It is written with ``pickle.dump`` (protocol
    ``protocol``; None = Python's default, which is what NVIDIA's training loop used).
    ``G`` is G_ema plus a small perturbation so the two differ.

    ``module_state='torch1.7'`` drops the nn.Module bookkeeping keys that torch versions
    newer than 1.7 add (hook dicts such as ``_forward_hooks_with_kwargs``), so each
    persistent object's state looks like one written by the torch of NVIDIA's release;
    'current' (default) keeps this torch's ``Module.__getstate__()``.

    Returns the pickled G_ema object itself (eval mode).
    """
    if module_state not in ("current", "torch1.7"):
        raise ValueError("module_state must be 'current' or 'torch1.7'")
    dnnlib, _persistence, networks = nvidia_modules()
    if mapping_kwargs is None:
        mapping_kwargs = dict(num_layers=2)
    if synthesis_kwargs is None:
        synthesis_kwargs = dict(channel_base=512, channel_max=32, num_fp16_res=4, conv_clamp=256)
    mapping_kwargs = dnnlib.EasyDict(mapping_kwargs)
    synthesis_kwargs = dnnlib.EasyDict(synthesis_kwargs)

    gen = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        G = networks.Generator(z_dim=z_dim, w_dim=w_dim, mapping_kwargs=mapping_kwargs,
                               synthesis_kwargs=synthesis_kwargs, c_dim=c_dim,
                               img_resolution=img_resolution, img_channels=img_channels)
        G.eval().requires_grad_(False)
        _randomize_nvidia_(G, networks, gen)
        G_train = copy.deepcopy(G)
        _perturb_(G_train, gen)

        D = None
        if with_discriminator:
            d_kwargs = dict(
                block_kwargs=dnnlib.EasyDict(),
                mapping_kwargs=dnnlib.EasyDict(),
                epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=4),
                channel_base=synthesis_kwargs.get("channel_base", 32768),
                channel_max=synthesis_kwargs.get("channel_max", 512),
                num_fp16_res=synthesis_kwargs.get("num_fp16_res", 0),
                conv_clamp=synthesis_kwargs.get("conv_clamp", None),
            )
            D = networks.Discriminator(**d_kwargs, c_dim=c_dim, img_resolution=img_resolution,
                                       img_channels=img_channels)
            _randomize_nvidia_(D, networks, gen)

    training_set_kwargs = dnnlib.EasyDict(class_name="training.dataset.ImageFolderDataset",
                                          path="datasets/fixture.zip", use_labels=(c_dim > 0), max_size=1000,
                                          xflip=False, resolution=img_resolution)
    # training_loop.py: dict(training_set_kwargs), then G, D, G_ema, augment_pipe in order.
    snapshot = dict(training_set_kwargs=dict(training_set_kwargs))
    for name, module in [("G", G_train), ("D", D), ("G_ema", G), ("augment_pipe", None)]:
        if module is not None:
            module = copy.deepcopy(module).eval().requires_grad_(False).cpu()
        snapshot[name] = module

    previous = _persistence.state_transform
    _persistence.state_transform = _torch17_state if module_state == "torch1.7" else None
    try:
        with nvidia_importable():
            with open(path, "wb") as f:
                if protocol is None:
                    pickle.dump(snapshot, f)
                else:
                    pickle.dump(snapshot, f, protocol=protocol)
    finally:
        _persistence.state_transform = previous
    return snapshot["G_ema"]


def _labels(G, z, c):
    if c is None:
        if G.c_dim > 0:
            raise ValueError("this generator is conditional (c_dim > 0); pass c")
        c = torch.zeros([z.shape[0], 0], dtype=torch.float32)
    return c


def nvidia_reference_ws(G, z, c=None, truncation_psi=1.0, truncation_cutoff=None):
    """Reference ``G.mapping(z, c, ...)``: [N, num_ws, w_dim] float32."""
    with torch.no_grad():
        return G.mapping(z.to(torch.float32), _labels(G, z, c), truncation_psi=truncation_psi,
                         truncation_cutoff=truncation_cutoff)


def nvidia_reference_synthesis(G, ws, noise_mode="const"):
    """Reference ``G.synthesis(ws, noise_mode=..., force_fp32=True)``."""
    with torch.no_grad():
        return G.synthesis(ws.to(torch.float32), noise_mode=noise_mode, force_fp32=True)


def nvidia_reference_images(G, z, c=None, truncation_psi=1.0, truncation_cutoff=None, noise_mode="const"):
    """Reference ``G(z, c, truncation_psi, truncation_cutoff, noise_mode=..., force_fp32=True)``:
    [N, img_channels, R, R] float32, roughly in [-1, 1] (not clamped)."""
    with torch.no_grad():
        return G(z.to(torch.float32), _labels(G, z, c), truncation_psi=truncation_psi,
                 truncation_cutoff=truncation_cutoff, noise_mode=noise_mode, force_fp32=True)


# ----------------------------------------------------------------------------
# rosinality stylegan2-pytorch checkpoints.


def _randomize_rosinality_(G, gen):
    """Non-trivial values for every parameter and noise buffer (blur/upsample FIR
    kernels are left alone): weights N(0,1) (stored parametrisation, i.e. /lr_mul for
    EqualLinear), effective biases 0.1*N(0,1) (modulation biases 1 + 0.1*N(0,1)),
    noise weights 0.2*N(0,1), constant input and noises N(0,1)."""
    def randn(t):
        return torch.randn(t.shape, generator=gen, dtype=torch.float32)

    for name, sub in G.named_modules():
        if isinstance(sub, _ros.EqualLinear):
            lr = float(sub.lr_mul)
            _fill_(sub.weight, randn(sub.weight) / lr)
            if sub.bias is not None:
                center = 1.0 if name.endswith("modulation") else 0.0
                _fill_(sub.bias, (center + 0.1 * randn(sub.bias)) / lr)
        elif isinstance(sub, _ros.ModulatedConv2d):
            _fill_(sub.weight, randn(sub.weight))
        elif isinstance(sub, _ros.NoiseInjection):
            _fill_(sub.weight, 0.2 * randn(sub.weight))
        elif isinstance(sub, _ros.FusedLeakyReLU) and sub.bias is not None:
            _fill_(sub.bias, 0.1 * randn(sub.bias))
        elif isinstance(sub, _ros.ToRGB):
            _fill_(sub.bias, 0.1 * randn(sub.bias))
        elif isinstance(sub, _ros.ConstantInput):
            _fill_(sub.input, randn(sub.input))
    for _, buf in G.noises.named_buffers():
        _fill_(buf, randn(buf))


def _tiny_discriminator_state(gen, channels=8):
    """A small dict of tensors with rosinality Discriminator key names."""
    blur = _ros.make_kernel([1, 3, 3, 1])
    spec = {
        "convs.0.0.weight": (channels, 3, 1, 1),
        "convs.0.1.bias": (channels,),
        "convs.1.conv1.0.weight": (channels, channels, 3, 3),
        "convs.1.conv1.1.bias": (channels,),
        "convs.1.conv2.1.weight": (channels, channels, 3, 3),
        "convs.1.conv2.2.bias": (channels,),
        "convs.1.skip.1.weight": (channels, channels, 1, 1),
        "final_conv.0.weight": (channels, channels + 1, 3, 3),
        "final_conv.1.bias": (channels,),
        "final_linear.0.weight": (channels, channels * 16),
        "final_linear.0.bias": (channels,),
        "final_linear.1.weight": (1, channels),
        "final_linear.1.bias": (1,),
    }
    state = {}
    for key, shape in spec.items():
        state[key] = torch.randn(shape, generator=gen)
        if key == "convs.1.conv1.1.bias":
            state["convs.1.conv2.0.kernel"] = blur.clone()
        if key == "convs.1.conv2.2.bias":
            state["convs.1.skip.0.kernel"] = blur.clone()
    return state


def _adam_state(params, lr, betas, steps):
    opt = torch.optim.Adam(params, lr=lr, betas=betas)
    for _ in range(steps):
        for p in params:
            p.grad = torch.ones_like(p) * 1e-3
        opt.step()
    return opt.state_dict()


def make_rosinality_checkpoint(path, *, seed=0, size=16, style_dim=32, n_mlp=2, channel_multiplier=2,
                               legacy_format=False, channel_max=None, layout="train", lr_mlp=0.01):
    """Write a rosinality/stylegan2-pytorch checkpoint with ``torch.save`` and return the
    matching reference generator (g_ema weights, eval mode).

    layout='train' (default) writes the keys of rosinality's train.py checkpoints plus
    convert_weight.py's 'latent_avg':
        {'g', 'd', 'g_ema', 'g_optim', 'd_optim', 'args', 'ada_aug_p', 'latent_avg'}
    ('args' is an argparse.Namespace like train.py's; 'd' is a small dict of tensors).
    layout='converted' writes only convert_weight.py's {'g_ema', 'latent_avg'}.
    'latent_avg' is a random [style_dim] vector (like TF's dlatent_avg).

    legacy_format=True saves with ``_use_new_zipfile_serialization=False`` (pre-1.6
    torch format).  ``channel_max`` is a test-speed extension that caps rosinality's
    channel table (512 at 4..32 px); None keeps the original table.
    """
    if layout not in ("train", "converted"):
        raise ValueError("layout must be 'train' or 'converted'")
    gen = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        g_ema = _ros.Generator(size, style_dim, n_mlp, channel_multiplier=channel_multiplier, lr_mlp=lr_mlp,
                               channel_max=channel_max)
    g_ema.eval().requires_grad_(False)
    _randomize_rosinality_(g_ema, gen)
    latent_avg = torch.randn([style_dim], generator=gen) * 0.5

    if layout == "converted":
        ckpt = {"g_ema": g_ema.state_dict(), "latent_avg": latent_avg}
    else:
        g_train = copy.deepcopy(g_ema)
        _perturb_(g_train, gen)
        d_state = _tiny_discriminator_state(gen)
        d_params = [torch.nn.Parameter(v.clone()) for k, v in d_state.items() if not k.endswith("kernel")]
        g_reg_ratio = 4 / 5
        d_reg_ratio = 16 / 17
        g_optim = torch.optim.Adam(list(g_train.parameters()), lr=0.002 * g_reg_ratio,
                                   betas=(0 ** g_reg_ratio, 0.99 ** g_reg_ratio)).state_dict()
        d_optim = _adam_state(d_params, 0.002 * d_reg_ratio, (0 ** d_reg_ratio, 0.99 ** d_reg_ratio), steps=1)
        args = argparse.Namespace(
            path="lmdb/fixture", arch="stylegan2", iter=800000, batch=16, n_sample=64, size=size, r1=10.0,
            path_regularize=2.0, path_batch_shrink=2, d_reg_every=16, g_reg_every=4, mixing=0.9, ckpt=None,
            lr=0.002, channel_multiplier=channel_multiplier, wandb=False, local_rank=0, augment=False,
            augment_p=0.0, ada_target=0.6, ada_length=500000, ada_every=256, distributed=False,
            latent=style_dim, n_mlp=n_mlp, start_iter=0,
        )
        ckpt = {
            "g": g_train.state_dict(),
            "d": d_state,
            "g_ema": g_ema.state_dict(),
            "g_optim": g_optim,
            "d_optim": d_optim,
            "args": args,
            "ada_aug_p": 0.0,
            "latent_avg": latent_avg,
        }

    if legacy_format:
        torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    else:
        torch.save(ckpt, path)
    g_ema.latent_avg = latent_avg  # convenience for tests (not part of the module state)
    return g_ema


def rosinality_reference_ws(G, z, truncation=1.0, truncation_latent=None):
    """The per-layer latents rosinality's forward uses: [N, n_latent, style_dim]."""
    with torch.no_grad():
        _, latent = G([z.to(torch.float32)], return_latents=True, truncation=truncation,
                      truncation_latent=truncation_latent, randomize_noise=False)
    return latent


def rosinality_reference_images(G, z, truncation=1.0, truncation_latent=None):
    """Reference ``G([z], truncation=..., truncation_latent=..., randomize_noise=False)[0]``
    (stored ``noises.noise_i`` buffers): [N, 3, size, size] float32."""
    with torch.no_grad():
        img, _ = G([z.to(torch.float32)], truncation=truncation, truncation_latent=truncation_latent,
                   randomize_noise=False)
    return img
