"""Checks of the discrete resampling chain against the exact references of ``theory.discrete``.

Marginal laws (counts, extinction, absorption and fixation times) are compared with the exact
binomial chain by Pearson chi-square tests over pooled bins; moments by z-tests.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import discrete
from ..theory import discrete as theory
from . import stats
from .registry import check, check_table, check_with

_MOMENTS = "derived in proofs/discrete_moments.py"
_DOC = "docs/theory.md §2"
_CHAIN = ("exact (M+1)-state binomial chain, collapse_theory.theory.discrete; "
          "proofs/discrete_absorption.py; docs/theory.md §2")
#: p_0 of the small checks: an interior category (0.3) and a tail one (0.05).
P0 = np.array([0.4, 0.3, 0.15, 0.1, 0.05])


def _perturbed(p: np.ndarray, i: int = 1, by: float = 0.03) -> np.ndarray:
    """``p`` with ``by`` more mass on category ``i``, taken evenly from the others."""
    q = p - by / (p.size - 1)
    q[i] = p[i] + by
    return q


def _sim(key, scale, control, *, wrong, n=10, trials=20_000, record=None, **chain):
    """``trials × scale`` chains of ``chain`` (:func:`discrete.simulate`'s ``probs`` (default
    ``P0``), ``sample_size`` (default 20) and options) recorded at ``n`` unless ``record``; the
    control simulates with ``wrong`` over ``chain``."""
    chain = dict(probs=P0, sample_size=20) | chain
    return discrete.simulate(key, generations=n, trials=trials * scale,
                             record=[n] if record is None else record,
                             **(chain | wrong if control else chain))


def _last_counts(res) -> np.ndarray:
    return np.asarray(res.counts, dtype=np.float64)[:, -1]


def _frequency(res, i: int) -> np.ndarray:
    """``p_n(i)``: category ``i``'s count over the last fit's sample size."""
    return _last_counts(res)[:, i] / res.sample_size[-1]


def _gini(res) -> np.ndarray:
    return np.asarray(discrete.gini_simpson(res), dtype=np.float64)


def _support(res) -> np.ndarray:
    return np.asarray(discrete.support_size(res), dtype=np.float64)


@check("discrete.mean_probs", title="E p_n(i) = p_0(i): category 0.3 (K=5, M=20, n=10)",
       source=f"{_DOC} (frequencies are martingales); {_MOMENTS}",
       formula="E p_n = p_0", control="simulate from p_0 with +0.03 on that category")
def _(key, scale, control):
    res = _sim(key, scale, control, wrong=dict(probs=_perturbed(P0)))
    return stats.z_mean(_frequency(res, 1), P0[1])


@check("discrete.var_probs", title="Var p_n(i): category 0.3 (K=5, M=20, n=10)",
       source=f"{_DOC}; {_MOMENTS}", formula="p(1−p)(1 − (1−1/M)^n)",
       control="simulate with M = 15")
def _(key, scale, control):
    res = _sim(key, scale, control, wrong=dict(sample_size=15))
    return stats.z_variance(_frequency(res, 1), float(theory.prob_variance(P0, 20, 10)[10, 1]))


def _gini_mean(key, scale, control, *, m, n, wrong, closed_form=theory.expected_gini_simpson,
               ylabel=None, **options):
    """z-test of ``E H_n`` against ``closed_form(P0, m, n, **options)``."""
    res = _sim(key, scale, control, wrong=wrong, n=n, sample_size=m,
               record="log" if ylabel else None, **options)
    gens = np.asarray(res.generation)
    return stats.z_last(gens, _gini(res), closed_form(P0, m, n, **options)[gens], ylabel)


def _smoothed_gini(probs, m, n, *, mix):
    return theory.moments(probs, m, n, mix=mix).gini_simpson


check_table({
    "discrete.gini_simpson": dict(
        title="E H_n, H = 1 − Σp² (K=5, M=20, n=10)", source=f"{_DOC}; {_MOMENTS}",
        formula="H_0 (1 − 1/M)^n", control="simulate with M = 15",
        m=20, n=10, wrong=dict(sample_size=15)),
    "discrete.gini_simpson.schedule": dict(
        title="E H_n under M_g = 10 + 2g (K=5, n=20)",
        source=f"{_DOC} (growing M_i); {_MOMENTS}", formula="H_0 Π_{g≤n}(1 − 1/M_g)",
        control="simulate with constant M = 10",
        m=10 + 2 * np.arange(1, 21), n=20, wrong=dict(sample_size=np.full(20, 10)),
        ylabel="E H_n (M_g = 10 + 2g)"),
    "discrete.smoothed.gini_simpson": dict(
        title="E H_n with uniform mixing ε = 0.05 (K=5, M=20, n=30)",
        source=f"{_DOC} (exact one-step moment recursion); {_MOMENTS}",
        formula="E q'² = a²[(1−1/M) E q² + E q/M] + 2ab E q + b²", control="simulate with ε = 0",
        m=20, n=30, mix=0.05, wrong=dict(mix=0.0), closed_form=_smoothed_gini),
}, run=_gini_mean)


@check("discrete.count_law", title="law of a category's count X_n (p=0.3, M=20, n=5)",
       source=_CHAIN, formula="X_n ~ P^n from X_0 = Mp, P(x, ·) = Bin(M, x/M)",
       control="simulate from p_0 with +0.03 on that category")
def _(key, scale, control):
    m, n = 20, 5
    res = _sim(key, scale, control, n=n, wrong=dict(probs=_perturbed(P0)))
    counts = _last_counts(res)[:, 1].astype(np.int64)
    return stats.chi_square(np.bincount(counts, minlength=m + 1),
                            theory.count_law(P0[1], m, n))


def _event(key, scale, control, *, event, probability, category, by=0.03, m=20, n=400):
    """z-test of the frequency of ``event(result, category)`` against
    ``probability(p_0(category), m, n)``; the control starts from ``p_0`` with ``by`` more mass
    on ``category``."""
    res = _sim(key, scale, control, n=n, sample_size=m,
               wrong=dict(probs=_perturbed(P0, category, by)))
    return stats.z_proportion(event(res, category), float(probability(P0[category], m, n)))


check_with(_event, "discrete.one_step_loss",
           title="P(no sample of a state with q = 0.05) in one fit (M=50)",
           source="Shumailov et al. 2024, discrete case: a state vanishes with probability "
                  "(1−q)^M; " + _DOC,
           formula="(1 − q)^M", control="simulate from p_0 with +0.02 on that state",
           event=lambda res, i: _last_counts(res)[:, i] == 0, category=4, by=0.02, m=50, n=1,
           probability=lambda q, m, n: theory.no_sample_probability(q, m))


@check("discrete.one_step_support", title="E #categories seen in one fit, Zipf K=50 (M=100)",
       source=f"Shumailov et al. 2024, discrete case; {_DOC} (one step)",
       formula="Σ_i [1 − (1 − p_i)^M]",
       control="simulate with M = 90")
def _(key, scale, control):
    p = discrete.zipf(50, 1.1)
    res = _sim(key, scale, control, n=1, probs=p, sample_size=100, wrong=dict(sample_size=90))
    return stats.z_mean(_support(res)[:, -1], float(theory.one_step_expected_support(p, 100)))


@check("discrete.expected_support", title="E #surviving categories, Zipf K=50 (M=100, n=30)",
       source=_CHAIN, formula="Σ_i (1 − P(X_n^i = 0))", control="simulate with M = 90")
def _(key, scale, control):
    p, m, n = discrete.zipf(50, 1.1), 100, 30
    res = _sim(key, scale, control, n=n, trials=5_000, record="log", probs=p, sample_size=m,
               wrong=dict(sample_size=90))
    gens = np.asarray(res.generation)
    return stats.z_last(gens, _support(res), theory.expected_support(p, m, n)[gens],
                        "E #surviving categories (Zipf K=50, M=100)")


def _at(closed_form):
    """``closed_form(q, m, n)`` at generation ``n``."""
    return lambda q, m, n: closed_form(q, m, n)[n]


check_table({
    "discrete.eventual_loss": dict(
        title="P(state with q = 0.05 lost by fit 400) → 1 − q (M=20)",
        source="Shumailov et al. 2024, discrete case: lost with probability 1 − q eventually; "
               + _CHAIN,
        formula="P(X_400 = 0) (= 1 − q up to 1e-10 at M = 20)",
        control="simulate from p_0 with +0.03 on that state",
        event=lambda res, i: np.asarray(res.extinction)[:, i] > 0, category=4,
        probability=_at(theory.extinction_probability)),
    "discrete.fixation": dict(
        title="P(category 0.3 fixes by fit 400) → p_0 (M=20)",
        source="fixation probability = p_0 (martingale); " + _CHAIN,
        formula="P(X_400 = M) (= p_0 in the limit)", control="simulate from p_0 with +0.03 on it",
        event=lambda res, i: _last_counts(res)[:, i] == res.sample_size[-1], category=1,
        probability=_at(theory.fixation_probability)),
}, run=_event)


def _absorption_time(res, n: int) -> np.ndarray:
    """Category 1's extinction generation when it is lost, else its fixation generation."""
    ext = np.asarray(res.extinction)[:, 1]
    fixed = _last_counts(res)[:, 1] == res.sample_size[-1]
    return np.where(ext > 0, ext, np.where(fixed, np.asarray(res.fixation), n + 1))


