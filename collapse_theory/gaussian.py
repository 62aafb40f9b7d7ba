r"""Gaussian refitting chains in ``d`` dimensions (Shumailov et al., Theorem 3.1).

Fit ``g`` estimates a mean and covariance from ``M_g`` samples of generation ``g − 1`` and
generation ``g`` is ``N(μ_g, Σ_g)``.  For Gaussian data the fitted statistics have the exact law

.. math::
   μ_g = μ_{g-1} + L_{g-1} z / \sqrt{M_g},\qquad
   Σ_g = c_g\, L_{g-1} A A^\top L_{g-1}^\top,\qquad A A^\top \sim \mathrm{Wishart}_d(M_g - 1, I),

with ``L`` the Cholesky factor of ``Σ``, ``z ~ N(0, I)`` independent of ``A`` and
``c_g = 1/(M_g − 1)`` (unbiased) or ``1/M_g`` (MLE).  ``A`` is the Bartlett factor: lower
triangular, ``A_jj² ~ χ²_{M−j}``, ``A_jk ~ N(0, 1)`` below the diagonal, so ``L_g = √c_g L_{g-1} A``
is again a Cholesky factor.  For ``M − 1 < d`` the Wishart is singular: columns ``j ≥ M`` of
``A`` vanish.  ``method="exact"`` samples ``(z, A)`` directly (O(d³) per step, whatever M);
``method="samples"`` draws the ``M_g`` points and refits, the literal process.

Collapse drives ``Σ_g → 0`` exponentially, so every factor is stored as
``L = U diag(exp(ℓ))`` with ``U`` unit lower triangular and ``ℓ`` the log-diagonal
(:class:`Params`): ``log det Σ = 2 Σ_j ℓ_j`` stays finite for any chain length in float32 and
float64.  A singular factor has ``ℓ_j = −∞`` and ``U e_j = e_j`` for its zero columns (the
trailing ones, for generic data), so a singular fit has ``log det = −∞``, never NaN.

:func:`family` is the model family of :mod:`collapse_theory.chain` (its exact shortcuts are the
mean and scatter factor above, in the same log-factor form), and :func:`simulate` runs it under
any data policy.  Two specialisations of that family are used by :func:`simulate`:

* ``method="samples"`` without real points after fit 1 (``replace``): the points are drawn in
  the model's own coordinates, ``x = μ + L ξ``, and the fit is mapped back by the affine
  equivariance of the mean and scatter (``fit(μ + Lξ) = (μ + L ξ̄, L B_ξ)``), so the literal
  process stays exact in log scale after ``Σ`` has collapsed below the float resolution of ``μ``.
* ``d = 1``, ``method="exact"``, ``replace`` is an :class:`~collapse_theory.engine.BlockStep`
  (the family's ``sample_stats`` + ``fit_stats`` with the noise ``(z/√M_g, ½ log χ²_{M_g−1})``
  of each block of generations drawn at once from counters ``g`` under the trial's Threefry
  seed): ``ℓ_g = ℓ_{g−1} + ½ log χ² + log √c_g``, ``μ_g = μ_{g−1} + e^{ℓ_{g−1}} z/√M_g``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, chain, engine, metrics, policies, rng, samplers
from .family import Family
from .samplers.gamma import log_gamma_rows
from .sources import RealData, real_data

ESTIMATORS = ("unbiased", "mle")
METHODS = ("exact", "samples")


class GaussianResult(NamedTuple):
    """Recorded generations of a Gaussian refitting chain (a pytree).

    Attributes:
      generation: ``(R,)`` recorded generations; 0 is D0, ``g ≥ 1`` the ``g``-th fit.
      mean: ``(trials, R, dim)`` fitted means μ_g.
      log_det: ``(trials, R)`` log det Σ_g (log σ²_g in 1-D; ``−inf`` for a singular fit).
      log_diag: ``(trials, R, dim)`` log of the Cholesky diagonal, ℓ (``log_det = 2 Σ ℓ``).
      unit_chol: ``(trials, R, dim, dim)`` unit lower-triangular ``U``: ``chol Σ = U diag(e^ℓ)``.
    """

    generation: jax.Array
    mean: jax.Array
    log_det: jax.Array
    log_diag: jax.Array
    unit_chol: jax.Array

    @property
    def chol(self) -> jax.Array:
        """Cholesky factor ``U diag(e^ℓ)`` (underflows to 0 once the chain has collapsed)."""
        return self.unit_chol * jnp.exp(self.log_diag)[..., None, :]

    @property
    def cov(self) -> jax.Array:
        """Covariance Σ_g (underflows to 0 once the chain has collapsed; prefer ``log_det``)."""
        chol = self.chol
        return chol @ jnp.swapaxes(chol, -1, -2)


class Params(NamedTuple):
    """A fitted Gaussian ``N(mean, L Lᵀ)``, ``L = unit · diag(exp(log_diag))``."""

    mean: jax.Array  # (d,)
    log_diag: jax.Array  # (d,)  ℓ, −inf for a zero column
    unit: jax.Array  # (d, d) unit lower triangular U


class Stats(NamedTuple):
    """Sufficient statistics of ``n`` weighted points: their mean and scatter ``B Bᵀ``,
    ``B = unit · diag(exp(log_diag))`` (``n = 0``: no points, the identity of ``merge``)."""

    n: jax.Array  # ()
    mean: jax.Array  # (d,)
    log_diag: jax.Array  # (d,)
    unit: jax.Array  # (d, d)


# ---------------------------------------------------------------------------------------------
# Log-factor algebra


def _canonical(log_diag, unit):
    """``U`` with the columns of zero factor columns (``ℓ_j = −∞``) set to ``e_j``."""
    dead = jnp.isneginf(log_diag)
    return jnp.where(dead[None, :], jnp.eye(log_diag.shape[0], dtype=unit.dtype), unit)


def _compose(log_diag, unit, log_a, lower):
    r"""``L A`` in log-factor form for ``L = U diag(e^ℓ)`` and ``A = lower + diag(e^{log a})``.

    ``U' = U W``, ``W = I + lower ∘ exp(ℓ_k − ℓ'_j)`` (row k, column j), ``ℓ' = ℓ + log a``: the
    exponent is capped below the float overflow point (a NaN one, ``−∞ − (−∞)``, too), and a zero
    column (``ℓ'_j = −∞``) of the product is reset to ``e_j`` (exact when the zero columns are
    trailing, as for rank-deficient fits); the cap keeps ``W`` finite, so no NaN reaches ``U'``.
    """
    ell = log_diag + log_a
    cap = 0.9 * math.log(jnp.finfo(ell.dtype).max)
    expo = log_diag[:, None] - ell[None, :]
    w = jnp.eye(ell.shape[0], dtype=ell.dtype) + lower * jnp.exp(jnp.where(expo < cap, expo, cap))
    return ell, _canonical(ell, unit @ w)


def _rank_mask(log_diag, rank):
    """``ℓ_j = −∞`` for ``j ≥ rank`` (0-based): a scatter of rank ``< d`` is singular, not the
    round-off that a QR leaves in its trailing diagonal."""
    return jnp.where(jnp.arange(log_diag.shape[0]) < rank, log_diag, -jnp.inf)


def _factor(rows, rank, roundoff=0.0):
    """``(ℓ, U)`` of the lower factor ``B`` with ``B Bᵀ = rowsᵀ rows`` (``rows`` ``(k, d)``),
    from the QR decomposition (``B = Rᵀ`` up to column signs), more accurate than a Cholesky of
    the Gram matrix.  Unless ``roundoff`` is ``None``, a diagonal at round-off,
    ``|R_jj| ≤ max(k, d) ε (max|R_ii| + roundoff)`` (numpy's ``matrix_rank`` rule; ``roundoff``
    the scale of the rows before centring), is a zero column (``ℓ_j = −∞``): the points or
    factors of a singular model span its support only up to rounding."""
    k, d = rows.shape
    if d == 1:  # flat: XLA:CPU reduces (k, 1) over its first axis far slower than (k,)
        ell = jnp.log(jnp.sqrt(jnp.sum(rows[:, 0] ** 2)))[None]
        return _rank_mask(ell, rank), jnp.ones((1, 1), rows.dtype)
    if k < d:
        rows = jnp.concatenate([rows, jnp.zeros((d - k, d), rows.dtype)])
    r = jnp.linalg.qr(rows, mode="r")
    diag = jnp.abs(jnp.diagonal(r))
    tol = (0.0 if roundoff is None
           else max(k, d) * jnp.finfo(rows.dtype).eps * (jnp.max(diag) + roundoff))
    ell = _rank_mask(jnp.where(diag > tol, jnp.log(diag), -jnp.inf), rank)
    unit = jnp.tril((r / jnp.where(diag == 0, 1.0, jnp.diagonal(r))[:, None]).T)
    return ell, _canonical(ell, unit)


def _stats(points, weights, roundoff=True) -> Stats:
    """Weighted mean and scatter factor (QR of ``√w (x − x̄)``); ``n = Σ w`` (``roundoff``: see
    :func:`_factor`)."""
    w = weights.astype(points.dtype)
    n = jnp.sum(w)
    if points.shape[1] == 1:  # flat arithmetic (see _factor); 1-D needs no round-off test
        x = points[:, 0]
        mean = jnp.sum(w * x) / jnp.where(n > 0, n, 1.0)
        centred = jnp.where(w > 0, jnp.sqrt(w) * (x - mean), 0.0)
        rank = jnp.sum(w > 0) - 1
        ell = _rank_mask(jnp.log(jnp.sqrt(jnp.sum(centred ** 2)))[None], rank)
        return Stats(n, mean[None], ell, jnp.ones((1, 1), points.dtype))
    mean = jnp.sum(w[:, None] * points, axis=0) / jnp.where(n > 0, n, 1.0)
    centred = jnp.where(w[:, None] > 0, jnp.sqrt(w)[:, None] * (points - mean), 0.0)
    scale = jnp.sqrt(n) * jnp.max(jnp.where(w[:, None] > 0, jnp.abs(points), 0.0))
    ell, unit = _factor(centred, jnp.sum(w > 0) - 1, scale if roundoff else None)
    return Stats(n, mean, ell, unit)


def _merge(a: Stats, b: Stats) -> Stats:
    r"""Chan's pooled update: ``n = n₁ + n₂``, ``x̄ = x̄₁ + (n₂/n) δ``, ``δ = x̄₂ − x̄₁`` and
    ``B Bᵀ = B₁B₁ᵀ + B₂B₂ᵀ + (n₁n₂/n) δδᵀ``, the factor from the QR of the stacked
    ``[B₁ᵀ; B₂ᵀ; √(n₁n₂/n) δᵀ] e^{−c}`` with ``c`` the largest log-scale, so that it is exact in
    log scale (``n = 0`` is the identity)."""
    n = a.n + b.n
    safe = jnp.where(n > 0, n, 1.0)
    delta = b.mean - a.mean
    mean = a.mean + (b.n / safe) * delta
    log_w = 0.5 * jnp.log(a.n * b.n / safe)
    log_delta = jnp.log(jnp.abs(delta)) + log_w
    logs = jnp.concatenate([a.log_diag, b.log_diag, log_delta])
    c = jnp.max(jnp.where(jnp.isfinite(logs), logs, -jnp.inf))
    c = jnp.where(jnp.isfinite(c), c, 0.0)
    rank = (jnp.sum(jnp.isfinite(a.log_diag)) + jnp.sum(jnp.isfinite(b.log_diag))
            + ((a.n > 0) & (b.n > 0)))
    if a.mean.shape[0] == 1:
        ell = 0.5 * jax.nn.logsumexp(2.0 * (logs - c)) + c
        ell, unit = _rank_mask(ell[None], rank), jnp.ones_like(a.unit)
    else:
        rows = jnp.concatenate([
            (a.unit * jnp.exp(a.log_diag - c)[None, :]).T,
            (b.unit * jnp.exp(b.log_diag - c)[None, :]).T,
            (jnp.sign(delta) * jnp.exp(log_delta - c))[None, :]])
        ell, unit = _factor(rows, rank)
        ell = ell + c
    pooled = Stats(n, mean, ell, unit)
    return jax.tree.map(lambda x, y, z: jnp.where(a.n == 0, y, jnp.where(b.n == 0, x, z)),
                        a, b, pooled)


def _log_sqrt_c(n, off):
    """``−½ log(n − off)``, ``−∞`` for a degenerate fit (``n − off ≤ 0``)."""
    dof = n - off
    return jnp.where(dof > 0, -0.5 * jnp.log(jnp.where(dof > 0, dof, 1.0)), -jnp.inf)


def _bartlett(key, n, dim, dtype):
    r"""Mean noise ``z/√n`` and Bartlett factor ``(log a, lower)`` of ``n`` points of ``N(0, I)``:
    ``a_j² ~ χ²_{n−j}`` (:func:`~collapse_theory.samplers.log_chisquare`), ``lower`` i.i.d.
    ``N(0, 1)``; the columns ``j ≥ n`` of a singular Wishart (``n − 1 < d``) are zero.
    (:func:`~collapse_theory.samplers.bartlett` needs ``dof > d − 1``.)"""
    k_z, k_chi, k_low = jax.random.split(key, 3)
    z = rng.normal(k_z, (dim,), dtype) / jnp.sqrt(jnp.maximum(n, 1.0))
    dof = n - jnp.arange(1, dim + 1, dtype=dtype)
    live = dof > 0
    log_a = 0.5 * samplers.log_chisquare(k_chi, jnp.where(live, dof, 1.0), dtype=dtype)
    lower = jnp.tril(rng.normal(k_low, (dim, dim), dtype), -1)
    return z, jnp.where(live, log_a, -jnp.inf), jnp.where(live[None, :], lower, 0.0)


def _refit_whitened(previous: Params, xi, weights, log_sqrt_c) -> Params:
    """The fit to ``x = μ + L ξ`` from the statistics of ``ξ`` (affine equivariance; ``ξ`` is
    full rank when ``n > d``, so only the rank bound makes a zero column)."""
    s = _stats(xi, weights, roundoff=False)
    mean = previous.mean + previous.unit @ (jnp.exp(previous.log_diag) * s.mean)
    lower = jnp.tril(s.unit, -1) * jnp.exp(s.log_diag)[None, :]
    ell, unit = _compose(previous.log_diag, previous.unit, s.log_diag, lower)
    return Params(mean, ell + log_sqrt_c, unit)


@functools.lru_cache(maxsize=32)
def family(dim: int = 1, estimator: str = "unbiased") -> Family:
    """The Gaussian family ``N(μ, L Lᵀ)`` in ``dim`` dimensions (params :class:`Params`).

    ``fit`` is the weighted mean and ``scatter/(n − 1)`` (unbiased) or ``scatter/n`` (MLE),
    ``n = Σ w``; the exact shortcuts are :class:`Stats` (merged by Chan's update) and
    ``sample_stats`` the Bartlett decomposition ``B = L A`` (module docstring).  A fit with
    ``n − off ≤ 0`` or fewer than ``d + 1`` points is singular: ``ℓ = −∞``, never NaN.
    """
    dim = _validate.integer("dim", dim, minimum=1)
    off = 1 if _validate.choice("estimator", estimator, ESTIMATORS) == "unbiased" else 0

    def sample(key, params: Params, n: int):
        xi = rng.normal(key, (n, dim), params.mean.dtype)
        return params.mean + xi @ (params.unit * jnp.exp(params.log_diag)[None, :]).T

    def fit_stats(s: Stats) -> Params:
        ell = s.log_diag + _log_sqrt_c(s.n, off)
        return Params(s.mean, ell, _canonical(ell, s.unit))

    def fit(points, weights) -> Params:
        return fit_stats(_stats(points, weights))

    def sample_stats(key, params: Params, n) -> Stats:
        dtype = params.mean.dtype
        n = jnp.asarray(n, dtype)
        z, log_a, lower = _bartlett(key, n, dim, dtype)
        mean = params.mean + params.unit @ (jnp.exp(params.log_diag) * z)
        ell, unit = _compose(params.log_diag, params.unit, log_a, lower)
        return Stats(n, mean, ell, unit)

    return Family(sample, fit, _stats, _merge, fit_stats, sample_stats,
                  name=f"gaussian d={dim} {estimator}")


@functools.lru_cache(maxsize=32)
def _points_family(dim: int, estimator: str) -> Family:
    """:func:`family` without its exact shortcuts: draw the points and refit."""
    return family(dim, estimator)._replace(stats=None, merge=None, fit_stats=None,
                                           sample_stats=None)


@functools.lru_cache(maxsize=32)
def _whitened_family(dim: int, estimator: str) -> Family:
    """:func:`_points_family` with its points in the model's own coordinates, ``x = μ + L ξ``
    (module docstring): ``sample`` gives ``ξ``, ``fit`` maps the fit of ``ξ`` by ``previous``."""
    off = 1 if estimator == "unbiased" else 0

    def sample(key, params: Params, n: int):
        return rng.normal(key, (n, dim), params.mean.dtype)

    def fit(xi, weights, *, previous: Params) -> Params:
        return _refit_whitened(previous, xi, weights,
                               _log_sqrt_c(jnp.sum(weights.astype(xi.dtype)), off))

    return Family(sample, fit, name=f"gaussian d={dim} {estimator} samples")


@functools.lru_cache(maxsize=32)
def _real_sampler(source: RealData, mean: tuple, chol: tuple, whitened: bool):
    """D0 as ``real(key, n) = mean + ξ cholᵀ`` (``ξ`` itself when ``whitened``)."""
    mu = np.asarray(mean)
    factor = np.asarray(chol).reshape(mu.size, mu.size)

    def real(key, n: int):
        dtype = engine.float_dtype()
        xi = source.sample(key, (n, mu.size), dtype)
        return xi if whitened else jnp.asarray(mu, dtype) + xi @ jnp.asarray(factor, dtype).T

    return real


def simulate(key, *, sample_size, generations, trials, dim=1, mean=None, cov=None,
             estimator="unbiased", method="exact", record=None, data="gaussian",
             chunk_size=None, progress=False, policy="replace",
             memory_limit=None) -> GaussianResult:
    """Run ``trials`` independent Gaussian refitting chains for ``generations`` fits.

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      sample_size: ``M`` (int) or a schedule ``(M_1, ..., M_G)``; ``M_g ≥ 1`` (a fit to fewer
        than ``dim + 1`` points is singular: ``log_det = −inf``).
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      dim: dimension ``d``.
      mean, cov: D0's mean and covariance (default ``0`` and ``I``).
      estimator: ``"unbiased"`` (÷(M−1), the paper's theorem) or ``"mle"`` (÷M).
      method: ``"exact"`` (Bartlett decomposition) or ``"samples"`` (draw and refit).
      record: ``None`` or ``"all"`` (every generation), ``"log"`` or a list of generations
        (``engine.run_chain``).
      data: D0's shape: ``"gaussian"``, ``"student-t[:df]"``, ``"uniform"``, ``"laplace"``,
        ``"mixture[:delta]"`` or a :class:`~collapse_theory.sources.RealData`; D0 is
        ``mean + chol(cov) ξ`` with ξ i.i.d. standardised per coordinate.  Fit 1 and the real
        points of ``fresh``/``fixed`` are drawn from it; later synthetic data are Gaussian.
      chunk_size: trials per chunk (default: bounded by the engine's memory budget).
      progress: report progress on stderr.
      policy: which data each fit sees (:mod:`collapse_theory.policies`): ``"replace"`` (the
        paper's chain, default), ``"accumulate"``, ``"accumulate-subsample"``, ``"fresh:γ"``,
        ``"fixed:λ"`` or a :class:`~collapse_theory.policies.Policy`.  Every policy runs
        :func:`collapse_theory.chain.simulate` on :func:`family` (module docstring).
      memory_limit: bytes the run may use (default: this machine's physical memory; see
        :func:`collapse_theory.chain.simulate`): a run estimated to need more is refused with a
        ``ValueError`` before any work.
    """
    run = _setup(key, sample_size, generations, trials, dim, mean, cov, estimator, method,
                 record, data, chunk_size, progress, policy, memory_limit)
    if run.block is not None:
        gens, (mean, ell), _ = engine.run_chain(run.key, observe=_observe_1d, **run.block)
        log_det, unit = _derived_1d(ell)
        return GaussianResult(jnp.asarray(gens), mean, log_det, ell, unit)
    res = chain.simulate(run.key, run.family, run.params0, **run.chain)
    p = res.params
    return GaussianResult(jnp.asarray(res.generation), p.mean, 2.0 * jnp.sum(p.log_diag, -1),
                          p.log_diag, p.unit)


#: Statistics available to :func:`simulate_summary`.
SUMMARY_STATISTICS = ("log_det", "mean_sq_dev", "w2_squared")


def simulate_summary(key, *, sample_size, generations, trials, statistics=("log_det", "mean_sq_dev"),
                     keep=4096, record="log", dim=1, mean=None, cov=None, estimator="unbiased",
                     method="exact", data="gaussian", chunk_size=None,
                     progress=False, memory_limit=None) -> engine.Summary:
    """Streaming summaries instead of per-trial records (see :func:`engine.summarize_chain`).

    Same chain and keys as :func:`simulate`; memory is independent of ``trials``.  Statistics
    (a dict in each :class:`~collapse_theory.engine.Summary` field): ``"log_det"`` (log det Σ_g),
    ``"mean_sq_dev"`` (|μ_g − μ_0|²) and ``"w2_squared"`` (W2² to D0, Gaussian D0 only: Bures
    from the factor, never underflows).  ``memory_limit`` as in :func:`simulate`.
    """
    names = _validate.choices("statistics", statistics, SUMMARY_STATISTICS)
    keep = _validate.integer("keep", keep, minimum=1)
    run = _setup(key, sample_size, generations, trials, dim, mean, cov, estimator, method,
                 record, data, chunk_size, progress, "replace", memory_limit, keep)
    if "w2_squared" in names and not run.source.is_gaussian:
        raise ValueError(f"statistics='w2_squared' needs a Gaussian D0, got data={data!r}; "
                         "see metrics.gelbrich_to_d0 for a lower bound")
    observe = _summary_observe(names, tuple(run.mean0.ravel()), tuple(run.cov0.ravel()))
    if run.block is not None:
        return engine.summarize_chain(run.key, observe=observe, keep=keep, **run.block)
    return chain.summarize(run.key, run.family, run.params0, statistics=observe, keep=keep,
                           **run.chain)


@functools.lru_cache(maxsize=32)
def _summary_observe(names: tuple, mean0: tuple, cov0: tuple):
    mu0 = jnp.asarray(mean0)
    sigma0 = jnp.asarray(cov0).reshape(mu0.size, mu0.size)

    def observe(s: Params):
        out = {}
        if "log_det" in names:
            out["log_det"] = 2.0 * jnp.sum(s.log_diag)
        if "mean_sq_dev" in names:
            out["mean_sq_dev"] = jnp.sum((s.mean - mu0.astype(s.mean.dtype)) ** 2)
        if "w2_squared" in names:
            factor = s.unit * jnp.exp(s.log_diag)[None, :]
            out["w2_squared"] = metrics.w2_squared_gaussian_factor(
                s.mean, factor, mu0.astype(s.mean.dtype), sigma0.astype(s.mean.dtype))
        return out

    return observe


class _Run(NamedTuple):
    key: jax.Array
    family: Family | None
    params0: Params
    chain: dict | None  # chain.simulate's keyword arguments
    block: dict | None  # engine.run_chain's, for the 1-D exact replace BlockStep
    mean0: np.ndarray
    cov0: np.ndarray
    source: RealData


def _setup(key, sample_size, generations, trials, dim, mean, cov, estimator, method, record,
           data, chunk_size, progress, policy, memory_limit=None, keep=0) -> _Run:
    """Validate at the Python boundary; choose the family (or the 1-D BlockStep) and D0."""
    key = _validate.key("key", key)
    pol = policies.parse(policy)
    generations, trials = engine.check_counts(generations, trials, memory_limit)
    engine.check_records(generations, trials, record, keep, memory_limit)
    dim = _validate.integer("dim", dim, minimum=1)
    estimator = _validate.choice("estimator", estimator, ESTIMATORS)
    method = _validate.choice("method", method, METHODS)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=1)
    mean0 = np.zeros(dim) if mean is None else _validate.vector("mean", mean, dim)
    cov0 = np.eye(dim) if cov is None else _validate.spd_matrix("cov", cov, dim)
    source = real_data(data)
    sizes = policies.check_sizes(pol, m, 1)
    if pol.name == "fresh" and not sizes.real.any():
        pol = policies.parse("replace")  # no real point is ever drawn: the replace chain
    dtype = engine.float_dtype()
    chol0 = np.linalg.cholesky(cov0)
    params0 = Params(jnp.asarray(mean0, dtype), jnp.asarray(np.log(np.diag(chol0)), dtype),
                     jnp.asarray(chol0 / np.diag(chol0), dtype))
    replace = pol.name == "replace"
    common = dict(generations=generations, trials=trials, record=record, chunk_size=chunk_size,
                  progress=progress, memory_limit=memory_limit)
    block = None
    if replace and method == "exact" and dim == 1 and (m.size == 0 or m.min() >= 2):
        block = _block_chain(params0, m, estimator, source, common, keep)
        return _Run(key, None, params0, None, block, mean0, cov0, source)
    whitened = replace and method == "samples"
    if method == "exact":
        fam = family(dim, estimator)
    else:
        fam = (_whitened_family if whitened else _points_family)(dim, estimator)
    real = None if source.is_gaussian else _real_sampler(
        source, tuple(mean0.ravel()), tuple(chol0.ravel()), whitened)
    kw = dict(sample_size=m, policy=pol, real=real, **common)
    return _Run(key, fam, params0, kw, None, mean0, cov0, source)


def _block_chain(params0: Params, m, estimator, source: RealData, common: dict,
                 keep: int) -> dict:
    """``engine.run_chain``'s arguments for the 1-D exact replace BlockStep; for records
    (``keep == 0``) the run's memory is checked on shapes before they are built, as
    :func:`collapse_theory.chain.simulate` does (summaries: by the engine, on their own
    statistics)."""
    dtype = engine.float_dtype()
    m_1 = int(m[0]) if m.size and not source.is_gaussian else 0
    # A fit's points on non-Gaussian real data, and the drawn noise (two floats a generation).
    trial_bytes = (4 * m_1 + 2 * _ROWS) * np.dtype(dtype).itemsize
    if not keep:
        engine.check_run(state0=params0, observe=_held_1d,
                         xs=(jax.ShapeDtypeStruct(m.shape, dtype),) * 2,
                         trial_bytes=trial_bytes, **{k: common[k] for k in (
                             "generations", "trials", "record", "chunk_size", "memory_limit")})
    # Per fit: M_g and log √c_g, c_g = 1/(M_g − 1) (unbiased) or 1/M_g (MLE).
    log_sqrt_c = -0.5 * np.log(m - 1.0 if estimator == "unbiased" else m.astype(np.float64))
    first = _first_1d(source, m_1, np.dtype(dtype).name) if m_1 else None
    return dict(state0=params0, step=_BLOCK_STEP, first_step=first,
                xs=(jnp.asarray(m, dtype), jnp.asarray(log_sqrt_c, dtype)),
                trial_bytes=trial_bytes, label="gaussian d=1 exact",
                **common)


def _observe_1d(s: Params):
    """What the 1-D chain records per generation: μ and ℓ, the result's ``mean`` and
    ``log_diag`` as they are.  ``log_det = 2ℓ`` and ``U = 1`` are derived after the run
    (:func:`_derived_1d`): half the records to write and to transpose."""
    return s.mean, s.log_diag


@jax.jit
def _derived_1d(ell):
    """:class:`GaussianResult`'s ``log_det`` and ``unit_chol`` from the 1-D records ``ℓ``
    ``(trials, R, 1)``."""
    return 2.0 * ell[..., 0], jnp.ones(ell.shape + (1,), ell.dtype)


def _held_1d(s: Params):
    """What a 1-D run holds per trial and generation at its peak, for the memory check: the
    records (the result's ``mean`` and ``log_diag``) and what is derived from them."""
    return _observe_1d(s), (s.log_diag, s.unit)


@functools.lru_cache(maxsize=16)
def _first_1d(source: RealData, m_1: int, dtype: str):
    """Fit 1 of the 1-D BlockStep chain on ``m_1`` non-Gaussian real points (whitened)."""
    def first_step(k, state: Params, x):
        m_g, log_sqrt_c = x
        xi = source.sample(k, (m_1, 1), jnp.dtype(dtype))
        return _refit_whitened(state, xi, (jnp.arange(m_1) < m_g).astype(dtype), log_sqrt_c)

    return first_step


def _draw_1d(seeds, g, x):
    """Noise ``(z/√M_g, log G((M_g − 1)/2))`` of generations ``g`` (``(B, T)`` each).

    Under trial ``t``'s seed, generation ``g``'s gamma uses counters ``(g, 0..2)`` and rejected
    lanes (:func:`~collapse_theory.samplers.gamma.log_gamma_rows`), its normal ``(g, 3)``.
    """
    m_g, _ = x
    log_g = log_gamma_rows(seeds, g, 0.5 * (m_g - 1.0))
    z = rng.normal_at(seeds, g[:, None], 3, m_g.dtype) / jnp.sqrt(m_g)[:, None]
    return z, log_g


def _apply_1d(state: Params, noise, x) -> Params:
    """One fit in 1-D (``U = 1``) from :func:`_draw_1d`'s noise:
    ``log a = ½ log χ²_{M−1} = ½ (log 2 + log G((M − 1)/2))``."""
    z_mean, log_g = noise
    _, log_sqrt_c = x
    mean, ell, unit = state
    log_a = 0.5 * (math.log(2.0) + log_g)
    return Params(mean + jnp.exp(ell) * z_mean, ell + log_a + log_sqrt_c, unit)


#: Generations of noise per draw (RESULTS, stop 42; 2-core Xeon): 8 ran 1000 trials × 5000
#: generations 1.5× faster than 1 (one draw a generation), 16 a few % faster still but 65 536
#: trials 1.4× slower than 1 (1M lanes a draw leave the cache); 8 did not slow 65 536.
_ROWS = 8
_BLOCK_STEP = engine.BlockStep(_draw_1d, _apply_1d, _ROWS)
