"""Checks of the discrete resampling chain against the exact references of ``theory.discrete``.

Marginal laws (counts, extinction, absorption and fixation times) are compared with the exact
binomial chain by Pearson chi-square tests over pooled bins; moments by z-tests.
"""

from __future__ import annotations

import numpy as np

from .. import discrete
from ..theory import discrete as theory
from . import stats
from .registry import check

_MOMENTS = "derived in proofs/discrete_moments.py"
_CHAIN = "exact (M+1)-state binomial chain, collapse_theory.theory.discrete"
#: p_0 of the small checks: an interior category (0.3) and a tail one (0.05).
P0 = np.array([0.4, 0.3, 0.15, 0.1, 0.05])


def _perturbed(p: np.ndarray, i: int = 1, by: float = 0.03) -> np.ndarray:
    """``p`` with ``by`` more mass on category ``i``, taken evenly from the others."""
    q = p - by / (p.size - 1)
    q[i] = p[i] + by
    return q


def _sim(key, probs, *, m, n, trials, record=None, **kw):
    return discrete.simulate(key, probs, sample_size=m, generations=n, trials=trials,
                             record=[n] if record is None else record, **kw)


def _last_counts(res) -> np.ndarray:
    return np.asarray(res.counts, dtype=np.float64)[:, -1]


@check("discrete.mean_probs", title="E p_n(i) = p_0(i): category 0.3 (K=5, M=20, n=10)",
       source=f"theory README §2 (frequencies are martingales); {_MOMENTS}",
       formula="E p_n = p_0", control="simulate from p_0 with +0.03 on that category")
def _(key, scale, control):
    m, n = 20, 10
    res = _sim(key, _perturbed(P0) if control else P0, m=m, n=n, trials=20_000 * scale)
    return stats.z_mean(_last_counts(res)[:, 1] / m, P0[1])


@check("discrete.var_probs", title="Var p_n(i): category 0.3 (K=5, M=20, n=10)",
       source=f"theory README §2; {_MOMENTS}", formula="p(1−p)(1 − (1−1/M)^n)",
       control="simulate with M = 15")
def _(key, scale, control):
    m, n = 20, 10
    res = _sim(key, P0, m=15 if control else m, n=n, trials=20_000 * scale)
    counts = _last_counts(res)[:, 1]
    return stats.z_variance(counts / (15 if control else m),
                            float(theory.prob_variance(P0, m, n)[n, 1]))


@check("discrete.gini_simpson", title="E H_n, H = 1 − Σp² (K=5, M=20, n=10)",
       source=f"theory README §2; {_MOMENTS}", formula="H_0 (1 − 1/M)^n",
       control="simulate with M = 15")
def _(key, scale, control):
    m, n = 20, 10
    res = _sim(key, P0, m=15 if control else m, n=n, trials=20_000 * scale)
    h = np.asarray(discrete.gini_simpson(res), dtype=np.float64)[:, -1]
    out = stats.z_mean(h, float(theory.expected_gini_simpson(P0, m, n)[n]))
    return out


@check("discrete.gini_simpson.schedule", title="E H_n under M_g = 10 + 2g (K=5, n=20)",
       source=f"theory README §2 (growing M_i); {_MOMENTS}", formula="H_0 Π_{g≤n}(1 − 1/M_g)",
       control="simulate with constant M = 10")
def _(key, scale, control):
    n = 20
    sched = 10 + 2 * np.arange(1, n + 1)
    res = _sim(key, P0, m=np.full(n, 10) if control else sched, n=n, trials=20_000 * scale,
               record="log")
    h = np.asarray(discrete.gini_simpson(res), dtype=np.float64)
    expected = theory.expected_gini_simpson(P0, sched, n)
    out = stats.z_mean(h[:, -1], float(expected[n]))
    out.curve = stats.curve(res.generation, h, expected[res.generation], "E H_n (M_g = 10 + 2g)")
    return out


@check("discrete.smoothed.gini_simpson", title="E H_n with uniform mixing ε = 0.05 (K=5, M=20, n=30)",
       source=f"exact one-step moment recursion; {_MOMENTS}",
       formula="E q'² = a²[(1−1/M) E q² + E q/M] + 2ab E q + b²", control="simulate with ε = 0")
def _(key, scale, control):
    m, n, eps = 20, 30, 0.05
    res = _sim(key, P0, m=m, n=n, trials=20_000 * scale, mix=0.0 if control else eps)
    h = np.asarray(discrete.gini_simpson(res), dtype=np.float64)[:, -1]
    return stats.z_mean(h, float(theory.moments(P0, m, n, mix=eps).gini_simpson[n]))


@check("discrete.count_law", title="law of a category's count X_n (p=0.3, M=20, n=5)",
       source=_CHAIN, formula="X_n ~ P^n from X_0 = Mp, P(x, ·) = Bin(M, x/M)",
       control="simulate from p_0 with +0.03 on that category")
def _(key, scale, control):
    m, n = 20, 5
    res = _sim(key, _perturbed(P0) if control else P0, m=m, n=n, trials=20_000 * scale)
    counts = _last_counts(res)[:, 1].astype(np.int64)
    return stats.chi_square(np.bincount(counts, minlength=m + 1),
                            theory.count_law(P0[1], m, n))


