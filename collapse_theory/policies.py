r"""Data policies: which data fit ``g`` sees, and sample-size schedules ``M_g``.

Shumailov et al. (2024, §3) write generation ``i+1``'s training data as a mixture of three
sources: samples of model ``i`` (weight α), the data of generation ``i`` (β) and the original
data D0 (γ).  The policies below are the points of that space the follow-up papers study
(``M_g`` is the sample-size schedule; fit 1 always sees ``M_1`` real samples of D0):

* ``"replace"`` (α = 1, β = γ = 0; the paper's theory): fit ``g`` sees the ``M_g`` samples of
  model ``g − 1`` only.
* ``"accumulate"`` (α = M_g/N_g, β = N_{g−1}/N_g, γ enters only through batch 1): fit ``g``
  sees every batch so far with equal weights, ``N_g = M_1 + … + M_g`` points — the real batch
  (batch 1) and synthetic batches ``2..g`` (Gerstgrasser et al. 2024; Kazdan et al. 2024).
* ``"accumulate-subsample"``: the same growing pool, but each fit uses a uniform subsample of
  ``M_g`` points drawn without replacement from it (Kazdan et al. 2024).
* ``"fresh:γ"`` (α = 1 − γ, β = 0, γ): fit ``g`` sees ``round(γ M_g)`` *fresh* samples of D0 and
  ``M_g − round(γ M_g)`` samples of model ``g − 1`` (an island model with migration γ).
* ``"fixed:λ"`` (Bertrand et al. 2023): a *fixed* real set of ``M_1`` points, drawn once, plus
  ``round(λ M_g)`` fresh samples of model ``g − 1``; fit ``g`` sees ``M_1 + round(λ M_g)`` points
  (α = λ/(1 + λ), γ = 1/(1 + λ) with the real part re-used rather than redrawn).

:func:`parse` validates a policy; :func:`sizes` gives each fit's batch sizes; the schedule
helpers build common ``M_g``.  This module is the policies' *spec* (numpy only); every policy
is run once, for every family, by :mod:`collapse_theory.chain`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _validate

POLICIES = ("replace", "accumulate", "accumulate-subsample", "fresh", "fixed")


class Policy(NamedTuple):
    """A validated data policy: ``name`` in :data:`POLICIES`, ``gamma`` (fresh), ``lam`` (fixed)."""

    name: str
    gamma: float = 0.0
    lam: float = 0.0

    def __str__(self) -> str:
        if self.name == "fresh":
            return f"fresh:{self.gamma:g}"
        if self.name == "fixed":
            return f"fixed:{self.lam:g}"
        return self.name


def parse(policy="replace", *, gamma=None, lam=None) -> Policy:
    """A :class:`Policy` from a name (``"fresh:0.2"``, ``"fixed:1.5"`` carry their parameter),
    a :class:`Policy`, or a name plus ``gamma``/``lam``.

    Raises ``ValueError`` naming the parameter for an unknown name, ``γ ∉ [0, 1]``, ``λ < 0``,
    a missing parameter or a parameter given to a policy that takes none.
    """
    if isinstance(policy, Policy):
        policy, gamma, lam = policy.name, (policy.gamma if policy.name == "fresh" else None), \
            (policy.lam if policy.name == "fixed" else None)
    if not isinstance(policy, str):
        raise TypeError(f"policy must be a string such as 'accumulate' or 'fresh:0.2', "
                        f"got {type(policy).__name__}")
    name, _, param = policy.partition(":")
    _validate.choice("policy", name, POLICIES)
    if param:
        if name not in ("fresh", "fixed"):
            raise ValueError(f"policy {name!r} takes no parameter, got {policy!r}")
        try:
            value = float(param)
        except ValueError:
            raise ValueError(f"policy parameter must be a number, got {param!r} in {policy!r}") \
                from None
        if (gamma if name == "fresh" else lam) is not None:
            raise ValueError(f"policy {policy!r} already carries its parameter; "
                             f"do not also pass {'gamma' if name == 'fresh' else 'lam'}")
        if name == "fresh":
            gamma = value
        else:
            lam = value
    if name != "fresh" and gamma is not None:
        raise ValueError(f"gamma applies only to policy 'fresh', got policy={name!r}")
    if name != "fixed" and lam is not None:
        raise ValueError(f"lam applies only to policy 'fixed', got policy={name!r}")
    where = f"policy {policy!r}: " if param else ""  # a bad value names the string it came from
    if name == "fresh":
        if gamma is None:
            raise ValueError("policy 'fresh' needs gamma in [0, 1] (e.g. 'fresh:0.1')")
        return Policy(name, gamma=_validate.real(where + "gamma", gamma, minimum=0.0, maximum=1.0))
    if name == "fixed":
        if lam is None:
            raise ValueError("policy 'fixed' needs lam >= 0 (e.g. 'fixed:1')")
        return Policy(name, lam=_validate.real(where + "lam", lam, minimum=0.0))
    return Policy(name)


class Sizes(NamedTuple):
    """Per fit ``g = 1..G`` (int64 arrays of length ``G``).

    ``synthetic``: points drawn from model ``g − 1`` at fit ``g`` (for ``g = 1`` model 0 is D0,
    so these are real); ``real``: fresh points of D0 (``fresh``) or the fixed real set's size
    (``fixed``, at ``g = 1`` only); ``fit``: points the fit ``g`` uses; ``pool``: points held
    (accumulate policies: ``N_g``; otherwise equal to ``fit``).
    """

    synthetic: np.ndarray
    real: np.ndarray
    fit: np.ndarray
    pool: np.ndarray


def sizes(policy: Policy, m: np.ndarray) -> Sizes:
    """Batch sizes of each fit under ``policy`` for the schedule ``m`` (see :class:`Sizes`)."""
    m = np.asarray(m, dtype=np.int64)
    zero = np.zeros_like(m)
    if policy.name == "replace":
        return Sizes(m, zero, m, m)
    if policy.name == "accumulate":
        pool = np.cumsum(m)
        return Sizes(m, zero, pool, pool)
    if policy.name == "accumulate-subsample":
        return Sizes(m, zero, m, np.cumsum(m))
    if policy.name == "fresh":
        real = np.round(policy.gamma * m).astype(np.int64)
        return Sizes(m - real, real, m, m)
    # fixed: the real set (M_1 points) is drawn at fit 1; λ M_g synthetic points at every fit.
    syn = np.round(policy.lam * m).astype(np.int64)
    real = zero.copy()
    if m.size:
        real[0] = m[0]
    fit = syn + (m[0] if m.size else 0)
    return Sizes(syn, real, fit, fit)


def check_sizes(policy: Policy, m: np.ndarray, minimum: int) -> Sizes:
    """:func:`sizes`, refusing (``ValueError``) a policy whose parameter rounds away at some fit
    (:func:`rounding_problem`) and fits with fewer than ``minimum`` points."""
    s = sizes(policy, m)
    problem = _rounding_problem(policy, np.asarray(m, dtype=np.int64), s)
    if problem:
        raise ValueError(problem)
    if s.fit.size and s.fit.min() < minimum:
        g = int(np.argmin(s.fit))
        raise ValueError(f"policy {str(policy)!r}: fit {g + 1} would use {int(s.fit[g])} points, "
                         f"fewer than the estimator's minimum {minimum}; raise sample_size")
    return s


def rounding_problem(policy: Policy, m) -> str | None:
    """Why ``policy`` is silently another policy under the schedule ``m``, or ``None``:
    ``fixed:λ`` with ``λ > 0`` but ``round(λ M_g) = 0`` synthetic points at some fit (e.g.
    ``fixed:0.01`` at ``M = 10``), ``fresh:γ`` with ``γ > 0`` but ``round(γ M_g) = 0`` fresh
    points, or ``γ < 1`` but no synthetic point."""
    m = np.asarray(m, dtype=np.int64)
    return _rounding_problem(policy, m, sizes(policy, m))


def _rounding_problem(policy: Policy, m: np.ndarray, s: Sizes) -> str | None:
    if not m.size:
        return None
    if policy.name == "fixed" and policy.lam > 0:
        bad, what, fix = s.synthetic == 0, "synthetic", "fixed:0 for the real set alone"
        param = f"λ M_g = {policy.lam:g} × {{m}}"
    elif policy.name == "fresh" and 0 < policy.gamma < 1:
        no_fresh, no_syn = s.real == 0, s.synthetic == 0
        bad = no_fresh | no_syn
        g = int(np.argmax(bad))
        what = "fresh" if no_fresh[g] else "synthetic"
        fix = "replace for no fresh data" if what == "fresh" else "fresh:1 for fresh data alone"
        param = f"γ M_g = {policy.gamma:g} × {{m}}" if what == "fresh" else \
            f"(1 − γ) M_g = {1 - policy.gamma:g} × {{m}}"
    else:
        return None
    if not bad.any():
        return None
    g = int(np.argmax(bad))
    return (f"policy {str(policy)!r}: at fit {g + 1} {param.format(m=int(m[g]))} rounds to 0 "
            f"{what} points, so the chain would silently be another policy; raise sample_size "
            f"or the parameter, or ask for {fix}")


# ---------------------------------------------------------------------------------------------
# Sample-size schedules M_1..M_G (used by fit g = 1..G).


def _schedule_args(m0, generations):
    m0 = _validate.integer("m0", m0, minimum=1)
    generations = _validate.integer("generations", generations, minimum=0)
    return m0, np.arange(1, generations + 1, dtype=np.float64)


def constant(m0: int, generations: int) -> np.ndarray:
    """``M_i = m0``: ``Σ 1/M_i = ∞``, collapse under replace."""
    m0, _ = _schedule_args(m0, generations)
    return np.full(generations, m0, dtype=np.int64)


def linear(m0: int, generations: int) -> np.ndarray:
    """``M_i = m0 · i``: ``Σ 1/M_i`` diverges (logarithmically), slow collapse."""
    m0, i = _schedule_args(m0, generations)
    return (m0 * i).astype(np.int64)


def polynomial(m0: int, generations: int, epsilon: float) -> np.ndarray:
    """``M_i = ⌈m0 · i^{1+ε}⌉`` (``ε > 0``: ``Σ 1/M_i < ∞``, bounded; ``ε = 1``: quadratic)."""
    m0, i = _schedule_args(m0, generations)
    epsilon = _validate.real("epsilon", epsilon, minimum=-1.0)
    return _ceil(m0 * i ** (1.0 + epsilon))


def geometric(m0: int, generations: int, ratio: float) -> np.ndarray:
    """``M_i = ⌈m0 · r^{i−1}⌉`` (``r > 1``: ``Σ 1/M_i < ∞``)."""
    m0, i = _schedule_args(m0, generations)
    ratio = _validate.real("ratio", ratio, minimum=1.0)
    return _ceil(m0 * ratio ** (i - 1.0))


def _ceil(values: np.ndarray) -> np.ndarray:
    top = float(np.iinfo(np.int64).max) / 4
    if values.size and values.max() > top:
        raise ValueError(f"schedule exceeds {top:.3g} samples at generation "
                         f"{int(np.argmax(values > top)) + 1}; use fewer generations")
    return np.ceil(values - 1e-9 * values).astype(np.int64) if values.size else \
        values.astype(np.int64)


def reciprocal_sum(m) -> float:
    """``Σ_i 1/M_i`` of a schedule: replace-chain error stays bounded iff this is finite."""
    return float(np.sum(1.0 / np.asarray(m, dtype=np.float64))) if len(m) else 0.0
