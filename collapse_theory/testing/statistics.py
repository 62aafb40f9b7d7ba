r"""The package's statistical tests, each returning an :class:`Outcome` with its p-value.

One implementation of each test serves ``collapse-theory verify``, the calibrated assertions of
:mod:`collapse_theory.testing.assertions` and the project's own test suite.  Tolerances come
from the Monte Carlo standard error of the statistic (z-tests) or from an exact finite-sample
law or bound (Kolmogorov–Smirnov, Dvoretzky–Kiefer–Wolfowitz–Massart, Pearson's χ²):

* z-tests: ``z = (θ̂ − θ)/SE``, two-sided ``p = 2 P(T_{N−1} > |z|)`` (Student's t reference: the
  exact law of the standardised mean of a normal sample, the normal law as ``N → ∞``);
* DKWM (Massart 1990): ``P(sup_x |F_N(x) − F(x)| > ε) ≤ 2 exp(−2Nε²)`` for every ``F`` —
  continuous, discrete or mixed — so ``p = min(1, 2 exp(−2Nε²))`` is valid with no normality;
* one-sample KS: ``D = sup_x |F_N(x) − F(x)|`` with left limits at atoms, ``p`` from the exact
  Kolmogorov law of ``D`` for a continuous ``F`` (conservative when ``F`` has atoms);
* Pearson's χ² with adjacent bins pooled until each expected count is ≥ 5.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy import stats

#: Smallest expected count per pooled bin of the χ² tests (Cochran's rule).
MIN_EXPECTED = 5.0


@dataclasses.dataclass
class Outcome:
    """What one test measured.  ``p_value`` is two-sided unless the test says otherwise."""

    test: str
    expected: float
    estimate: float
    stderr: float
    statistic: float
    p_value: float
    tolerance: str
    curve: dict | None = None  # optional {"n", "estimate", "stderr", "expected", "xlabel", "ylabel"}


def _z(estimate: float, expected: float, se: float, dof: float, test: str,
       tolerance: str) -> Outcome:
    z = (estimate - expected) / se if se > 0 else (0.0 if estimate == expected else np.inf)
    p = stats.norm.sf(abs(z)) if np.isinf(dof) else stats.t.sf(abs(z), dof)
    return Outcome(test, float(expected), float(estimate), float(se), float(z), float(2 * p),
                   tolerance)


def z_mean(samples, expected: float) -> Outcome:
    """``z = (x̄ − E)/(s/√N)`` against Student's ``t_{N−1}`` (exact for normal samples, the
    CLT's normal law for large ``N``)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    return _z(x.mean(), expected, x.std(ddof=1) / np.sqrt(x.size), x.size - 1, "z (mean)",
              f"SE = s/sqrt(N), Student t with N - 1 = {x.size - 1} dof")


def z_variance(samples, expected: float) -> Outcome:
    """z for the sample variance: ``SE² = (m₄ − s⁴)/N`` (delta method, finite fourth moment)."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    c = x - x.mean()
    var = c.var(ddof=1)
    se = np.sqrt(max(np.mean(c ** 4) - np.mean(c ** 2) ** 2, 0.0) / x.size)
    return _z(var, expected, se, np.inf, "z (variance)", f"SE² = (m4 − s⁴)/N, N = {x.size}")


def z_proportion(hits, expected: float) -> Outcome:
    """z for a frequency of events: ``SE = √(p(1 − p)/N)`` with ``p`` the closed-form
    probability."""
    h = np.asarray(hits, dtype=bool).ravel()
    se = np.sqrt(expected * (1.0 - expected) / h.size)
    return _z(h.mean(), expected, se, np.inf, "z (proportion)",
              f"SE = sqrt(p(1-p)/N), N = {h.size}")


def dkwm_epsilon(n, rate):
    """Half-width of the DKWM band at level ``rate``: ``ε = √(log(2/rate)/(2n))``."""
    return np.sqrt(np.log(2.0 / rate) / (2.0 * np.asarray(n, dtype=np.float64)))


def dkwm_mean(samples, expected: float, low: float, high: float) -> Outcome:
    r"""Mean of a law on ``[low, high]`` with no normality assumed (TFP's
    ``assert_true_mean_equal_by_dkwm``).

    The DKWM band ``|F − F_N| ≤ ε`` bounds the mean: moving mass ``ε`` from the bottom of the
    sample to ``high`` gives the largest mean ``x̄ + ε·high − ∫₀^ε Q_N(u) du`` (and symmetrically
    the smallest).  The p-value is ``2 exp(−2Nε*²)`` at the smallest ``ε*`` whose interval
    contains ``expected`` (piecewise linear in ``ε``: exact).
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if x[0] < low or x[-1] > high or not low <= expected <= high:
        return Outcome("DKWM (mean)", float(expected), float(x.mean()), np.nan, np.inf, 0.0,
                       f"samples or expected outside the support [{low:g}, {high:g}]")
    mean = x.mean()
    eps = np.arange(n + 1) / n
    if expected >= mean:  # largest mean at ε = k/N: drop the k lowest points, add k·high/N
        edge = mean + eps * high - np.concatenate([[0.0], np.cumsum(x)]) / n
    else:  # smallest: drop the k highest, add k·low/N
        edge = mean + eps * low - np.concatenate([[0.0], np.cumsum(x[::-1])]) / n
    dist = np.abs(edge - mean)
    target = abs(expected - mean)
    k = int(np.searchsorted(dist, target))  # dist is nondecreasing in ε
    if k == 0:
        e = 0.0
    else:
        step = dist[k] - dist[k - 1]
        e = eps[k - 1] + (target - dist[k - 1]) / step / n if step > 0 else eps[k]
    p = min(1.0, 2.0 * np.exp(-2.0 * n * e * e))
    return Outcome("DKWM (mean)", float(expected), float(mean), float((high - low) / np.sqrt(n)),
                   float(e), float(p),
                   f"DKWM band on [{low:g}, {high:g}], P(sup|F_N - F| > e) <= 2 exp(-2 N e²), "
                   f"N = {n}")