def _fixation_time(res, n: int) -> np.ndarray:
    fix = np.asarray(res.fixation)
    return np.where(fix > 0, fix, n + 1)


def _time_law(key, scale, control, *, time, pmf, n=400):
    """χ² of the times ``time(result, n)`` (``n + 1``: not yet by ``n``) against
    ``P(T = 0..n) = pmf(20, n)`` plus the tail; the control simulates with M = 22."""
    res = _sim(key, scale, control, n=n, wrong=dict(sample_size=22))
    law = pmf(20, n)
    probs = np.concatenate([law, [max(1.0 - law.sum(), 0.0)]])
    return stats.chi_square(np.bincount(time(res, n), minlength=probs.size), probs)


check_table({
    "discrete.absorption_time": dict(
        title="law of a category's absorption time (p=0.3, M=20)",
        source="fundamental matrix of the binomial chain; " + _CHAIN,
        formula="P(T = n), T = min{n: X_n ∈ {0, M}}", control="simulate with M = 22",
        time=_absorption_time, pmf=functools.partial(theory.absorption_time_pmf, P0[1])),
    "discrete.fixation_time": dict(
        title="law of the fixation time (one category left; K=5, M=20)",
        source="theory.discrete.fixation_time_pmf (marginal chains); " + _CHAIN,
        formula="P(T_fix ≤ n) = Σ_i P(X_n^i = M)", control="simulate with M = 22",
        time=_fixation_time, pmf=functools.partial(theory.fixation_time_pmf, P0)),
}, run=_time_law)
