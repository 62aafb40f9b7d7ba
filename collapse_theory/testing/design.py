r"""Experiment design: how many trials a calibrated assertion needs to see a discrepancy.

With false-fail rate ``α`` (split over ``components``, Bonferroni) and false-pass rate ``β``:

* mean, ``scale=σ`` (the z-test of :func:`~collapse_theory.testing.assert_mean`): a bias ``δ``
  is caught with probability ``≥ 1 − β`` once ``(t_{1−α/2, N−1} + t_{1−β, N−1}) σ/√N ≤ δ``;
* mean, ``bounds=(a, b)`` (the DKWM test): ``N ≥ ((√(log(2/α)/2) + √(log(1/β)/2))(b − a)/δ)²``
  — the DKWM band at ``α`` plus Hoeffding's bound on ``x̄`` at ``β``;
* law (neither; :func:`~collapse_theory.testing.assert_law` with ``cdf``): a sup-distance
  ``δ = sup|F − G|`` is caught once ``N ≥ ((√(log(2/α)/2) + √(log(1/β)/2))/δ)²`` (TFP's
  ``min_num_samples_for_dkwm_cdf_test``; the exact KS critical value is smaller than DKWM's).
"""

from __future__ import annotations

import math
import numbers

from scipy import stats

from .assertions import check_bounds, check_rate


def _kind(scale, bounds) -> tuple[str, float]:
    """The test and the spread that scales its resolution."""
    if scale is not None and bounds is not None:
        raise TypeError("give scale= (z-test of a mean) or bounds= (DKWM mean), not both")
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or \
                not 0 < float(scale) < math.inf:
            raise ValueError(f"scale must be a positive finite number (the standard deviation "
                             f"of one sample), got {scale!r}")
        return "z", float(scale)
    if bounds is not None:
        low, high = check_bounds(bounds)
        return "dkwm", high - low
    return "dkwm", 1.0


def _rates(false_fail_rate, false_pass_rate, components) -> tuple[float, float]:
    alpha = check_rate("false_fail_rate", false_fail_rate)
    beta = check_rate("false_pass_rate", false_pass_rate)
    if isinstance(components, bool) or not isinstance(components, numbers.Integral) or \
            components < 1:
        raise ValueError(f"components must be an integer >= 1, got {components!r}")
    return alpha / int(components), beta


def _dkwm_factor(alpha: float, beta: float) -> float:
    return math.sqrt(math.log(2 / alpha) / 2) + math.sqrt(math.log(1 / beta) / 2)


def _z_factor(alpha: float, beta: float, n: int) -> float:
    dof = max(n - 1, 1)
    return float(stats.t.isf(alpha / 2, dof) + stats.t.isf(beta, dof))


def detectable_discrepancy(trials, *, false_fail_rate: float, false_pass_rate: float = 0.05,
                           scale=None, bounds=None, components: int = 1) -> float:
    """The smallest discrepancy ``δ`` that ``trials`` samples catch with probability
    ``≥ 1 − false_pass_rate`` (module docstring for the three tests)."""
    if isinstance(trials, bool) or not isinstance(trials, numbers.Integral) or trials < 2:
        raise ValueError(f"trials must be an integer >= 2, got {trials!r}")
    alpha, beta = _rates(false_fail_rate, false_pass_rate, components)
    kind, spread = _kind(scale, bounds)
    factor = _z_factor(alpha, beta, int(trials)) if kind == "z" else _dkwm_factor(alpha, beta)
    return factor * spread / math.sqrt(int(trials))


def trials_needed(discrepancy, *, false_fail_rate: float, false_pass_rate: float = 0.05,
                  scale=None, bounds=None, components: int = 1) -> int:
    """The fewest samples that catch a discrepancy ``δ`` with probability
    ``≥ 1 − false_pass_rate`` while a true claim fails at most at ``false_fail_rate``.

    ``scale``: the standard deviation of one sample (z-test of a mean); ``bounds``: the
    support (DKWM test of a mean); neither: ``δ`` is a sup-distance between CDFs.
    ``components``: the number of claims tested together (the rate is split over them).
    """
    if isinstance(discrepancy, bool) or not isinstance(discrepancy, numbers.Real) or \
            not 0 < float(discrepancy) < math.inf:
        raise ValueError(f"discrepancy must be a positive finite number, got {discrepancy!r}")
    alpha, beta = _rates(false_fail_rate, false_pass_rate, components)
    kind, spread = _kind(scale, bounds)
    ratio = spread / float(discrepancy)
    if kind == "dkwm":
        return max(2, math.ceil((_dkwm_factor(alpha, beta) * ratio) ** 2))
    z = stats.norm.isf(alpha / 2) + stats.norm.isf(beta)
    n = max(2, math.ceil((z * ratio) ** 2))
    while _z_factor(alpha, beta, n) * ratio / math.sqrt(n) > 1:  # t quantiles exceed z's
        n += max(1, n // 100)
    while n > 2 and _z_factor(alpha, beta, n - 1) * ratio / math.sqrt(n - 1) <= 1:
        n -= 1
    return int(n)

