r"""Hypothesis strategies for property tests of model-collapse estimators and chains.

Every strategy checks its own arguments when it is called (``TypeError``/``ValueError`` naming
the parameter, the value and the valid range) and draws values the package itself accepts:

* :func:`probability_vectors`: float64 ``p`` with ``p ≥ 0`` and ``Σ p = 1`` (up to rounding):
  generic weights ``w_k = 10^{u_k}``, ``u_k ∈ [−3, 3]``, normalised; the same with exact zeros
  (at least one entry positive); Zipf tails ``p_k ∝ k^{−s}``, ``s ∈ [0.5, 2.5]``, permuted;
  near-degenerate laws, mass ``1 − ε`` on one category with ``ε ∈ [10^{−9}, 10^{−2}]`` spread over
  the others, and exact deltas.
* :func:`gaussian_params`: ``(μ, Σ)`` with ``Σ = s Q diag(κ^{t_1}, …, κ^{t_d}) Qᵀ``, ``Q`` Haar
  orthogonal (the QR of a Gaussian matrix, signs fixed by ``R``'s diagonal; the identity for
  axis-aligned examples), ``0 = t_1 ≤ … ≤ t_d = 1``: the condition number ``λ_max/λ_min`` is
  ``κ``, drawn log-uniformly in the requested range, and the scale ``s ∈ [10^{−3}, 10^3]``.
* :func:`sample_sizes` and :func:`schedules`: sizes ``M`` and schedules ``M_1..M_G`` built by
  :func:`collapse_theory.policies.constant`, ``linear``, ``polynomial`` and ``geometric``, their
  parameters chosen so that every ``M_g`` lies in ``[minimum, maximum]``.
* :func:`policies`: policy strings :func:`collapse_theory.policies.parse` accepts.
* :func:`chain_configs`: keyword arguments of a built-in family's ``simulate`` (gaussian,
  discrete, regression, kde), by default with every static argument fixed so that a property
  test compiles its chain once per policy name (see its docstring for what is static).

A property test of a JAX chain is slow per example (the first one compiles), and CI must not
flake: :data:`SETTINGS` (profile :data:`PROFILE`) derandomises Hypothesis and drops its
deadline.  It is registered, never loaded: opt in per test (``@SETTINGS``, or
``settings(SETTINGS, max_examples=50)``) or per session (``settings.load_profile(PROFILE)``).
"""

from __future__ import annotations

import math

import jax
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from .. import _validate, discrete
from .. import policies as policies_mod
from ..policies import POLICIES

__all__ = ["FAMILIES", "MAX_SIZE", "PROFILE", "SETTINGS", "chain_configs", "gaussian_params",
           "policies", "probability_vectors", "sample_sizes", "schedules"]

#: Name of the registered Hypothesis profile (derandomised, no deadline).
PROFILE = "collapse_theory"
settings.register_profile(PROFILE, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
#: The profile as a settings object: ``@SETTINGS`` on a test, or a parent,
#: ``settings(SETTINGS, max_examples=50)``.
SETTINGS = settings.get_profile(PROFILE)

#: Largest sample size drawn: every built-in family takes it without 64-bit JAX (the discrete
#: family's exact counts, :data:`collapse_theory.discrete.MAX_SIZE_32`).
MAX_SIZE = discrete.MAX_SIZE_32
#: Built-in families :func:`chain_configs` configures (``collapse_theory.<name>.simulate``).
FAMILIES = ("gaussian", "discrete", "regression", "kde")
#: Largest condition number :func:`gaussian_params` draws (float64 eigenvalues stay accurate).
MAX_CONDITION = 1e12
#: Policy parameters where :func:`chain_configs` pins them (points path, ``fixed_shapes``).
_PINNED = {"fresh": 0.5, "fixed": 1.0}
#: Largest dimension drawn (a sanity bound: ``d × d`` matrices per trial).
_MAX_DIM = 4096
#: Largest λ of ``fixed:λ`` that :func:`chain_configs` draws.
_LAM_MAX = 4.0


# ---------------------------------------------------------------------------------------------
# Argument checks


def _int_range(name: str, value, *, minimum: int, maximum: int) -> tuple[int, int]:
    """``value`` (an int or a ``(low, high)`` pair) as ``(low, high)`` within the bounds."""
    if isinstance(value, tuple) and len(value) == 2:
        lo = _validate.integer(f"{name}[0]", value[0], minimum=minimum, maximum=maximum)
        hi = _validate.integer(f"{name}[1]", value[1], minimum=minimum, maximum=maximum)
        if lo > hi:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}")
        return lo, hi
    if isinstance(value, tuple):
        raise ValueError(f"{name} must be an int or a (low, high) pair, got {value!r}")
    value = _validate.integer(name, value, minimum=minimum, maximum=maximum)
    return value, value


