"""collapse_theory: the theory of model collapse, simulated in JAX and checked against closed forms.

Shumailov et al., "AI models collapse when trained on recursively generated data", Nature 631
(2024); arXiv:2305.17493.
"""

from . import engine, gaussian, sources

__version__ = "0.1.0"
__all__ = ["engine", "gaussian", "sources"]
