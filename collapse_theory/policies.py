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
helpers build common ``M_g``; :func:`gaussian_chain` and :func:`discrete_chain` run the
Gaussian and discrete chains under any policy (``gaussian.simulate``/``discrete.simulate`` call
them for every policy but ``replace``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, engine

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
    if name == "fresh":
        if gamma is None:
            raise ValueError("policy 'fresh' needs gamma in [0, 1] (e.g. 'fresh:0.1')")
        return Policy(name, gamma=_validate.real("gamma", gamma, minimum=0.0, maximum=1.0))
    if name == "fixed":
        if lam is None:
            raise ValueError("policy 'fixed' needs lam >= 0 (e.g. 'fixed:1')")
        return Policy(name, lam=_validate.real("lam", lam, minimum=0.0))
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
    """:func:`sizes`, rejecting fits with fewer than ``minimum`` points (``ValueError``)."""
    s = sizes(policy, m)
    if s.fit.size and s.fit.min() < minimum:
        g = int(np.argmin(s.fit))
        raise ValueError(f"policy {str(policy)!r}: fit {g + 1} would use {int(s.fit[g])} points, "
                         f"fewer than the estimator's minimum {minimum}; raise sample_size")
    return s


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



# ---------------------------------------------------------------------------------------------
# Gaussian chains under a policy.
#
# Exact path: a batch of m points from N(μ, L Lᵀ) has mean μ + L z/√m and scatter L A Aᵀ Lᵀ with
# A A ᵀ ~ Wishart_d(m − 1, I) (Bartlett), independent; pools combine exactly:
# n = n₁ + n₂, x̄ = (n₁ x̄₁ + n₂ x̄₂)/n, S = S₁ + S₂ + (n₁ n₂/n)(x̄₁ − x̄₂)(x̄₁ − x̄₂)ᵀ.
# Memory is O(d²) per trial.  Sample path: the points themselves (accumulate policies keep the
# whole pool, O(N_G d) per trial) and the fit computed from them.

class _GState(NamedTuple):
    mean: jax.Array  # (d,) fitted μ_g
    chol: jax.Array  # (d, d) Cholesky factor of the fitted Σ_g
    n: jax.Array  # () points in the pool (accumulate) or the fixed real set (fixed)
    pmean: jax.Array  # (d,) pool mean (exact path)
    pscat: jax.Array  # (d, d) pool scatter (exact path)
    buf: jax.Array  # (cap, d) pool points (sample path; cap = 0 on the exact path)
    d0_mean: jax.Array  # (d,) D0
    d0_chol: jax.Array  # (d, d)


def simulate_gaussian(key, *, policy, sample_size, generations, trials, dim=1, mean=None,
                      cov=None, estimator="unbiased", method="exact", record=None,
                      data="gaussian", chunk_size=None, progress=False):
    """``gaussian.simulate`` under any policy (arguments as there; D0 must be Gaussian).

    ``method="exact"`` carries the pool's sufficient statistics, O(d²) per trial;
    ``"samples"`` draws the points (accumulate policies keep the pool's points).
    ``accumulate-subsample`` has no exact path (its fits share points) and always uses the
    samples.  Σ_g is carried itself (these policies do not collapse), not on a log scale.
    """
    from . import gaussian
    from .sources import real_data

    key = _validate.key("key", key)
    policy = parse(policy)
    generations = _validate.integer("generations", generations, minimum=0)
    trials = _validate.integer("trials", trials, minimum=1)
    dim = _validate.integer("dim", dim, minimum=1)
    estimator = _validate.choice("estimator", estimator, gaussian.ESTIMATORS)
    method = _validate.choice("method", method, gaussian.METHODS)
    source = real_data(data)
    if not source.is_gaussian:
        raise ValueError(f"policy {str(policy)!r} needs data='gaussian', got data={source.name!r}")
    off = 1 if estimator == "unbiased" else 0
    m = _validate.schedule("sample_size", sample_size, generations, minimum=dim + 1)
    mean0 = np.zeros(dim) if mean is None else _validate.vector("mean", mean, dim)
    cov0 = np.eye(dim) if cov is None else _validate.spd_matrix("cov", cov, dim)
    s = check_sizes(policy, m, dim + 1)
    if policy.name == "accumulate-subsample":
        method = "samples"
    dtype = engine.float_dtype()
    syn_max = int(s.synthetic.max()) if generations else 0
    real_max = int(s.real.max()) if generations else 0
    cap = 0
    if method == "samples" and policy.name in ("accumulate", "accumulate-subsample"):
        cap = int(s.synthetic.sum()) + syn_max
    elif method == "samples" and policy.name == "fixed":
        cap = real_max
    chol0 = np.linalg.cholesky(cov0)
    state0 = _GState(jnp.asarray(mean0, dtype), jnp.asarray(chol0, dtype), jnp.zeros((), dtype),
                     jnp.zeros(dim, dtype), jnp.zeros((dim, dim), dtype),
                     jnp.zeros((cap, dim), dtype), jnp.asarray(mean0, dtype),
                     jnp.asarray(chol0, dtype))
    # The exact path's shapes do not depend on the batch sizes: key its compiled step without them.
    exact = method == "exact"
    step = _gaussian_step(policy.name, method, dim, off, 0 if exact else syn_max,
                          0 if exact else real_max, cap, np.dtype(dtype).name)
    if chunk_size is None:
        per_trial = 4 * (cap + syn_max + real_max + 1) * dim * np.dtype(dtype).itemsize
        chunk_size = max(1, min(trials, (1 << 28) // per_trial))
    gens, rec, _ = engine.run_chain(
        key, state0=state0, step=step, observe=_gaussian_observe, generations=generations,
        trials=trials, record=record, chunk_size=chunk_size, progress=progress,
        xs=(jnp.asarray(s.synthetic, dtype), jnp.asarray(s.real, dtype)),
        label=f"gaussian d={dim} {policy} {method}")
    return gaussian.GaussianResult(jnp.asarray(gens), *rec)


def _gaussian_observe(s: _GState):
    diag = jnp.diagonal(s.chol)
    log_diag = jnp.log(diag)
    return s.mean, 2.0 * jnp.sum(log_diag), log_diag, s.chol / diag[None, :]


def _combine(a, b):
    """Exact pooling of ``(n, mean, scatter)`` triples (either may be empty, ``n = 0``)."""
    n1, m1, s1 = a
    n2, m2, s2 = b
    n = n1 + n2
    safe = jnp.maximum(n, 1.0)
    delta = m2 - m1
    return n, m1 + (n2 / safe) * delta, s1 + s2 + (n1 * n2 / safe) * jnp.outer(delta, delta)


def _stats_exact(k, mean, chol, m, dim, dtype):
    """``(m, batch mean, batch scatter)`` of ``m`` points of ``N(mean, chol cholᵀ)`` in law.

    Scatter ``L F Fᵀ Lᵀ`` with ``F F ᵀ ~ Wishart_d(m − 1, I)``: ``F`` is the Bartlett factor when
    ``m − 1 ≥ d``, else (singular Wishart) ``m − 1 < d`` columns of i.i.d. ``N(0, I_d)``.
    """
    k_z, k_chi, k_low, k_g = jax.random.split(k, 4)
    z = jax.random.normal(k_z, (dim,), dtype) / jnp.sqrt(jnp.maximum(m, 1.0))
    dof = m - jnp.arange(1, dim + 1, dtype=dtype)  # A_jj² ~ χ²_{m−j}
    chi2 = jnp.where(dof > 0, 2.0 * jax.random.gamma(k_chi, 0.5 * jnp.maximum(dof, 1.0),
                                                     dtype=dtype), 0.0)
    a = jnp.tril(jax.random.normal(k_low, (dim, dim), dtype), -1) + jnp.diag(jnp.sqrt(chi2))
    cols = jnp.arange(dim, dtype=dtype) < m - 1  # at most d − 1 columns when m − 1 < d
    few = jnp.where(cols[None, :], jax.random.normal(k_g, (dim, dim), dtype), 0.0)
    la = chol @ jnp.where(m - 1 < dim, few, a)
    return m, mean + chol @ z, jnp.where(m > 1, la @ la.T, 0.0)


def _stats_points(x, mask):
    """``(n, mean, scatter)`` of the rows of ``x`` where ``mask``."""
    w = mask.astype(x.dtype)[:, None]
    n = jnp.sum(w)
    mean = jnp.sum(w * x, axis=0) / jnp.maximum(n, 1.0)
    c = w * (x - mean)
    return n, mean, c.T @ c


def _fit(stats, off):
    n, mean, scat = stats
    cov = 0.5 * (scat + scat.T) / (n - off)
    return mean, jnp.linalg.cholesky(cov)


@functools.lru_cache(maxsize=64)
def _gaussian_step(name, method, dim, off, syn_max, real_max, cap, dtype):
    """One fit under policy ``name``; cached on the static configuration (engine compile cache)."""
    dtype = jnp.dtype(dtype)

    def exact(k, s, x):
        syn, real = x
        k_r, k_b = jax.random.split(k)
        rstats = _stats_exact(k_r, s.d0_mean, s.d0_chol, real, dim, dtype)
        bstats = _stats_exact(k_b, s.mean, s.chol, syn, dim, dtype)
        pool = (s.n, s.pmean, s.pscat)
        if name == "accumulate":
            pool = _combine(pool, bstats)
            data = pool
        elif name == "fresh":
            data = _combine(rstats, bstats)
        else:  # fixed: the real set is drawn at fit 1 (real > 0 only there)
            pool = jax.tree.map(lambda r, p: jnp.where(real > 0, r, p), rstats, pool)
            data = _combine(pool, bstats)
        mean, chol = _fit(data, off)
        return s._replace(mean=mean, chol=chol, n=pool[0], pmean=pool[1], pscat=pool[2])

    def points(k, mean, chol, n_max):
        return mean + jax.random.normal(k, (n_max, dim), dtype) @ chol.T

    def samples(k, s, x):
        syn, real = x
        k_r, k_b, k_u = jax.random.split(k, 3)
        xb = points(k_b, s.mean, s.chol, syn_max)
        mb = jnp.arange(syn_max) < syn
        if name in ("accumulate", "accumulate-subsample"):
            start = s.n.astype(jnp.int32)
            buf = jax.lax.dynamic_update_slice(s.buf, xb, (start, jnp.zeros_like(start)))
            n = s.n + syn
            idx = jnp.arange(cap)
            if name == "accumulate":
                data = _stats_points(buf, idx < n)
            else:  # a uniform subset of syn points of the pool, without replacement
                u = jnp.where(idx < n, jax.random.uniform(k_u, (cap,), dtype), 2.0)
                pick = jnp.argsort(u)[:syn_max]
                data = _stats_points(buf[pick], mb)
            s = s._replace(buf=buf, n=n)
        elif name == "fresh":
            xr = points(k_r, s.d0_mean, s.d0_chol, real_max)
            mr = jnp.arange(real_max) < real
            data = _stats_points(jnp.concatenate([xr, xb]), jnp.concatenate([mr, mb]))
        else:  # fixed
            xr = points(k_r, s.d0_mean, s.d0_chol, real_max)
            buf = jnp.where(real > 0, xr, s.buf)
            n = jnp.where(real > 0, real, s.n)
            mr = jnp.arange(real_max) < n
            data = _stats_points(jnp.concatenate([buf, xb]), jnp.concatenate([mr, mb]))
            s = s._replace(buf=buf, n=n)
        mean, chol = _fit(data, off)
        return s._replace(mean=mean, chol=chol)

    return exact if method == "exact" else samples
