r"""A variational autoencoder refitted generation after generation (Shumailov et al. 2023,
"The Curse of Recursion", §4 and Figs 8–9).

Each generation trains a fresh VAE from scratch on images decoded by the previous generation
(Bernoulli means of ``N(0, I)`` latents, as many as the real training set; no real data after
fit 1 under ``replace``).  D0 is scikit-learn's 8×8 digits with a fixed 1437/360 split
(:mod:`~collapse_theory.vae.data`) or the user's images.

* :class:`Config`, :func:`family` (a :class:`collapse_theory.Family`: every data policy through
  :func:`collapse_theory.chain.simulate`), :func:`model` (the family with its networks);
* :func:`simulate` → :class:`VAEResult`: latent spread under the fit-1 encoder, class entropy,
  MMD² and ELBO per generation, measured inside the chain;
* :mod:`~collapse_theory.vae.networks`, :mod:`~collapse_theory.vae.train` (the ELBO and the
  optax loop), :mod:`~collapse_theory.vae.metrics`.
"""

from . import data, metrics, networks, train
from .config import Config
from .data import digits
from .family import Model, Params, family, model
from .simulate import POINTS, SHOWN, VAEResult, simulate

__all__ = ["POINTS", "SHOWN", "Config", "Model", "Params", "VAEResult", "data", "digits",
           "family", "metrics", "model", "networks", "simulate", "train"]