def _real_range(name: str, value, *, minimum: float, maximum: float) -> tuple[float, float]:
    """``value`` (a number or a ``(low, high)`` pair) as ``(low, high)`` within the bounds."""
    pair = value if isinstance(value, tuple) and len(value) == 2 else None
    if isinstance(value, tuple) and pair is None:
        raise ValueError(f"{name} must be a number or a (low, high) pair, got {value!r}")
    lo, hi = pair if pair is not None else (value, value)
    lo = _validate.real(f"{name}[0]" if pair else name, lo, minimum=minimum, maximum=maximum)
    hi = _validate.real(f"{name}[1]" if pair else name, hi, minimum=minimum, maximum=maximum)
    if lo > hi:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value!r}")
    return lo, hi


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _names(param: str, value) -> tuple[str, ...]:
    """Policy names: a non-empty sequence of :data:`~collapse_theory.policies.POLICIES`."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{param} must be a non-empty tuple or list of names from {POLICIES}, "
                        f"got {value!r}")
    for name in value:
        _validate.choice(param, name, POLICIES)
    return tuple(dict.fromkeys(value))


# ---------------------------------------------------------------------------------------------
# Probability vectors


def _normalised(w: np.ndarray) -> np.ndarray:
    return w / np.sum(w)


@st.composite
def _generic(draw, k: int) -> np.ndarray:
    """``w_k = 10^{u_k}``, ``u_k ∈ [−3, 3]``, normalised (shrinks to the uniform law)."""
    return _normalised(10.0 ** draw(arrays(np.float64, k, elements=st.floats(-3.0, 3.0))))


@st.composite
def _with_zeros(draw, k: int) -> np.ndarray:
    """Generic weights with ``1..K−1`` entries set to exactly 0."""
    p = draw(_generic(k))
    zeros = draw(st.integers(1, k - 1))
    p[draw(st.permutations(range(k)))[:zeros]] = 0.0
    return _normalised(p)


@st.composite
def _zipf(draw, k: int) -> np.ndarray:
    """Zipf's law ``p_k ∝ k^{−s}``, ``s ∈ [0.5, 2.5]``, its categories permuted."""
    p = discrete.zipf(k, draw(st.floats(0.5, 2.5)))
    return p[np.asarray(draw(st.permutations(range(k))), dtype=np.int64)]


@st.composite
def _near_degenerate(draw, k: int) -> np.ndarray:
    """Mass ``1 − ε`` on one category, ``ε = 10^{−e}``, ``e ∈ [2, 9]``, spread over the others
    by generic weights; or (``ε = 0``) a delta."""
    top = draw(st.integers(0, k - 1))
    p = np.zeros(k)
    if k == 1 or draw(st.booleans()):
        p[top] = 1.0
        return p
    eps = 10.0 ** -draw(st.floats(2.0, 9.0))
    p[np.arange(k) != top] = eps * draw(_generic(k - 1))
    p[top] = 1.0 - eps
    return p


