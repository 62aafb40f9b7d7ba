r"""A variational autoencoder refitted generation after generation (Shumailov et al. 2023, Figs 8–9).

WIP.
"""

from .config import Config
from .data import digits
from .family import Model, Params, family, model

__all__ = ["Config", "Model", "Params", "digits", "family", "model"]
