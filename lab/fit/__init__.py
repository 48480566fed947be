"""Fitting the default generator to the procedural renderer: a supervised fit, not a GAN.

The StyleGAN2 generator learns ``G(z) ≈ render_face(prior.decode(z))`` for z ~ N(0, I), with
``FacePrior`` (``lab.face_prior``) the fixed map from z to renderer parameters. The loss is
an L1 pyramid (full, 1/2 and 1/4 resolution, average-pooled) plus an L1 on the image's finite
differences, which keeps edges sharp; optional terms weigh what shows expressions: the features
probe's stage outputs, an L1 inside the brows, eyes and mouth, and (on batches of pairs, one
person with two expressions) an L1 on the change between the two. ``FitConfig.identities`` gives
a share of each batch a few fixed people: expression and pose are learned only where the person is
fixed (``lab.fit.fidelity.channel_response`` measures it; the model card has the numbers). Adam with StyleGAN2's betas (0, 0.99) and an exponential
moving average of the weights (``G_ema``, half-life ``ema_nimg`` images with StyleGAN2-ADA's
ramp-up) as in Karras et al. (2020); ``G_ema`` is what is exported, with ``w_avg`` set to the
mean of mapping(z) so that truncation pulls towards the average face.

Resuming is exact: a step's z are drawn from ``(data_seed, step)`` and nothing else is random,
so a run that is stopped and resumed gives the same weights as one that was not.

Modules: ``config`` (FitConfig), ``loss``, ``data`` (targets, worker pool), ``state`` (a fit in
progress, the step, the EMA), ``checkpoint`` (exact resume), ``export``, ``loop`` (``fit``) and
``sheet``.
"""

from lab.fit.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_NAME, CHECKPOINT_VERSION, load_checkpoint, save_checkpoint
from lab.fit.config import DEFAULT_GENERATOR, FitConfig, LossWeights
from lab.fit.data import (
    EVAL_SEED,
    Targets,
    TargetSource,
    batch_latents,
    eval_latents,
    identity_pool,
    render_batch,
    render_targets,
)
from lab.fit.export import export_generator, export_model, mean_w
from lab.fit.loop import LOG_NAME, fit
from lab.fit.loss import LossParts, fit_loss
from lab.fit.sheet import sample_sheet
from lab.fit.state import (
    PRECISIONS,
    FitResult,
    FitState,
    evaluate,
    generate,
    new_fit,
    set_optimizer,
    train_step,
    update_ema,
    warm_start,
)

__all__ = [
    "CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "CHECKPOINT_VERSION", "DEFAULT_GENERATOR", "EVAL_SEED", "LOG_NAME", "PRECISIONS",
    "FitConfig", "FitResult", "FitState", "LossParts", "LossWeights", "Targets", "TargetSource",
    "batch_latents", "eval_latents", "identity_pool", "evaluate", "export_generator", "export_model", "fit", "fit_loss", "generate",
    "load_checkpoint", "mean_w", "new_fit", "render_batch", "render_targets", "sample_sheet", "save_checkpoint", "set_optimizer",
    "train_step",
    "update_ema", "warm_start",
]