def ks(samples, cdf: Callable) -> Outcome:
    r"""One-sample Kolmogorov–Smirnov test of ``samples`` against the CDF ``cdf``.

    ``D = max(max_v F_N(v) − F(v), max_v F(v⁻) − F_N(v⁻))`` over the distinct sample values
    ``v``, with ``F(v⁻)`` the CDF just below ``v``: the exact supremum for any law, atoms
    included.  ``p`` is the exact Kolmogorov law of ``D`` (``scipy.stats.kstwo``), which is
    conservative (never too small) when ``F`` has atoms.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    v, first = np.unique(x, return_index=True)
    last = np.append(first[1:], n)  # F_N(v) = last/n, F_N(v⁻) = first/n
    f = np.asarray(cdf(v), dtype=np.float64)
    f_left = np.asarray(cdf(np.nextafter(v, -np.inf)), dtype=np.float64)
    if f.shape != v.shape or f_left.shape != v.shape:
        raise ValueError(f"cdf must map an array of shape {v.shape} to the same shape, "
                         f"got {f.shape}")
    d = float(max(np.max(last / n - f), np.max(f_left - first / n), 0.0))
    return Outcome("KS one-sample", 0.0, d, float(1 / np.sqrt(n)), d,
                   float(stats.kstwo.sf(d, n)),
                   f"exact Kolmogorov law of D, N = {n} (conservative with atoms)")


def ks_two_sample(a, b) -> Outcome:
    """Two-sample Kolmogorov–Smirnov test of equal laws (exact/asymptotic p from scipy;
    conservative under ties)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    res = stats.ks_2samp(a, b)
    return Outcome("KS two-sample", 0.0, float(res.statistic),
                   float(np.sqrt((a.size + b.size) / (a.size * b.size))),
                   float(res.statistic), float(res.pvalue),
                   f"Kolmogorov law of D, n = {a.size}, m = {b.size}")


def pool_bins(expected_counts, min_expected: float = MIN_EXPECTED) -> np.ndarray:
    """Bin index of each category: adjacent categories merge until each bin expects
    ``≥ min_expected``; a short last bin joins its neighbour."""
    expected_counts = np.asarray(expected_counts, dtype=np.float64).ravel()
    bins = np.zeros(expected_counts.size, dtype=np.int64)
    b, acc = 0, 0.0
    for i, e in enumerate(expected_counts):
        bins[i] = b
        acc += e
        if acc >= min_expected:
            b, acc = b + 1, 0.0
    if acc < min_expected and b > 0:
        bins[bins == b] = b - 1
    return bins


def chi_square(observed, probs, min_expected: float = MIN_EXPECTED) -> Outcome:
    """Goodness of fit of category counts to exact probabilities.

    Adjacent categories are pooled until each expected count is at least ``min_expected``
    (so the χ² approximation of Pearson's statistic holds); dof = bins − 1.  A draw in a
    category of probability 0 is impossible under the law: ``p = 0``.
    """
    obs = np.asarray(observed, dtype=np.float64).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    impossible = obs[p == 0].sum()
    if impossible:
        return Outcome("chi-square", 0.0, np.inf, np.nan, np.inf, 0.0,
                       f"{impossible:g} draws in categories of probability 0")
    exp_counts = obs.sum() * p / p.sum()
    bins = pool_bins(exp_counts, min_expected)
    o = np.bincount(bins, obs)
    e = np.bincount(bins, exp_counts)
    chi2 = float(np.sum((o - e) ** 2 / e))
    dof = max(o.size - 1, 1)
    return Outcome("chi-square", float(dof), chi2, float(np.sqrt(2 * dof)), chi2,
                   float(stats.chi2.sf(chi2, dof)),
                   f"Pearson chi-square, {o.size} pooled bins (expected >= {min_expected:g}), "
                   f"dof = {dof}")


def chi_square_homogeneity(a_counts, b_counts, min_expected: float = MIN_EXPECTED) -> Outcome:
    """Two samples' category counts from one law: Pearson's χ² on the 2 × bins table, adjacent
    categories pooled until each expected cell count is ``≥ min_expected``; dof = bins − 1."""
    a = np.asarray(a_counts, dtype=np.float64).ravel()
    b = np.asarray(b_counts, dtype=np.float64).ravel()
    total = a + b
    share = min(a.sum(), b.sum()) / (a.sum() + b.sum())
    bins = pool_bins(total * share, min_expected)
    table = np.stack([np.bincount(bins, a), np.bincount(bins, b)])
    if table.shape[1] < 2:
        return Outcome("chi-square homogeneity", 1.0, 0.0, np.sqrt(2.0), 0.0, 1.0,
                       "one pooled bin: nothing to compare")
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return Outcome("chi-square homogeneity", float(dof), chi2, float(np.sqrt(2 * dof)), chi2,
                   float(stats.chi2.sf(chi2, dof)),
                   f"Pearson chi-square, 2 x {table.shape[1]} pooled table (expected >= "
                   f"{min_expected:g}), dof = {dof}")