def probability_vectors(categories=(2, 20), *, zeros: bool = True, zipf: bool = True,
                        near_degenerate: bool = True) -> st.SearchStrategy[np.ndarray]:
    """Float64 probability vectors ``p`` (``p ≥ 0``, ``|Σ p − 1| ≤ 1e-12``) of ``K`` categories.

    Args:
      categories: ``K`` (an int ``≥ 1``) or a ``(low, high)`` range.
      zeros: also draw vectors with exact zeros, at least one entry positive (``K ≥ 2``).
      zipf: also draw permuted Zipf laws ``p_k ∝ k^{−s}``, ``s ∈ [0.5, 2.5]``.
      near_degenerate: also draw ``1 − ε`` on one category (``ε`` down to ``1e-9``) and exact
        deltas (which have zeros too).

    Generic normalised weights spanning six orders of magnitude are always drawn; with every
    option off, entries are strictly positive.
    """
    lo, hi = _int_range("categories", categories, minimum=1, maximum=MAX_SIZE)
    kinds = [_generic]
    for name, flag, kind in (("zipf", zipf, _zipf),
                             ("near_degenerate", near_degenerate, _near_degenerate)):
        if _flag(name, flag):
            kinds.append(kind)
    sizes = st.integers(lo, hi)
    choices = [sizes.flatmap(kind) for kind in kinds]
    if _flag("zeros", zeros) and hi >= 2:
        choices.append(st.integers(max(lo, 2), hi).flatmap(_with_zeros))
    return st.one_of(choices)


# ---------------------------------------------------------------------------------------------
# Gaussian parameters


@st.composite
def _gaussian(draw, dims: tuple[int, int], log_condition: tuple[float, float]):
    d = draw(st.integers(*dims))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q = np.eye(d)
    if draw(st.booleans()):  # Haar: QR of a Gaussian matrix, columns signed by diag(R)
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        q = q * np.sign(np.diag(r))
    t = np.concatenate([[0.0], np.sort(rng.uniform(size=max(d - 2, 0))), [1.0]])[:d]
    log_kappa = draw(st.floats(*log_condition)) if d > 1 else 0.0
    log_eig = draw(st.floats(-3.0, 3.0)) + log_kappa * t
    cov = (q * 10.0 ** log_eig) @ q.T
    mean = draw(arrays(np.float64, d, elements=st.floats(-1e3, 1e3, allow_subnormal=False)))
    return mean, 0.5 * (cov + cov.T)


def gaussian_params(dim=1, *, condition=(1.0, 1e6)) -> st.SearchStrategy[tuple]:
    r"""``(mean (d,), cov (d, d))`` float64: ``mean ∈ [−10^3, 10^3]^d`` and ``cov`` symmetric
    positive definite (module docstring: ``Σ = s Q diag(κ^{t_j}) Qᵀ``, scale ``s`` over six
    orders of magnitude), with condition number ``κ`` log-uniform in ``condition``.

    Args:
      dim: ``d ≥ 1`` or a ``(low, high)`` range.
      condition: ``κ`` or a ``(low, high)`` range within ``[1, 1e12]``; a 1-D covariance has
        ``κ = 1``, so ``low > 1`` needs ``d ≥ 2``.
    """
    dims = _int_range("dim", dim, minimum=1, maximum=_MAX_DIM)
    lo, hi = _real_range("condition", condition, minimum=1.0, maximum=MAX_CONDITION)
    if dims[0] == 1 and lo > 1.0:
        raise ValueError(f"condition must include 1 when dim can be 1 (a 1-D covariance has "
                         f"condition number 1), got condition={condition!r} with dim={dim!r}")
    return _gaussian(dims, (math.log10(lo), math.log10(hi)))


# ---------------------------------------------------------------------------------------------
# Sample sizes and schedules


def _size_bounds(minimum, maximum) -> tuple[int, int]:
    minimum = _validate.integer("minimum", minimum, minimum=1, maximum=MAX_SIZE)
    maximum = _validate.integer("maximum", maximum, minimum=1, maximum=MAX_SIZE)
    if maximum < minimum:
        raise ValueError(f"maximum must be >= minimum={minimum}, got {maximum}")
    return minimum, maximum


def sample_sizes(minimum: int = 2, maximum: int = 1000) -> st.SearchStrategy[int]:
    """Sample sizes ``M ∈ [minimum, maximum]`` (``1 ≤ minimum ≤ maximum ≤`` :data:`MAX_SIZE`)."""
    return st.integers(*_size_bounds(minimum, maximum))