@check("discrete.one_step_loss", title="P(no sample of a state with q = 0.05) in one fit (M=50)",
       source="Shumailov et al. (discrete case): a state vanishes with probability (1−q)^M",
       formula="(1 − q)^M", control="simulate from p_0 with +0.02 on that state")
def _(key, scale, control):
    m = 50
    res = _sim(key, _perturbed(P0, 4, 0.02) if control else P0, m=m, n=1, trials=20_000 * scale)
    return stats.z_proportion(_last_counts(res)[:, 4] == 0,
                              float(theory.no_sample_probability(P0[4], m)))


@check("discrete.one_step_support", title="E #categories seen in one fit, Zipf K=50 (M=100)",
       source="theory README §2 (one-step facts)", formula="Σ_i [1 − (1 − p_i)^M]",
       control="simulate with M = 90")
def _(key, scale, control):
    p = discrete.zipf(50, 1.1)
    res = _sim(key, p, m=90 if control else 100, n=1, trials=20_000 * scale)
    support = np.asarray(discrete.support_size(res), dtype=np.float64)[:, -1]
    return stats.z_mean(support, float(theory.one_step_expected_support(p, 100)))


@check("discrete.expected_support", title="E #surviving categories, Zipf K=50 (M=100, n=30)",
       source=_CHAIN, formula="Σ_i (1 − P(X_n^i = 0))", control="simulate with M = 90")
def _(key, scale, control):
    p, m, n = discrete.zipf(50, 1.1), 100, 30
    res = _sim(key, p, m=90 if control else m, n=n, trials=5_000 * scale, record="log")
    support = np.asarray(discrete.support_size(res), dtype=np.float64)
    expected = theory.expected_support(p, m, n)
    out = stats.z_mean(support[:, -1], float(expected[n]))
    out.curve = stats.curve(res.generation, support, expected[res.generation],
                            "E #surviving categories (Zipf K=50, M=100)")
    return out


@check("discrete.eventual_loss", title="P(state with q = 0.05 lost by fit 400) → 1 − q (M=20)",
       source="Shumailov et al. (discrete case): lost with probability 1 − q eventually; " + _CHAIN,
       formula="P(X_400 = 0) (= 1 − q up to 1e-10 at M = 20)",
       control="simulate from p_0 with +0.03 on that state")
def _(key, scale, control):
    m, n = 20, 400
    res = _sim(key, _perturbed(P0, 4) if control else P0, m=m, n=n, trials=20_000 * scale)
    lost = np.asarray(res.extinction)[:, 4] > 0
    return stats.z_proportion(lost, float(theory.extinction_probability(P0[4], m, n)[n]))


@check("discrete.fixation", title="P(category 0.3 fixes by fit 400) → p_0 (M=20)",
       source="theory README §2 (fixation probability = p_0, martingale); " + _CHAIN,
       formula="P(X_400 = M) (= p_0 in the limit)", control="simulate from p_0 with +0.03 on it")
def _(key, scale, control):
    m, n = 20, 400
    res = _sim(key, _perturbed(P0) if control else P0, m=m, n=n, trials=20_000 * scale)
    fixed = _last_counts(res)[:, 1] == m
    return stats.z_proportion(fixed, float(theory.fixation_probability(P0[1], m, n)[n]))


def _time_law(t, pmf):
    """χ² of times ``t`` (``n + 1`` = not yet by ``n``) against ``P(T = 0..n)`` plus the tail."""
    probs = np.concatenate([pmf, [max(1.0 - pmf.sum(), 0.0)]])
    return stats.chi_square(np.bincount(t, minlength=probs.size), probs)


@check("discrete.absorption_time", title="law of a category's absorption time (p=0.3, M=20)",
       source="fundamental matrix of the binomial chain; " + _CHAIN,
       formula="P(T = n), T = min{n: X_n ∈ {0, M}}", control="simulate with M = 22")
def _(key, scale, control):
    m, n = 20, 400
    res = _sim(key, P0, m=22 if control else m, n=n, trials=20_000 * scale)
    # T is the extinction generation when the category is lost, else the fixation generation.
    ext = np.asarray(res.extinction)[:, 1]
    fix = np.asarray(res.fixation)
    fixed_here = _last_counts(res)[:, 1] == (22 if control else m)
    t = np.where(ext > 0, ext, np.where(fixed_here, fix, n + 1))
    return _time_law(t, theory.absorption_time_pmf(P0[1], m, n))


@check("discrete.fixation_time", title="law of the fixation time (one category left; K=5, M=20)",
       source="theory.discrete.fixation_time_pmf (marginal chains); " + _CHAIN,
       formula="P(T_fix ≤ n) = Σ_i P(X_n^i = M)", control="simulate with M = 22")
def _(key, scale, control):
    m, n = 20, 400
    res = _sim(key, P0, m=22 if control else m, n=n, trials=20_000 * scale)
    fix = np.asarray(res.fixation)
    t = np.where(fix > 0, fix, n + 1)
    return _time_law(t, theory.fixation_time_pmf(P0, m, n))
