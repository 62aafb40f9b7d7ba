r"""Closed forms for the counting chains: Poisson and Bernoulli refitted by maximum likelihood.

Suresh et al., "Rate of model collapse in recursive training", arXiv:2412.17646.  Fit ``g``
sees ``M_g`` draws of model ``g − 1`` and the MLE is the sample mean (of counts, or of 0/1
outcomes).  Derivations: ``proofs/poisson_chain.py`` and ``proofs/bernoulli_chain.py``.

Poisson, replace (``S_g = M λ_g ~ Poisson(M λ_{g−1})``):

* ``E λ_n = λ_0`` (martingale), ``Var λ_n = λ_0 Σ_{g≤n} 1/M_g`` (``n λ_0/M``);
* constant ``M``: ``S_g | S_{g−1} ~ Poisson(S_{g−1})`` is a Galton–Watson process with Poisson(1)
  offspring, ``f(s) = e^{s−1}``, so ``P(λ_n = 0) = exp(M λ_0 (f_{n−1}(0) − 1))``
  (``= f_n(0)^{M λ_0}`` when ``M λ_0`` is an integer).

Poisson, accumulate (``λ_n = (S_1 + … + S_n)/N_n``, ``N_n = M_1 + … + M_n``): still a martingale,
``Var λ_n = λ_0 Σ_{k≤n} M_k/N_k²`` (``(λ_0/M) Σ 1/k²`` → ``π² λ_0/(6M)``: no collapse).

Bernoulli, replace (``M p_g ~ Bin(M_g, p_{g−1})``): ``E p_n = p_0``,
``E p_n(1 − p_n) = p_0(1 − p_0) Π_{g≤n}(1 − 1/M_g)``; absorption ``P(p_n ∈ {0, 1})`` is exact from
the binomial chain of :mod:`collapse_theory.theory.discrete` (K = 2).  Accumulate:
``E p_n(1 − p_n) = p_0(1 − p_0) Π_{k≤n}(1 − M_k/N_k²)`` (:mod:`collapse_theory.theory.policies`).

All functions return float64 arrays over ``n = 0..G`` (generation 0 is D0 itself).
"""

from __future__ import annotations

import numpy as np

from .. import _validate
from . import discrete, policies

_POLICIES = ("replace", "accumulate")


def _args(rate_name: str, rate, sample_size, generations, policy, *, probability=False):
    generations = _validate.integer("generations", generations, minimum=0)
    rate = _validate.real(rate_name, rate, minimum=0.0, maximum=1.0 if probability else None)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=1).astype(np.float64)
    policy = _validate.choice("policy", policy, _POLICIES)
    return rate, m, generations, policy


def poisson_mean(lam0, sample_size, generations: int, policy="replace") -> np.ndarray:
    """``E λ_n = λ_0`` for ``n = 0..G`` (the MLE chain is a martingale under both policies)."""
    lam0, _, generations, _ = _args("lam0", lam0, sample_size, generations, policy)
    return np.full(generations + 1, lam0)


def poisson_variance(lam0, sample_size, generations: int, policy="replace") -> np.ndarray:
    r"""``Var λ_n``: ``λ_0 Σ_{g≤n} 1/M_g`` (replace) or ``λ_0 Σ_{k≤n} M_k/N_k²`` (accumulate)."""
    lam0, m, _, policy = _args("lam0", lam0, sample_size, generations, policy)
    terms = 1.0 / m if policy == "replace" else m / np.cumsum(m) ** 2
    return lam0 * np.concatenate([[0.0], np.cumsum(terms)])


def poisson_extinction(lam0, sample_size: int, generations: int) -> np.ndarray:
    r"""``P(λ_n = 0)`` under replace, constant ``M``: ``exp(M λ_0 (f_{n−1}(0) − 1))``, ``f(s) = e^{s−1}``.

    ``f_k(0)`` is the probability that a Galton–Watson line with Poisson(1) offspring is extinct
    by generation ``k``; ``M λ_0`` need not be an integer (``S_1 ~ Poisson(M λ_0)``).
    """
    lam0, _, generations, _ = _args("lam0", lam0, sample_size, generations, "replace")
    m = _validate.integer("sample_size", sample_size, minimum=1)
    f = np.zeros(max(generations, 1))  # f[k] = f_k(0), f_0(0) = 0
    for k in range(1, f.size):
        f[k] = np.exp(f[k - 1] - 1.0)
    out = np.exp(m * lam0 * (f[:generations] - 1.0))
    return np.concatenate([[float(lam0 == 0.0)], out])


def bernoulli_mean(p0, sample_size, generations: int, policy="replace") -> np.ndarray:
    """``E p_n = p_0`` for ``n = 0..G`` (martingale under both policies)."""
    p0, _, generations, _ = _args("p0", p0, sample_size, generations, policy, probability=True)
    return np.full(generations + 1, p0)


def bernoulli_heterozygosity(p0, sample_size, generations: int, policy="replace") -> np.ndarray:
    r"""``E p_n(1 − p_n)``: ``p_0(1 − p_0) Π_{g≤n}(1 − 1/M_g)`` (replace) or
    ``p_0(1 − p_0) Π_{k≤n}(1 − M_k/N_k²)`` (accumulate); half the K = 2 Gini–Simpson index."""
    p0, m, generations, policy = _args("p0", p0, sample_size, generations, policy,
                                       probability=True)
    factor = (discrete.gini_simpson_factor(m.astype(np.int64), generations)
              if policy == "replace"
              else policies.accumulate_gini_simpson_factor(m.astype(np.int64), generations))
    return p0 * (1.0 - p0) * factor


def bernoulli_variance(p0, sample_size, generations: int, policy="replace") -> np.ndarray:
    r"""``Var p_n = p_0(1 − p_0) − E p_n(1 − p_n)`` (as ``E p_n = p_0``)."""
    p0 = _validate.real("p0", p0, minimum=0.0, maximum=1.0)
    return p0 * (1.0 - p0) - bernoulli_heterozygosity(p0, sample_size, generations, policy)


def bernoulli_absorption(p0, sample_size, generations: int) -> np.ndarray:
    r"""``P(p_n ∈ {0, 1})`` under replace: ``P(X_n = 0) + P(X_n = M_n)`` of the exact binomial
    chain ``X_g ~ Bin(M_g, X_{g−1}/M_{g−1})`` (:func:`collapse_theory.theory.discrete.
    extinction_probability`, :func:`~collapse_theory.theory.discrete.fixation_probability`)."""
    p0 = _validate.real("p0", p0, minimum=0.0, maximum=1.0)
    generations = _validate.integer("generations", generations, minimum=0)
    return (discrete.extinction_probability(p0, sample_size, generations)
            + discrete.fixation_probability(p0, sample_size, generations))
