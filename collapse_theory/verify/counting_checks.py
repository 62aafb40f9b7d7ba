"""Checks of the counting chains (Poisson, Bernoulli MLE) against ``theory.counting``.

The families are written as users write them (:class:`collapse_theory.Family` with exact
shortcuts: statistics ``(N, Σx)`` and ``Σx`` drawn in law), so these checks also exercise the
generic chain of :mod:`collapse_theory.chain`.  Each negative control simulates a deliberately
wrong variant: another sample size, another policy, or a biased estimator.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import chain
from ..family import Family
from ..samplers import binomial
from ..theory import counting as theory
from . import stats
from .registry import check

_SRC = "Suresh et al. 2024 (arXiv:2412.17646); derived in proofs/{}_chain.py"


def _float():
    return jnp.result_type(float)


@functools.lru_cache(maxsize=None)
def family(law: str, prior: float = 0.0) -> Family:
    """Poisson or Bernoulli fitted by ``(Σx + prior·c)/(N + prior)`` (``prior = 0``: the MLE;
    Poisson ``c = 0``, Bernoulli ``c = ½``: a biased estimator for the controls)."""
    shift = 0.5 * prior if law == "bernoulli" else 0.0

    def sample(key, rate, n):
        draw = jax.random.poisson(key, rate, (n,)) if law == "poisson" else \
            jax.random.bernoulli(key, rate, (n,))
        return draw.astype(_float())

    def stats_(x, w):
        return jnp.sum(w), jnp.sum(w * x)

    def fit_stats(s):
        return (s[1] + shift) / (s[0] + prior)

    def sample_stats(key, rate, n):
        total = jax.random.poisson(key, n * rate) if law == "poisson" else binomial(key, n, rate)
        return n.astype(_float()), total.astype(_float())

    return Family(sample, lambda x, w: fit_stats(stats_(x, w)), stats_,
                  lambda a, b: (a[0] + b[0], a[1] + b[1]), fit_stats, sample_stats, name=law)


def _path(key, law, rate0, *, m, n, trials, policy="replace", prior=0.0, record=None):
    """``(generations, values (trials, R))`` of the chain's fitted rate."""
    res = chain.simulate(key, family(law, prior), rate0, sample_size=m, generations=n,
                         trials=trials, policy=policy, record=record)
    return np.asarray(res.generation), np.asarray(res.params, np.float64)


def _final(key, law, rate0, **kw):
    return _path(key, law, rate0, record=[kw["n"]], **kw)[1][:, -1]


@check("counting.poisson.mean",
       title="E λ_n = λ_0, Poisson MLE (λ_0 = 2, M = 10, n = 20)", source=_SRC.format("poisson"),
       formula="E λ_n = λ_0 (martingale)", control="the biased fit Σx/(N + 1)")
def _(key, scale, control):
    lam = _final(key, "poisson", 2.0, m=10, n=20, trials=10_000 * scale,
                 prior=1.0 if control else 0.0)
    return stats.z_mean(lam, float(theory.poisson_mean(2.0, 10, 20)[20]))


@check("counting.poisson.variance",
       title="Var λ_n, Poisson MLE under replace (λ_0 = 2, M = 10, n = 20)",
       source=_SRC.format("poisson"), formula="E(λ_n − λ_0)² = n λ_0/M",
       control="simulate M = 14")
def _(key, scale, control):
    gen, lam = _path(key, "poisson", 2.0, m=14 if control else 10, n=20, trials=10_000 * scale)
    expected = theory.poisson_variance(2.0, 10, 20)
    out = stats.z_mean((lam[:, -1] - 2.0) ** 2, float(expected[20]))
    out.curve = stats.curve(gen, (lam - 2.0) ** 2, expected[gen], "E(λ_n − λ_0)²")
    return out


@check("counting.poisson.extinction",
       title="P(λ_n = 0), Poisson MLE under replace (λ_0 = 0.5, M = 10, n = 20)",
       source=_SRC.format("poisson"),
       formula="exp(M λ_0 (f_{n−1}(0) − 1)), f(s) = e^{s−1} (Galton–Watson)",
       control="simulate M = 14")
def _(key, scale, control):
    lam = _final(key, "poisson", 0.5, m=14 if control else 10, n=20, trials=10_000 * scale)
    return stats.z_proportion(lam == 0.0, float(theory.poisson_extinction(0.5, 10, 20)[20]))


@check("counting.poisson.accumulate.variance",
       title="Var λ_n, Poisson MLE under accumulate (λ_0 = 2, M = 10, n = 20)",
       source=_SRC.format("poisson"), formula="E(λ_n − λ_0)² = (λ_0/M) Σ_{k≤n} 1/k²",
       control="simulate the replace policy")
def _(key, scale, control):
    lam = _final(key, "poisson", 2.0, m=10, n=20, trials=10_000 * scale,
                 policy="replace" if control else "accumulate")
    return stats.z_mean((lam - 2.0) ** 2,
                        float(theory.poisson_variance(2.0, 10, 20, "accumulate")[20]))


@check("counting.bernoulli.heterozygosity",
       title="E p_n(1 − p_n), Bernoulli MLE under replace (p_0 = 0.3, M = 10, n = 20)",
       source=_SRC.format("bernoulli"), formula="p_0(1 − p_0)(1 − 1/M)^n",
       control="the biased fit (Σx + ½)/(N + 1)")
def _(key, scale, control):
    gen, p = _path(key, "bernoulli", 0.3, m=10, n=20, trials=10_000 * scale,
                   prior=1.0 if control else 0.0)
    expected = theory.bernoulli_heterozygosity(0.3, 10, 20)
    out = stats.z_mean(p[:, -1] * (1 - p[:, -1]), float(expected[20]))
    out.curve = stats.curve(gen, p * (1 - p), expected[gen], "E p_n(1 − p_n)")
    return out


@check("counting.bernoulli.absorption",
       title="P(p_n ∈ {0, 1}), Bernoulli MLE under replace (p_0 = 0.3, M = 10, n = 10)",
       source=_SRC.format("bernoulli"),
       formula="P(X_n = 0) + P(X_n = M), exact binomial chain (theory.discrete)",
       control="simulate M = 14")
def _(key, scale, control):
    p = _final(key, "bernoulli", 0.3, m=14 if control else 10, n=10, trials=10_000 * scale)
    return stats.z_proportion(np.isin(p, (0.0, 1.0)),
                              float(theory.bernoulli_absorption(0.3, 10, 10)[10]))
