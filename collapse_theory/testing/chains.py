r"""Collapse properties of a family, ready to call on a user's :class:`~collapse_theory.Family`.

Each runs :func:`collapse_theory.simulate` (the same engine and policies as the package's own
families) and checks one claim of the theory:

* :func:`assert_closed_form`: ``E T(θ_g) = f(g)`` at every recorded generation ``g ≥ 1``, the
  false-fail rate split over them (Bonferroni);
* :func:`assert_martingale`: ``E m(θ_g) = m(θ_0)`` — an unbiased mean estimator under
  ``replace`` makes ``m(θ_g)`` a martingale (Shumailov et al. 2024, §3.2);
* :func:`collapse_rate`: the drift ``δ = E[log s(θ_G) − log s(θ_0)]/G`` of a log scale per
  generation with its confidence interval (for a location–scale equivariant fit under
  ``replace``, ``log s(θ_g)`` is a random walk and ``δ = E log D < 0`` is the collapse rate);
* :func:`assert_absorbing`: a size (e.g. the support) never grows along any chain;
* :func:`assert_reproducible`: the engine's contract — trial ``i`` depends only on
  ``(key, i)``, bit for bit, whatever ``trials`` and ``chunk_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import numpy as np
from scipy import stats

from .. import chain
from .assertions import (StatisticalAssertionError, check_rate, components, judge,
                         mean_outcomes, spend)
from .statistics import Outcome


def _observed(key, family, params0, statistic, *, record, **options) -> tuple:
    """``statistic(θ_g)`` as numpy ``(trials, R, ...)`` and the recorded generations."""
    if not callable(statistic):
        raise TypeError(f"statistic must be callable, got {statistic!r}")
    res = chain.simulate(key, family, params0, record=record, observe=statistic, **options)
    return np.asarray(res.generation), np.asarray(res.params, dtype=np.float64)


def assert_closed_form(family, params0, statistic: Callable, expected_fn: Callable, *, key,
                       sample_size, generations: int, trials: int, false_fail_rate: float,
                       policy="replace", record="log", bounds=None, **options) -> Outcome:
    r"""Assert ``E statistic(θ_g) = expected_fn(g)`` at every recorded generation ``g ≥ 1``.

    Runs ``trials`` chains with :func:`collapse_theory.simulate` (``options``: its other
    keywords, e.g. ``real``, ``chunk_size``) and tests the mean over trials at each recorded
    generation with :func:`~collapse_theory.testing.assert_mean` (``bounds``: its DKWM
    variant), the rate split over generations and the statistic's components.

    Args:
      statistic: ``statistic(params) -> array`` (traced: pure ``jax.numpy``), e.g. ``log σ²``.
      expected_fn: ``expected_fn(g) -> array``: the closed form at the recorded generations
        ``g`` (a numpy ``int`` array), broadcastable to ``(len(g), *statistic's shape)``.
    """
    rate = check_rate("false_fail_rate", false_fail_rate)
    if not callable(expected_fn):
        raise TypeError(f"expected_fn must be callable, got {expected_fn!r}")
    gens, values = _observed(key, family, params0, statistic, record=record,
                             sample_size=sample_size, generations=generations, trials=trials,
                             policy=policy, **options)
    keep = gens >= 1  # generation 0 is params0: no randomness to test
    if not keep.any():
        raise ValueError(f"record={record!r} records no generation >= 1 of {generations}")
    gens, values = gens[keep], values[:, keep]
    if values.shape[0] < 2:
        raise ValueError(f"trials must be >= 2 to estimate a standard error, got {trials}")
    if np.isnan(values).any() or np.isinf(values).any():
        g = gens[np.argmax(~np.isfinite(values).reshape(*values.shape[:2], -1).all((0, 2)))]
        raise ValueError(f"statistic is not finite at generation {g} for some trials (a "
                         "singular fit?): test a statistic that stays finite, or fewer "
                         "generations")
    expected = np.asarray(expected_fn(gens), dtype=np.float64)
    cols, e, index = components(values, expected)
    labels = [f"generation {gens[i[0]]}" + (f", index {i[1:]}" if len(i) > 1 else "")
              for i in index]
    return judge("assert_closed_form", mean_outcomes(cols, e, bounds), labels, rate)


def assert_martingale(family, params0, mean: Callable, *, key, sample_size, generations: int,
                      trials: int, false_fail_rate: float, policy="replace", record="log",
                      **options) -> Outcome:
    """Assert ``E mean(θ_g) = mean(θ_0)`` at every recorded generation (see
    :func:`assert_closed_form`)."""
    start = np.asarray(jax.device_get(mean(params0)), dtype=np.float64)
    return assert_closed_form(family, params0, mean, lambda g: start, key=key,
                              sample_size=sample_size, generations=generations, trials=trials,
                              false_fail_rate=false_fail_rate, policy=policy, record=record,
                              **options)


class CollapseRate(NamedTuple):
    """Drift of a log scale per generation, ``δ̂ = mean_i (log s_{i,G} − log s_0)/G``, with its
    standard error over trials and the two-sided ``1 − false_fail_rate`` interval (Student t).
    ``δ̂ = −inf`` when some chain's fit became singular (its scale hit 0)."""

    drift: float
    stderr: float
    low: float
    high: float
    generations: int
    trials: int
    false_fail_rate: float

    def assert_within(self, low: float = -np.inf, high: float = np.inf) -> "CollapseRate":
        """Assert that the drift lies in ``[low, high]``: fails only when the interval misses
        the whole range, so a true claim fails with probability ``≤ false_fail_rate`` (spent
        when the interval was computed).  Raises :class:`StatisticalAssertionError`."""
        if self.high >= low and self.low <= high:
            return self
        out = Outcome("collapse rate", float(np.clip(self.drift, low, high)), self.drift,
                      self.stderr, self.drift, float("nan"),
                      f"two-sided {1 - self.false_fail_rate:g} Student t interval over "
                      f"{self.trials} trials, {self.generations} generations")
        raise StatisticalAssertionError(
            f"collapse rate {self.drift:.4g} per generation, interval [{self.low:.4g}, "
            f"{self.high:.4g}] at false_fail_rate = {self.false_fail_rate:g}, lies outside "
            f"[{low:g}, {high:g}]\n  tolerance: {out.tolerance}", out, self.false_fail_rate)


def collapse_rate(family, params0, log_scale: Callable, *, key, sample_size, generations: int,
                  trials: int, false_fail_rate: float = 0.01, policy="replace",
                  **options) -> CollapseRate:
    r"""The collapse rate ``δ`` of ``log_scale(θ)`` (a scalar, e.g. ``log σ`` or
    ``log det Σ``) per generation: ``δ < 0`` collapses, ``δ ≈ 0`` is stable.

    Under ``replace`` with a location–scale equivariant fit, ``log s_g − log s_0`` is a sum of
    ``g`` i.i.d. increments, so the per-trial slopes are i.i.d. and the interval is exact up to
    the CLT; under other policies ``δ̂`` is the average drift over ``G`` generations.  The
    interval spends ``false_fail_rate`` (the plugin's budget sees it); claim a range with
    :meth:`CollapseRate.assert_within`.
    """
    rate = check_rate("false_fail_rate", false_fail_rate)
    gens, values = _observed(key, family, params0, log_scale, record=[0, generations],
                             sample_size=sample_size, generations=generations, trials=trials,
                             policy=policy, **options)
    if generations < 1 or values.shape[2:] != ():
        raise ValueError(f"collapse_rate needs generations >= 1 and a scalar log_scale, got "
                         f"generations={generations} and shape {values.shape[2:]}")
    spend(rate)
    slopes = (values[:, -1] - values[:, 0]) / generations
    if np.isneginf(slopes).any():
        return CollapseRate(-np.inf, np.nan, -np.inf, -np.inf, generations, trials, rate)
    drift = float(slopes.mean())
    se = float(slopes.std(ddof=1) / np.sqrt(slopes.size)) if slopes.size > 1 else np.inf
    half = float(stats.t.isf(rate / 2, max(slopes.size - 1, 1))) * se
    return CollapseRate(drift, se, drift - half, drift + half, generations, trials, rate)


def assert_absorbing(family, params0, size: Callable, *, key, sample_size, generations: int,
                     trials: int, policy="replace", **options) -> None:
    """Assert ``size(θ_{g+1}) ≤ size(θ_g)`` for every trial and generation (e.g. the support of
    a categorical fit without smoothing under ``replace``: an extinct category never returns).
    Every generation is recorded; raises ``AssertionError`` at the first increase."""
    gens, values = _observed(key, family, params0, size, record=None, sample_size=sample_size,
                             generations=generations, trials=trials, policy=policy, **options)
    values = values.reshape(*values.shape[:2], -1)
    grows = np.diff(values, axis=1) > 0
    if grows.any():
        t, g, j = (int(v[0]) for v in np.nonzero(grows))
        raise AssertionError(f"assert_absorbing failed: size grew from {values[t, g, j]:g} to "
                             f"{values[t, g + 1, j]:g} at generation {gens[g + 1]} of trial "
                             f"{t}" + (f", component {j}" if values.shape[2] > 1 else ""))


def assert_reproducible(family, params0, *, key, sample_size, generations: int,
                        trials: Sequence[int] = (1, 7, 33), chunk_sizes: Sequence = (None, 5),
                        policy="replace", **options) -> None:
    """Assert the engine's contract for ``family``: every ``(trials, chunk_size)`` run gives
    the same first trials, bit for bit, as the largest run (odd counts exercise the padding
    of chunks and devices).  Raises ``AssertionError`` naming the first difference."""
    if "chunk_size" in options:
        raise TypeError("assert_reproducible takes chunk sizes as chunk_sizes=(...), not "
                        "chunk_size=")
    trials = [int(t) for t in trials]
    if not trials or min(trials) < 1:
        raise ValueError(f"trials must be a non-empty list of counts >= 1, got {trials!r}")
    common = dict(sample_size=sample_size, generations=generations, policy=policy, **options)
    ref = chain.simulate(key, family, params0, trials=max(trials), **common)
    for t in trials:
        for c in chunk_sizes:
            res = chain.simulate(key, family, params0, trials=t, chunk_size=c, **common)
            got = jax.tree_util.tree_leaves(res.params)
            want = jax.tree_util.tree_leaves(ref.params)
            for i, (a, b) in enumerate(zip(got, want)):
                a, b = np.asarray(a), np.asarray(b)[:t]
                if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                    bad = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))
                                        if a.dtype.kind == "f" else a == b))[0]
                    raise AssertionError(
                        f"assert_reproducible failed: trials={t}, chunk_size={c} differs from "
                        f"trials={max(trials)} in params leaf {i} at index {tuple(bad)}: "
                        f"{a[tuple(bad)]!r} != {b[tuple(bad)]!r}")