@st.composite
def _schedule(draw, g: int, lo: int, hi: int) -> np.ndarray:
    span = max(g, 1)
    kinds = ["constant", "polynomial", "geometric"] + (["linear"] if lo * span <= hi else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "constant":
        return policies_mod.constant(draw(st.integers(lo, hi)), g)
    if kind == "linear":  # M_G = m0 G ≤ maximum
        return policies_mod.linear(draw(st.integers(lo, hi // span)), g)
    if kind == "polynomial":  # M_i = ⌈m0 i^e⌉, e = 1 + ε ∈ [0, 3], m0 G^e ≤ maximum
        top = 3.0 if g < 2 else min(3.0, math.log(hi / lo) / math.log(g))
        e = draw(st.floats(0.0, top))
        m0 = draw(st.integers(lo, max(lo, math.floor(hi / span ** e))))
        return policies_mod.polynomial(m0, g, e - 1.0)
    # geometric: M_i = ⌈m0 r^{i−1}⌉, r ∈ [1, 2], m0 r^{G−1} ≤ maximum
    top = 2.0 if g < 2 else min(2.0, (hi / lo) ** (1.0 / (g - 1)))
    r = draw(st.floats(1.0, top))
    m0 = draw(st.integers(lo, max(lo, math.floor(hi / r ** (span - 1)))))
    return policies_mod.geometric(m0, g, r)


def schedules(generations: int, *, minimum: int = 2,
              maximum: int = 1000) -> st.SearchStrategy[np.ndarray]:
    r"""Int64 schedules ``M_1..M_G`` of length ``generations``, every ``M_g ∈ [minimum,
    maximum]``: constant, linear ``m0 i``, polynomial ``⌈m0 i^{1+ε}⌉`` (``ε ∈ [−1, 2]``) or
    geometric ``⌈m0 r^{i−1}⌉`` (``r ∈ [1, 2]``), by :mod:`collapse_theory.policies`' helpers
    with ``m0``, ``ε`` and ``r`` bounded so that ``M_G ≤ maximum`` (linear only when
    ``minimum · G ≤ maximum``).  Shrinks towards constant schedules of ``minimum``.
    """
    g = _validate.generation_count(generations)
    return _schedule(g, *_size_bounds(minimum, maximum))


# ---------------------------------------------------------------------------------------------
# Policies


def _policy_string(name: str, value: float) -> str:
    return f"{name}:{value!r}" if name in ("fresh", "fixed") else name


def policies(*, names=POLICIES, gamma=(0.0, 1.0), lam=(0.0, _LAM_MAX)) -> st.SearchStrategy[str]:
    """Policy strings for :func:`collapse_theory.policies.parse`: a name from ``names``, with
    ``"fresh:γ"`` drawing ``γ`` in ``gamma`` (within ``[0, 1]``) and ``"fixed:λ"`` drawing ``λ``
    in ``lam`` (within ``[0, 1e6]``).

    ``fixed:λ`` fits ``M_1 + round(λ M_g) ≥ M_1`` points and ``fresh:γ`` fits ``M_g``, so every
    policy drawn keeps a schedule's minimum size per fit.
    """
    names = _names("names", names)
    gammas = st.floats(*_real_range("gamma", gamma, minimum=0.0, maximum=1.0))
    lams = st.floats(*_real_range("lam", lam, minimum=0.0, maximum=1e6))
    params = {"fresh": gammas, "fixed": lams}
    return st.sampled_from(names).flatmap(
        lambda name: params[name].map(lambda v: _policy_string(name, v)) if name in params
        else st.just(name))


# ---------------------------------------------------------------------------------------------
# Chain configurations

#: Default ``dim`` (``categories`` for discrete) of each family.
_DEFAULT_DIM = {"gaussian": 1, "discrete": 4, "regression": 2, "kde": 1}


def _smallest_size(family: str, d: int) -> int:
    """The default lower sample size: every fit well posed (a non-singular Gaussian fit needs
    ``d + 1`` points, the regression's Cholesky solves ``d + 2`` rows, a KDE 2 points)."""
    return {"gaussian": d + 1, "discrete": 2, "regression": d + 2, "kde": 2}[family]


@st.composite
def _chain_config(draw, family, gens, trials, dims, sizes, names, method, fixed_shapes) -> dict:
    g = draw(st.integers(*gens))
    d = draw(st.integers(*dims))
    lo, hi = sizes or (_smallest_size(family, d), max(32, _smallest_size(family, d)))
    name = draw(st.sampled_from(names))
    points = family == "kde" or name == "accumulate-subsample" or method == "samples"
    constant = family == "regression" or fixed_shapes and points  # one size M for every fit
    size = (hi if fixed_shapes else draw(st.integers(lo, hi))) if constant else None
    m = policies_mod.constant(size, g) if constant else draw(_schedule(g, lo, hi))
    if name not in _PINNED:
        policy = name
    elif fixed_shapes and points:
        policy = _policy_string(name, _PINNED[name])
    else:  # every fit draws ≥ 1 real and ≥ 1 synthetic point: static batch flags, and no
        # parameter rounds away (policies.rounding_problem)
        small = int(m.min()) if g else hi
        bounds = {"fresh": (1.0 / small, 1.0 - 1.0 / small), "fixed": (1.0 / small, _LAM_MAX)}
        policy = _policy_string(name, draw(st.floats(*bounds[name])))
    cfg = {"key": jax.random.key(draw(st.integers(0, 2**32 - 1))), "generations": g,
           "trials": draw(st.integers(*trials)), "policy": policy}
    if method is not None:
        cfg["method"] = method
    if family == "gaussian":
        mean, cov = draw(gaussian_params(d))
        cfg.update(sample_size=m, dim=d, mean=mean, cov=cov)
    elif family == "discrete":
        cfg.update(sample_size=m, probs=draw(probability_vectors(d)))
    elif family == "regression":
        weights = arrays(np.float64, d, elements=st.floats(-10.0, 10.0, allow_subnormal=False))
        cfg.update(rows=size, dim=d, weights=draw(weights))
    else:
        cfg.update(sample_size=m)
        if not fixed_shapes:
            cfg.update(mean=draw(st.floats(-100.0, 100.0)), std=10.0 ** draw(st.floats(-2.0, 2.0)))
    return cfg


def chain_configs(family: str = "gaussian", *, generations=8, trials=16, dim=None,
                  sample_size=None, policy_names=POLICIES, method=None,
                  fixed_shapes: bool = True) -> st.SearchStrategy[dict]:
    r"""Keyword arguments of ``collapse_theory.<family>.simulate`` within its valid ranges:
    ``simulate(**config)``.

    Every config has ``key`` (``jax.random.key`` of a drawn seed), ``generations``, ``trials``,
    ``policy`` and the family's data:

    * ``"gaussian"``: ``sample_size`` (a schedule), ``dim``, ``mean``, ``cov``
      (:func:`gaussian_params`);
    * ``"discrete"``: ``sample_size``, ``probs`` (:func:`probability_vectors` of ``dim``
      categories);
    * ``"regression"``: ``rows`` (its sample size, one per fit), ``dim``, ``weights`` (``w*`` in
      ``[−10, 10]^d``);
    * ``"kde"`` (1-D): ``sample_size``; without ``fixed_shapes`` also ``mean`` and ``std``;

    and ``method`` when given.  The estimator's other options (``estimator``, ``pseudocount``,
    ``mix``, ``noise``, ``design``, ``bandwidth``) are never drawn: pass them to ``simulate``
    yourself (each is static).

    **What compiles.**  The chain's compiled program is keyed on its *static* arguments:
    ``generations``, ``trials``, ``dim``/``categories``, the policy's name, the estimator's
    options (above; a KDE's ``mean``/``std`` and a regression's ``rows`` too) and, where
    batches are points padded to a static maximum, the batch sizes: ``max M_g``, ``Σ M_g`` and
    ``round(γ M_g)``/``round(λ M_g)`` (the *points path*: the KDE, ``accumulate-subsample`` and
    ``method="samples"``).
    Traced, and free to vary without recompiling: ``key``, ``mean``/``cov``, ``probs``,
    ``weights`` and, on the exact path (sufficient statistics drawn in law: the default method
    of the Gaussian, discrete and regression families), the sizes ``M_g`` and the policy's
    ``γ``/``λ`` themselves, as long as real and synthetic batches stay non-empty.

    With ``fixed_shapes=True`` (the default) every static argument is the same in every example
    but the policy's name, so a property test compiles once per policy name drawn (once, with
    one name in ``policy_names``): ``generations``, ``trials`` and ``dim`` must be ints;
    ``γ ∈ [1/M, 1 − 1/M]`` and ``λ ∈ [1/M, 4]`` (``M = min M_g``) keep both batches non-empty;
    on the points path the sizes are the constant ``max`` of ``sample_size`` and ``γ = 1/2``,
    ``λ = 1``; a regression's ``rows`` is that ``max``.  With ``fixed_shapes=False``
    ``generations``, ``trials`` and ``dim`` may be ``(low, high)`` ranges and sizes, ``γ ∈ [0,
    1]``, ``λ ∈ [0, 4]`` (and a KDE's ``mean``/``std``) are drawn freely: each example may
    compile.

    Args:
      family: one of :data:`FAMILIES`.
      generations: ``G ≥ 0`` (or a range).
      trials: ``≥ 1`` (or a range).
      dim: ``d`` (``K`` categories for discrete; 1 for the KDE; or a range); default 1
        (gaussian, kde), 4 (discrete), 2 (regression).
      sample_size: ``M`` or a ``(low, high)`` range, ``2 ≤ low``, ``high · G ≤`` :data:`MAX_SIZE`
        (accumulated pools); default ``(m, max(m, 32))`` with ``m`` the fewest points every fit
        is well posed with (Gaussian ``d + 1``, regression ``d + 2``, else 2).
      policy_names: names from :data:`~collapse_theory.policies.POLICIES` to draw.
      method: ``None`` (the family's default, ``"exact"``) or ``"exact"``/``"samples"``, put in
        the config (not for the KDE, which has no method); ``"samples"`` is the points path.
      fixed_shapes: keep every static argument fixed (above).
    """
    family = _validate.choice("family", family, FAMILIES)
    fixed_shapes = _flag("fixed_shapes", fixed_shapes)
    dim = _DEFAULT_DIM[family] if dim is None else dim
    if fixed_shapes:
        for name, value in (("generations", generations), ("trials", trials), ("dim", dim)):
            if isinstance(value, tuple):
                raise ValueError(f"{name} must be an int when fixed_shapes=True (a range changes "
                                 f"the compiled program), got {value!r}")
    gens = _int_range("generations", generations, minimum=0, maximum=_validate.MAX_GENERATIONS)
    trial_range = _int_range("trials", trials, minimum=1, maximum=_validate.MAX_TRIALS)
    dims = _int_range("dim", dim, minimum=1, maximum=1 if family == "kde" else _MAX_DIM)
    sizes = None
    if sample_size is not None:
        sizes = _int_range("sample_size", sample_size, minimum=2, maximum=MAX_SIZE)
    top = sizes[1] if sizes else max(32, _smallest_size(family, dims[1]))
    if top * max(gens[1], 1) > MAX_SIZE:
        raise ValueError(f"sample_size must keep max(sample_size) * generations <= {MAX_SIZE} "
                         f"(an accumulated pool), got {top} * {gens[1]}")
    names = _names("policy_names", policy_names)
    if method is not None:
        if family == "kde":
            raise ValueError(f"method must be None for family 'kde' (the KDE chain has no "
                             f"method), got {method!r}")
        _validate.choice("method", method, discrete.METHODS)  # = gaussian's, regression's
    return _chain_config(family, gens, trial_range, dims, sizes, names, method, fixed_shapes)
