"""The statistical tests behind every check, each returning an :class:`Outcome`.

Tolerances come from the Monte Carlo standard error of the statistic itself (z-tests) or from
an exact finite-sample law (chi-square goodness of fit, Kolmogorov–Smirnov); the acceptance
threshold is the per-check level of the run (Bonferroni, see ``registry``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy import stats


@dataclasses.dataclass
class Outcome:
    """What one check measured.  ``p_value`` is two-sided unless the test says otherwise."""

    test: str
    expected: float
    estimate: float
    stderr: float
    statistic: float
    p_value: float
    tolerance: str
    curve: dict | None = None  # optional {"n", "estimate", "stderr", "expected", "xlabel", "ylabel"}


def _z(estimate: float, expected: float, se: float, test: str, tolerance: str) -> Outcome:
    z = (estimate - expected) / se if se > 0 else (0.0 if estimate == expected else np.inf)
    return Outcome(test, float(expected), float(estimate), float(se), float(z),
                   float(2 * stats.norm.sf(abs(z))), tolerance)


def z_mean(samples, expected: float) -> Outcome:
    """z = (x̄ − E)/(s/√N): the sample mean is asymptotically normal with SE s/√N."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    return _z(x.mean(), expected, x.std(ddof=1) / np.sqrt(x.size), "z (mean)",
              f"SE = s/sqrt(N), N = {x.size}")


def z_variance(samples, expected: float) -> Outcome:
    """z for the sample variance: SE² = (m₄ − s⁴)/N (delta method, finite fourth moment)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    c = x - x.mean()
    var = c.var(ddof=1)
    se = np.sqrt(max(np.mean(c ** 4) - np.mean(c ** 2) ** 2, 0.0) / x.size)
    return _z(var, expected, se, "z (variance)", f"SE² = (m4 − s⁴)/N, N = {x.size}")


def z_proportion(hits, expected: float) -> Outcome:
    """z for a frequency of events: SE = √(p(1 − p)/N) with p the closed-form probability."""
    h = np.asarray(hits, dtype=bool).ravel()
    se = np.sqrt(expected * (1.0 - expected) / h.size)
    return _z(h.mean(), expected, se, "z (proportion)", f"SE = sqrt(p(1-p)/N), N = {h.size}")


def z_last(generation, values, expected, ylabel: str | None = None, *,
           test: Callable[..., Outcome] = z_mean) -> Outcome:
    """``test`` of ``values (trials, R)`` at the last recorded generation against the closed
    form ``expected (R,)`` there; with ``ylabel``, also the check's :func:`curve`."""
    v = np.asarray(values)
    out = test(v[:, -1], float(np.asarray(expected)[-1]))
    if ylabel is not None:
        out.curve = curve(generation, v, expected, ylabel)
    return out


def ks_two_sample(a, b) -> Outcome:
    """Two-sample Kolmogorov–Smirnov test of equal laws (exact/asymptotic p from scipy)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    res = stats.ks_2samp(a, b)
    return Outcome("KS two-sample", 0.0, float(res.statistic), float(np.sqrt((a.size + b.size) / (a.size * b.size))),
                   float(res.statistic), float(res.pvalue),
                   f"Kolmogorov law of D, n = {a.size}, m = {b.size}")


def chi_square(observed, probs, min_expected: float = 5.0) -> Outcome:
    """Goodness of fit of category counts to exact probabilities.

    Adjacent categories are pooled until each expected count is at least ``min_expected``
    (so the χ² approximation of Pearson's statistic holds); dof = bins − 1.
    """
    obs = np.asarray(observed, dtype=np.float64).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    n = obs.sum()
    exp_counts = n * p / p.sum()
    pooled_o, pooled_e, acc_o, acc_e = [], [], 0.0, 0.0
    for o, e in zip(obs, exp_counts):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= min_expected:
            pooled_o.append(acc_o)
            pooled_e.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0 or acc_o > 0:
        if pooled_e:
            pooled_o[-1] += acc_o
            pooled_e[-1] += acc_e
        else:
            pooled_o, pooled_e = [acc_o], [acc_e]
    o, e = np.array(pooled_o), np.array(pooled_e)
    chi2 = float(np.sum((o - e) ** 2 / e))
    dof = max(o.size - 1, 1)
    return Outcome("chi-square", float(dof), chi2, float(np.sqrt(2 * dof)), chi2,
                   float(stats.chi2.sf(chi2, dof)),
                   f"Pearson chi-square, {o.size} pooled bins (expected >= {min_expected:g}), dof = {dof}")


def curve(generation, values, expected, ylabel: str) -> dict:
    """A check's figure data: per recorded generation, mean ± SE over trials and the closed form.

    ``values`` is ``(trials, R)``; ``expected`` the closed form at ``generation``.
    """
    v = np.asarray(values, dtype=np.float64)
    return {"n": np.asarray(generation).tolist(), "estimate": v.mean(0).tolist(),
            "stderr": (v.std(0, ddof=1) / np.sqrt(v.shape[0])).tolist(),
            "expected": np.asarray(expected, dtype=np.float64).tolist(),
            "xlabel": "generation n", "ylabel": ylabel}
