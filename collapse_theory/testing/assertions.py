r"""Calibrated assertions: each fails with probability at most ``false_fail_rate`` when the
claim is true, and raises :class:`StatisticalAssertionError` stating the statistic, the p-value,
the tolerance and where it comes from.

A claim about a batch (``expected`` of shape ``S``, ``samples`` of shape ``(N, *S)``) tests every
component and splits the rate over them (Bonferroni: ``P(any false fail) ≤ Σ rate/k = rate``),
as TFP's ``statistical_testing`` does.  :func:`spending` lets a test runner total the rates
that a test spent (the budget of the pytest plugin ``collapse_theory_pytest``).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable

import numpy as np

from . import statistics
from .statistics import Outcome

_LEDGERS: list[list[float]] = []


class StatisticalAssertionError(AssertionError):
    """A calibrated assertion failed: ``outcome`` holds the test, ``false_fail_rate`` the rate
    at which a true claim fails this way."""

    def __init__(self, message: str, outcome: Outcome, false_fail_rate: float):
        super().__init__(message)
        self.outcome = outcome
        self.false_fail_rate = false_fail_rate


@contextlib.contextmanager
def spending():
    """Collect the ``false_fail_rate`` of every assertion run inside the block (a list)."""
    ledger: list[float] = []
    _LEDGERS.append(ledger)
    try:
        yield ledger
    finally:
        _LEDGERS.remove(ledger)


def spend(rate: float) -> None:
    """Enter ``rate`` in every open :func:`spending` ledger (a claim made at that rate)."""
    for ledger in _LEDGERS:
        ledger.append(rate)


def check_rate(name: str, value) -> float:
    """``value`` as a float in ``(0, 1)``, else ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 1), got {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return value


def _array(name: str, value, *, minimum: int, finite: bool) -> np.ndarray:
    """``value`` as a float64 array with a leading sample axis of at least ``minimum``."""
    try:
        x = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}") \
            from None
    if x.ndim == 0 or x.shape[0] < minimum:
        raise ValueError(f"{name} must hold at least {minimum} samples along axis 0, "
                         f"got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError(f"{name} holds {int(np.isnan(x).sum())} NaN values")
    if finite and np.isinf(x).any():
        raise ValueError(f"{name} holds {int(np.isinf(x).sum())} infinite values; test a "
                         "quantity that stays finite (e.g. a quantile, or exp of a log scale)")
    return x


def judge(name: str, outcomes: list[Outcome], labels: list[str], rate: float) -> Outcome:
    """Raise unless every component's p-value is ``≥ rate/k`` (``labels`` name the
    components in the message); return the worst outcome."""
    spend(rate)
    k = len(outcomes)
    worst = min(range(k), key=lambda i: outcomes[i].p_value)
    out = outcomes[worst]
    if out.p_value >= rate / k:
        return out
    split = f"; Bonferroni over {k} components, worst at {labels[worst]}" if k > 1 else ""
    raise StatisticalAssertionError(
        f"{name} failed: {out.test} statistic = {out.statistic:.4g}, p = {out.p_value:.3g} "
        f"< {rate / k:.3g} (false_fail_rate = {rate:g}{f' / {k}' if k > 1 else ''})\n"
        f"  estimate {out.estimate:.6g} vs expected {out.expected:.6g} (SE {out.stderr:.3g})\n"
        f"  tolerance: {out.tolerance}{split}", out, rate)


def components(x: np.ndarray, expected) -> tuple[np.ndarray, np.ndarray, list]:
    """Samples ``(N, *S)`` as ``(N, k)``, ``expected`` broadcast to ``S`` as ``(k,)``, and each
    component's index in ``S``."""
    shape = x.shape[1:]
    try:
        e = np.broadcast_to(np.asarray(expected, dtype=np.float64), shape)
    except ValueError:
        raise ValueError(f"expected of shape {np.shape(expected)} does not broadcast to the "
                         f"samples' event shape {shape}") from None
    if np.isnan(e).any():
        raise ValueError("expected holds NaN values")
    return x.reshape(x.shape[0], -1), e.ravel(), list(np.ndindex(shape))


def assert_mean(samples, expected, *, false_fail_rate: float, bounds=None) -> Outcome:
    r"""Assert ``E[samples] = expected`` (componentwise along axis 0).

    Default: the z-test ``z = (x̄ − E)/(s/√N)`` against Student's ``t_{N−1}`` (asymptotically
    exact under the CLT; choose a statistic with light tails, e.g. ``log σ²`` not ``σ²``).
    With ``bounds=(low, high)``: the DKWM bound on the mean of a law supported there, valid for
    every ``N`` with no normality (conservative).

    Args:
      samples: ``(N, *S)`` i.i.d. draws, ``N ≥ 2``, finite.
      expected: the claimed mean, broadcastable to ``S``.
      false_fail_rate: probability in ``(0, 1)`` that a true claim fails, split over the
        ``prod(S)`` components.
      bounds: ``(low, high)`` of the support, for the distribution-free test.
    Returns:
      the :class:`~collapse_theory.testing.statistics.Outcome` of the worst component.
    """
    rate = check_rate("false_fail_rate", false_fail_rate)
    x = _array("samples", samples, minimum=2, finite=True)
    cols, e, index = components(x, expected)
    return judge("assert_mean", mean_outcomes(cols, e, bounds), [f"index {i}" for i in index],
                 rate)


def mean_outcomes(cols: np.ndarray, expected: np.ndarray, bounds=None) -> list[Outcome]:
    """The mean test of each column of ``cols (N, k)`` against ``expected (k,)``."""
    if bounds is None:
        return [statistics.z_mean(cols[:, i], expected[i]) for i in range(expected.size)]
    low, high = check_bounds(bounds)
    return [statistics.dkwm_mean(cols[:, i], expected[i], low, high)
            for i in range(expected.size)]


def check_bounds(bounds) -> tuple[float, float]:
    """``bounds`` as a finite pair ``low < high``, else ``TypeError``/``ValueError``."""
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise TypeError(f"bounds must be a pair (low, high) of numbers, got {bounds!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"bounds must be finite with low < high, got {bounds!r}")
    return low, high


def assert_law(samples, *, cdf: Callable | None = None, pmf=None,
               false_fail_rate: float) -> Outcome:
    r"""Assert that ``samples`` (i.i.d., flattened) follow a law given by ``cdf`` or ``pmf``.

    * ``cdf(x) -> F(x)`` (vectorised): one-sample Kolmogorov–Smirnov with the exact law of
      ``D``; atoms are allowed (``D`` uses ``F(v⁻)``; the test is then conservative).
    * ``pmf``: an array ``p_k`` over ``0..K−1`` or a function ``pmf(k)`` on the integers
      ``k ≥ 0``; samples must be integers.  Pearson's χ² with adjacent values pooled until
      each bin expects ``≥ 5`` draws (the mass beyond the largest draw is one more bin).
      A draw outside the support fails at once (``p = 0``).
    """
    rate = check_rate("false_fail_rate", false_fail_rate)
    if (cdf is None) == (pmf is None):
        raise TypeError("give exactly one of cdf= (continuous or mixed laws) or pmf= "
                        "(laws on the integers)")
    x = _array("samples", samples, minimum=1, finite=pmf is not None).ravel()
    if cdf is not None:
        if not callable(cdf):
            raise TypeError(f"cdf must be callable, got {cdf!r}")
        return judge("assert_law", [statistics.ks(x, cdf)], [""], rate)
    counts, probs = _integer_law(x, pmf)
    return judge("assert_law", [statistics.chi_square(counts, probs)], [""], rate)


def _integers(name: str, x: np.ndarray) -> np.ndarray:
    if not np.array_equal(x, np.round(x)):
        raise ValueError(f"{name} must be integers to test a pmf, got e.g. "
                         f"{x[x != np.round(x)][0]!r}")
    return x.astype(np.int64)


def _integer_law(x: np.ndarray, pmf) -> tuple[np.ndarray, np.ndarray]:
    """Counts of the values ``0..K`` and their probabilities; a last bin holds the rest."""
    k = _integers("samples", x)
    if callable(pmf):
        support = np.arange(max(int(k.max()), 0) + 1)
        p = np.asarray(pmf(support), dtype=np.float64)
        if p.shape != support.shape:
            raise ValueError(f"pmf must map an array of shape {support.shape} to the same "
                             f"shape, got {p.shape}")
    else:
        p = np.asarray(pmf, dtype=np.float64)
        if p.ndim != 1 or p.size == 0:
            raise ValueError(f"pmf must be a 1-D array of probabilities, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any():
        raise ValueError("pmf must give probabilities >= 0 (no NaN)")
    rest = max(1.0 - p.sum(), 0.0)
    outside = (k < 0) | (k >= p.size)
    counts = np.bincount(k[~outside], minlength=p.size).astype(np.float64)
    # draws beyond the listed values go to the last bin (probability 1 − Σp, 0 for an array
    # that sums to 1: chi_square then reports them as impossible, p = 0)
    return np.append(counts, outside.sum()), np.append(p, rest)


def assert_same_law(a, b, *, false_fail_rate: float, discrete: bool | None = None) -> Outcome:
    r"""Assert that two i.i.d. samples (flattened) come from one law.

    Continuous (default for float samples): the two-sample Kolmogorov–Smirnov test.  Discrete
    (default for integer arrays, or ``discrete=True``): Pearson's χ² test of homogeneity over the
    values seen, adjacent values pooled until each cell expects ``≥ 5``.
    """
    rate = check_rate("false_fail_rate", false_fail_rate)
    xa = _array("a", a, minimum=1, finite=False).ravel()
    xb = _array("b", b, minimum=1, finite=False).ravel()
    if discrete is None:
        discrete = all(np.issubdtype(np.asarray(v).dtype, np.integer) or
                       np.asarray(v).dtype == bool for v in (a, b))
    if not discrete:
        return judge("assert_same_law", [statistics.ks_two_sample(xa, xb)], [""], rate)
    values = np.unique(np.concatenate([xa, xb]))
    ca = np.bincount(np.searchsorted(values, xa), minlength=values.size)
    cb = np.bincount(np.searchsorted(values, xb), minlength=values.size)
    return judge("assert_same_law", [statistics.chi_square_homogeneity(ca, cb)], [""],
                 rate)
