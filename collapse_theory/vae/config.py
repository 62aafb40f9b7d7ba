r"""The VAE's configuration (:class:`Config`) and its validation at the Python boundary."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from .. import _validate
from .networks import ARCHS, LIKELIHOODS


#: Hidden widths (mlp) or channels (conv) when ``Config.widths`` is ``None``.
DEFAULT_WIDTHS = {"mlp": (128,), "conv": (4, 8), "linear": ()}


class Config(NamedTuple):
    """A VAE and how each generation trains it (Shumailov et al. 2023, Figs 8–9, where they
    apply).

    The defaults are the paper's where they carry over to 1437 8×8 digits (20 latents,
    Bernoulli likelihood, batch 256, Adam at 1e-3 with weight decay 1e-5, β = 1, a fresh
    network per generation).  Two do not: the paper's conv net (64, 128 channels) is for 28×28
    MNIST, and its 30 epochs of 60 000 images are ~7000 Adam steps, 30 epochs of the digits
    only 180.  Measured on the 2-core CPU (medians over 4 trials, fit 1; real digits' class
    entropy 2.29 nats): conv (4, 8) × 30 epochs: validation ELBO −32.2 nats, its samples'
    class entropy 1.12 (under-trained: blurred digits); mlp (128,) × 300 epochs (1800 steps):
    −24.4 nats, 2.26, at 1.7× the time (44 s against 26 s for 4 trials × 3 generations);
    mlp (256, 128) × 300: −23.9, 2.23, at 6× the time.  The default is mlp (128,) × 300.

    Attributes:
      latent: latent dimensions (paper: 20).
      arch: ``"mlp"`` (default), ``"conv"`` (the paper's architecture, scaled down) or
        ``"linear"`` (:mod:`~collapse_theory.vae.networks`).
      widths: hidden widths (mlp), channels ``(c₁, c₂)`` of the two convolutions (conv;
        ignored by linear); ``None``: :data:`DEFAULT_WIDTHS` of the architecture.  Conv's
        (4, 8) is chosen for time on a 2-core CPU, where the chain's trials are vmapped into
        XLA's grouped convolutions: 5 epochs of 16 trials took 1.1 s at (4, 8), 7.0 s at
        (8, 16) and ~24 s at (16, 32) (under load).
      epochs: passes over the fit's data per generation (paper: 30 of MNIST; above).  On a
        pool of ``N`` live points an epoch is ``ceil(N / batch)`` minibatches of one random
        permutation.
      batch: minibatch size (paper: 256).
      lr: Adam's learning rate (paper: 1e-3).
      weight_decay: L2 weight decay added to the gradient before Adam, as PyTorch's
        ``Adam(weight_decay=...)`` the paper used (paper: 1e-5).
      beta: weight of the KL term in the training loss (paper: 1).
      likelihood: ``"bernoulli"`` (binary cross-entropy summed over pixels; the paper) or
        ``"gaussian"`` (learned isotropic observation variance; with arch ``"linear"``: PPCA).
    """

    latent: int = 20
    arch: str = "mlp"
    widths: tuple | None = None
    epochs: int = 300
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
    widths = DEFAULT_WIDTHS[arch] if config.widths is None else config.widths
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
