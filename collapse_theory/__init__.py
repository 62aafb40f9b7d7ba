"""collapse_theory: the theory of model collapse, simulated in JAX and checked against closed forms.

Shumailov et al., "AI models collapse when trained on recursively generated data", Nature 631
(2024); arXiv:2305.17493.

A chain is a model family (:class:`Family`) + a data policy + the engine::

    import collapse_theory as ct
    res = ct.simulate(key, ct.Family(sample, fit), params0, sample_size=20, generations=100,
                      trials=10_000, policy="accumulate")
"""

from . import engine, gaussian, sources
from .chain import ChainResult, fit_rows, simulate, summarize
from .family import Family

__version__ = "0.1.0"
__all__ = ["ChainResult", "Family", "engine", "fit_rows", "gaussian", "simulate", "sources",
           "summarize"]
