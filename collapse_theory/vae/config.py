r"""The VAE's configuration (:class:`Config`) and its validation at the Python boundary."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .. import _validate
from .networks import ARCHS, LIKELIHOODS


class Config(NamedTuple):
    """A VAE and how each generation trains it (Shumailov et al. 2023, Figs 8–9, where they
    apply).

    Attributes:
      latent: latent dimensions (paper: 20).
      arch: ``"conv"``, ``"mlp"`` or ``"linear"`` (:mod:`~collapse_theory.vae.networks`).
      widths: channels ``(c₁, c₂)`` of the two convolutions (conv) or the hidden widths (mlp;
        ignored by linear).  The paper's (64, 128) is for 28×28 MNIST.  The default (4, 8) is
        chosen for time on a 2-core CPU, where the chain's trials are vmapped into XLA's
        grouped convolutions: 5 epochs of 16 trials on the 1437 digits took 1.1 s at (4, 8),
        7.0 s at (8, 16) and ~24 s at (16, 32) (measured under load); a 16-trial ×
        20-generation replace chain with the defaults took 551 s on a 2-core machine at load
        average ~7.5 (shared), compilation included.  The validation ELBO of fit 1 is −31.9
        nats at (4, 8) and −27.4 at (16, 32): wider networks fit better where time allows.
      epochs: passes over the fit's data per generation (paper: 30).  On a pool of ``N`` live
        points an epoch is ``ceil(N / batch)`` minibatches of one random permutation.  30
        epochs of the 1437 digits are 180 Adam steps (the paper's 30 epochs of MNIST: ~7000):
        fit 1 is under-trained (medians over 16 trials: validation ELBO −31.9 nats, its
        samples' class entropy 1.15 nats against 2.29 for real digits); 300 epochs give −25.8
        and 2.20 (8 trials) at 10× the time.
      batch: minibatch size (paper: 256).
      lr: Adam's learning rate (paper: 1e-3).
      weight_decay: L2 weight decay added to the gradient before Adam, as PyTorch's
        ``Adam(weight_decay=...)`` the paper used (paper: 1e-5).
      beta: weight of the KL term in the training loss (paper: 1).
      likelihood: ``"bernoulli"`` (binary cross-entropy summed over pixels; the paper) or
        ``"gaussian"`` (learned isotropic observation variance; with arch ``"linear"``: PPCA).
    """

    latent: int = 20
    arch: str = "conv"
    widths: tuple = (4, 8)
    epochs: int = 30
    batch: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-5
    beta: float = 1.0
    likelihood: str = "bernoulli"


def check(config) -> Config:
    """``config`` validated and normalised (Python ints and floats, ``widths`` a tuple);
    ``None`` is the default :class:`Config`.  ``TypeError``/``ValueError`` name the field."""
    if config is None:
        return Config()
    if not isinstance(config, Config):
        raise TypeError(f"config must be a collapse_theory.vae.Config or None, "
                        f"got {type(config).__name__}")
    arch = _validate.choice("config.arch", config.arch, ARCHS)
    widths = config.widths
    if isinstance(widths, (numbers.Integral, np.integer)) and not isinstance(widths, bool):
        widths = (widths,)
    if not isinstance(widths, (tuple, list)):
        raise TypeError(f"config.widths must be a tuple of integers, got {widths!r}")
    widths = tuple(_validate.integer(f"config.widths[{i}]", v, minimum=1, maximum=4096)
                   for i, v in enumerate(widths))
    if arch == "conv" and len(widths) != 2:
        raise ValueError(f"config.widths must be (c1, c2), the two convolutions' channels, for "
                         f"arch 'conv'; got {widths!r}")
    if arch == "mlp" and not widths:
        raise ValueError("config.widths must hold at least one hidden width for arch 'mlp', "
                         "got ()")
    return Config(
        latent=_validate.integer("config.latent", config.latent, minimum=1, maximum=4096),
        arch=arch,
        widths=widths if arch != "linear" else (),
        epochs=_validate.integer("config.epochs", config.epochs, minimum=1, maximum=100_000),
        batch=_validate.integer("config.batch", config.batch, minimum=1, maximum=1 << 20),
        lr=_validate.real("config.lr", config.lr, minimum=0.0, strict_minimum=True),
        weight_decay=_validate.real("config.weight_decay", config.weight_decay, minimum=0.0),
        beta=_validate.real("config.beta", config.beta, minimum=0.0),
        likelihood=_validate.choice("config.likelihood", config.likelihood, LIKELIHOODS))
