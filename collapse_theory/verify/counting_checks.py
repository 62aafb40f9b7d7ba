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
from .registry import check_table

_SRC = "Suresh et al. 2024 (arXiv:2412.17646); derived in proofs/{}_chain.py; docs/theory.md §5"


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


def _rate_check(key, scale, control, *, law, rate0, n, statistic, closed_form, wrong, m=10,
                test=stats.z_mean, ylabel=None, **settings):
    """``test`` of ``statistic(θ_n)`` (``θ_n`` the fitted rate) against
    ``closed_form(θ_0, M, n)[n]``, with the curve over every generation when ``ylabel``; the
    control simulates ``(m, settings)`` with ``wrong`` over them."""
    right = dict(m=m, **settings)
    gen, values = _path(key, law, rate0, n=n, trials=10_000 * scale,
                        record=None if ylabel else [n], **(right | wrong if control else right))
    return stats.z_last(gen, statistic(values), closed_form(rate0, m, n)[gen], ylabel, test=test)


check_table({
    "counting.poisson.mean": dict(
        title="E λ_n = λ_0, Poisson MLE (λ_0 = 2, M = 10, n = 20)",
        formula="E λ_n = λ_0 (martingale)", control="the biased fit Σx/(N + 1)",
        rate0=2.0, n=20, statistic=lambda lam: lam, closed_form=theory.poisson_mean,
        wrong=dict(prior=1.0)),
    "counting.poisson.variance": dict(
        title="Var λ_n, Poisson MLE under replace (λ_0 = 2, M = 10, n = 20)",
        formula="E(λ_n − λ_0)² = n λ_0/M", control="simulate M = 14",
        rate0=2.0, n=20, statistic=lambda lam: (lam - 2.0) ** 2,
        closed_form=theory.poisson_variance, wrong=dict(m=14), ylabel="E(λ_n − λ_0)²"),
    "counting.poisson.extinction": dict(
        title="P(λ_n = 0), Poisson MLE under replace (λ_0 = 0.5, M = 10, n = 20)",
        formula="exp(M λ_0 (f_{n−1}(0) − 1)), f(s) = e^{s−1} (Galton–Watson)",
        control="simulate M = 14",
        rate0=0.5, n=20, statistic=lambda lam: lam == 0.0, test=stats.z_proportion,
        closed_form=theory.poisson_extinction, wrong=dict(m=14)),
    "counting.poisson.accumulate.variance": dict(
        title="Var λ_n, Poisson MLE under accumulate (λ_0 = 2, M = 10, n = 20)",
        formula="E(λ_n − λ_0)² = (λ_0/M) Σ_{k≤n} 1/k²", control="simulate the replace policy",
        rate0=2.0, n=20, statistic=lambda lam: (lam - 2.0) ** 2, policy="accumulate",
        closed_form=functools.partial(theory.poisson_variance, policy="accumulate"),
        wrong=dict(policy="replace")),
}, run=_rate_check, law="poisson", source=_SRC.format("poisson"))
check_table({
    "counting.bernoulli.heterozygosity": dict(
        title="E p_n(1 − p_n), Bernoulli MLE under replace (p_0 = 0.3, M = 10, n = 20)",
        formula="p_0(1 − p_0)(1 − 1/M)^n", control="the biased fit (Σx + ½)/(N + 1)",
        n=20, statistic=lambda p: p * (1 - p), closed_form=theory.bernoulli_heterozygosity,
        wrong=dict(prior=1.0), ylabel="E p_n(1 − p_n)"),
    "counting.bernoulli.absorption": dict(
        title="P(p_n ∈ {0, 1}), Bernoulli MLE under replace (p_0 = 0.3, M = 10, n = 10)",
        formula="P(X_n = 0) + P(X_n = M), exact binomial chain (theory.discrete)",
        control="simulate M = 14",
        n=10, statistic=lambda p: np.isin(p, (0.0, 1.0)), test=stats.z_proportion,
        closed_form=theory.bernoulli_absorption, wrong=dict(m=14)),
}, run=_rate_check, law="bernoulli", rate0=0.3, source=_SRC.format("bernoulli"))
