r"""Gaussian refitting chains in ``d`` dimensions (Shumailov et al., Theorem 3.1).

Fit ``g`` estimates a mean and covariance from ``M_g`` samples of generation ``g − 1`` and
generation ``g`` is ``N(μ_g, Σ_g)``.  For Gaussian data the fitted statistics have the exact law

.. math::
   μ_g = μ_{g-1} + L_{g-1} z / \sqrt{M_g},\qquad
   Σ_g = c_g\, L_{g-1} A A^\top L_{g-1}^\top,\qquad A A^\top \sim \mathrm{Wishart}_d(M_g - 1, I),

with ``L`` the Cholesky factor of ``Σ``, ``z ~ N(0, I)`` independent of ``A`` and
``c_g = 1/(M_g − 1)`` (unbiased) or ``1/M_g`` (MLE).  ``A`` is the Bartlett factor: lower
triangular, ``A_jj² ~ χ²_{M−j}``, ``A_jk ~ N(0, 1)`` below the diagonal, so ``L_g = √c_g L_{g-1} A``
is again a Cholesky factor.  ``method="exact"`` samples ``(z, A)`` directly (O(d³) per step,
whatever M); ``method="samples"`` draws the ``M_g`` points and refits, the literal process.

Collapse drives ``Σ_g → 0`` exponentially, so the factor is stored as
``L = U diag(exp(ℓ))`` with ``U`` unit lower triangular and ``ℓ`` the log-diagonal:
``log det Σ = 2 Σ_j ℓ_j`` stays finite for any chain length in float32 and float64.

In 1-D the exact step is an :class:`~collapse_theory.engine.BlockStep`: the noise
``(z/√M_g, ½ log χ²_{M_g−1})`` of each block of generations is drawn at once from counters
``g`` under the trial's Threefry seed, then ``ℓ_g = ℓ_{g−1} + ½ log χ² + log √c_g`` and
``μ_g = μ_{g−1} + e^{ℓ_{g−1}} z/√M_g`` are applied generation by generation.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, engine, metrics, policies, rng, samplers
from .samplers.gamma import log_gamma_rows
from .sources import RealData, real_data

ESTIMATORS = ("unbiased", "mle")
METHODS = ("exact", "samples")
#: Bytes of sample buffers one chunk may hold before trials are split into more chunks.
_CHUNK_BYTES = 1 << 28


class GaussianResult(NamedTuple):
    """Recorded generations of a Gaussian refitting chain (a pytree).

    Attributes:
      generation: ``(R,)`` recorded generations; 0 is D0, ``g ≥ 1`` the ``g``-th fit.
      mean: ``(trials, R, dim)`` fitted means μ_g.
      log_det: ``(trials, R)`` log det Σ_g (log σ²_g in 1-D).
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


class _State(NamedTuple):
    mean: jax.Array  # (d,)
    log_diag: jax.Array  # (d,)  ℓ
    unit: jax.Array  # (d, d) unit lower triangular U


def simulate(key, *, sample_size, generations, trials, dim=1, mean=None, cov=None,
             estimator="unbiased", method="exact", record=None, data="gaussian",
             chunk_size=None, progress=False, policy="replace") -> GaussianResult:
    """Run ``trials`` independent Gaussian refitting chains for ``generations`` fits.

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      sample_size: ``M`` (int) or a schedule ``(M_1, ..., M_G)``; ``M_g ≥ dim + 1``.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      dim: dimension ``d``.
      mean, cov: D0's mean and covariance (default ``0`` and ``I``).
      estimator: ``"unbiased"`` (÷(M−1), the paper's theorem) or ``"mle"`` (÷M).
      method: ``"exact"`` (Bartlett decomposition) or ``"samples"`` (draw and refit).
      record: ``None`` (all), ``"log"`` or a list of generations (see ``engine.run_chain``).
      data: D0's shape: ``"gaussian"``, ``"student-t[:df]"``, ``"uniform"``, ``"laplace"``,
        ``"mixture[:delta]"`` or a :class:`~collapse_theory.sources.RealData`; D0 is
        ``mean + chol(cov) ξ`` with ξ i.i.d. standardised per coordinate.  The first fit
        always uses ``M_1`` real samples; later generations are Gaussian.
      chunk_size: trials per chunk (default: bounded by sample-buffer memory).
      progress: report progress on stderr.
      policy: which data each fit sees (:mod:`collapse_theory.policies`): ``"replace"`` (the
        paper's chain, default), ``"accumulate"``, ``"accumulate-subsample"``, ``"fresh:γ"``,
        ``"fixed:λ"`` or a :class:`~collapse_theory.policies.Policy`.
    """
    key = _validate.key("key", key)
    if policies.parse(policy).name != "replace":
        return policies.simulate_gaussian(
            key, policy=policy, sample_size=sample_size, generations=generations, trials=trials,
            dim=dim, mean=mean, cov=cov, estimator=estimator, method=method, record=record,
            data=data, chunk_size=chunk_size, progress=progress)
    chain, _ = _setup(sample_size, generations, trials, dim, mean, cov, estimator, method,
                      record, data, chunk_size, progress)
    gens, rec, _ = engine.run_chain(key, observe=_observe, **chain)
    return GaussianResult(jnp.asarray(gens), *rec)


#: Statistics available to :func:`simulate_summary`.
SUMMARY_STATISTICS = ("log_det", "mean_sq_dev", "w2_squared")


def simulate_summary(key, *, sample_size, generations, trials, statistics=("log_det", "mean_sq_dev"),
                     keep=4096, record="log", dim=1, mean=None, cov=None, estimator="unbiased",
                     method="exact", data="gaussian", chunk_size=None,
                     progress=False) -> engine.Summary:
    """Streaming summaries instead of per-trial records (see :func:`engine.summarize_chain`).

    Same chain and keys as :func:`simulate`; memory is independent of ``trials``.  Statistics
    (a dict in each :class:`~collapse_theory.engine.Summary` field): ``"log_det"`` (log det Σ_g),
    ``"mean_sq_dev"`` (|μ_g − μ_0|²) and ``"w2_squared"`` (W2² to D0, Gaussian D0 only: Bures
    from the factor, never underflows).
    """
    key = _validate.key("key", key)
    names = tuple(statistics)
    for name in names:
        _validate.choice("statistics", name, SUMMARY_STATISTICS)
    if not names:
        raise ValueError("statistics must name at least one of " + ", ".join(SUMMARY_STATISTICS))
    chain, (mean0, cov0, source) = _setup(sample_size, generations, trials, dim, mean, cov,
                                          estimator, method, record, data, chunk_size, progress)
    if "w2_squared" in names and not source.is_gaussian:
        raise ValueError(f"statistics='w2_squared' needs a Gaussian D0, got data={data!r}; "
                         "see metrics.gelbrich_to_d0 for a lower bound")
    observe = _summary_observe(names, tuple(mean0.ravel()), tuple(cov0.ravel()))
    return engine.summarize_chain(key, observe=observe, keep=keep, **chain)


@functools.lru_cache(maxsize=32)
def _summary_observe(names: tuple, mean0: tuple, cov0: tuple):
    mu0 = jnp.asarray(mean0)
    sigma0 = jnp.asarray(cov0).reshape(mu0.size, mu0.size)

    def observe(s: _State):
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


def _setup(sample_size, generations, trials, dim, mean, cov, estimator, method, record, data,
           chunk_size, progress) -> tuple[dict, tuple]:
    """Validate; return the engine's keyword arguments and D0 ``(mean, cov, source)``."""
    generations = _validate.integer("generations", generations, minimum=0)
    trials = _validate.integer("trials", trials, minimum=1)
    dim = _validate.integer("dim", dim, minimum=1)
    estimator = _validate.choice("estimator", estimator, ESTIMATORS)
    method = _validate.choice("method", method, METHODS)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=dim + 1)
    mean0 = np.zeros(dim) if mean is None else _validate.vector("mean", mean, dim)
    cov0 = np.eye(dim) if cov is None else _validate.spd_matrix("cov", cov, dim)
    source = real_data(data)
    dtype = engine.float_dtype()

    chol0 = np.linalg.cholesky(cov0)
    state0 = _State(jnp.asarray(mean0, dtype), jnp.asarray(np.log(np.diag(chol0)), dtype),
                    jnp.asarray(chol0 / np.diag(chol0), dtype))
    m_max = int(m.max()) if generations else 0
    m_1 = int(m[0]) if generations and not source.is_gaussian else 0
    step, first_step = _steps(dim, method, m_max if method == "samples" else 0, m_1, source,
                              np.dtype(dtype).name)
    # Per fit: M_g and log √c_g, c_g = 1/(M_g − 1) (unbiased) or 1/M_g (MLE).
    log_sqrt_c = -0.5 * np.log(m - 1.0 if estimator == "unbiased" else m.astype(np.float64))

    buffer_points = max(m_max if method == "samples" else 0, m_1)
    if chunk_size is None and buffer_points:
        per_trial = 4 * buffer_points * dim * np.dtype(dtype).itemsize
        chunk_size = max(1, min(trials, _CHUNK_BYTES // per_trial))

    xs = (jnp.asarray(m, dtype), jnp.asarray(log_sqrt_c, dtype))
    chain = dict(state0=state0, step=step, first_step=first_step, generations=generations,
                 trials=trials, record=record, xs=xs, chunk_size=chunk_size, progress=progress,
                 label=f"gaussian d={dim} {method}")
    return chain, (mean0, cov0, source)


def _observe(s: _State):
    return s.mean, 2.0 * jnp.sum(s.log_diag), s.log_diag, s.unit


@functools.lru_cache(maxsize=64)
def _steps(dim: int, method: str, m_max: int, m_1: int, source: RealData, dtype: str):
    """The chain's step (and first step on non-Gaussian real data when ``m_1 > 0``).

    Cached on the static configuration so that repeated runs reuse the engine's compiled code.
    """
    dtype = jnp.dtype(dtype)

    def exact_step(k, state, x):
        m_g, log_sqrt_c = x
        k_z, k_chi, k_low = jax.random.split(k, 3)
        z = jax.random.normal(k_z, (dim,), dtype) / jnp.sqrt(m_g)
        dof = m_g - jnp.arange(1, dim + 1, dtype=dtype)
        log_a = 0.5 * samplers.log_chisquare(k_chi, dof, dtype=dtype)
        lower = jnp.tril(jax.random.normal(k_low, (dim, dim), dtype), -1)
        return _refit(state, z, log_a, lower, log_sqrt_c)

    def draw_and_fit(k, state, x, n_max, draw):
        """Fit to ``m_g`` points ``x = μ + L ξ``; statistics of ξ are mapped by ``L``."""
        m_g, log_sqrt_c = x
        xi = draw(k, (n_max, dim), dtype)
        mask = (jnp.arange(n_max) < m_g)[:, None]
        xi_bar = jnp.sum(jnp.where(mask, xi, 0.0), axis=0) / m_g
        centred = jnp.where(mask, xi - xi_bar, 0.0)
        log_a, lower = _scatter_factor(centred)
        return _refit(state, xi_bar, log_a, lower, log_sqrt_c)

    def sample_step(k, state, x):
        return draw_and_fit(k, state, x, m_max, jax.random.normal)

    def first_step(k, state, x):
        return draw_and_fit(k, state, x, m_1, source.sample)

    if method == "samples":
        step = sample_step
    elif dim == 1:
        step = engine.BlockStep(_draw_1d, _apply_1d)
    else:
        step = exact_step
    return step, (first_step if m_1 else None)


def _draw_1d(seeds, g, x):
    """Noise ``(z/√M_g, log G((M_g − 1)/2))`` of generations ``g`` (``(B, T)`` each).

    Under trial ``t``'s seed, generation ``g``'s gamma uses counters ``(g, 0..2)`` and rejected
    lanes (:func:`~collapse_theory.samplers.gamma.log_gamma_rows`), its normal ``(g, 3)``.
    """
    m_g, _ = x
    log_g = log_gamma_rows(seeds, g, 0.5 * (m_g - 1.0))
    z = jax.lax.map(lambda gm: rng.normal_at(seeds, gm[0], 3, m_g.dtype) / jnp.sqrt(gm[1]), (g, m_g))
    return z, log_g


def _apply_1d(state: _State, noise, x) -> _State:
    """:func:`_refit` in 1-D (``U = 1``, no off-diagonal factor) from :func:`_draw_1d`'s noise:
    ``log a = ½ log χ²_{M−1} = ½ (log 2 + log G((M − 1)/2))``."""
    z_mean, log_g = noise
    _, log_sqrt_c = x
    mean, ell, unit = state
    log_a = 0.5 * (math.log(2.0) + log_g)
    return _State(mean + jnp.exp(ell) * z_mean, ell + log_a + log_sqrt_c, unit)


def _scatter_factor(centred):
    """Log-diagonal and strictly-lower part of ``B`` with ``B Bᵀ = centredᵀ centred``.

    From the QR decomposition (``B = Rᵀ`` up to signs), more accurate than a Cholesky of the
    Gram matrix.  An exactly-zero scatter (equal float draws) is floored at the dtype's
    smallest normal number so that the log stays finite.
    """
    tiny = jnp.finfo(centred.dtype).tiny
    if centred.shape[-1] == 1:
        norm = jnp.sqrt(jnp.sum(centred ** 2, axis=0))
        return jnp.log(jnp.maximum(norm, tiny)), jnp.zeros((1, 1), centred.dtype)
    r = jnp.linalg.qr(centred, mode="r")
    diag = jnp.diagonal(r)
    b = (r * jnp.sign(diag)[:, None]).T  # lower, positive diagonal
    return jnp.log(jnp.maximum(jnp.abs(diag), tiny)), jnp.tril(b, -1)


def _refit(state: _State, z_mean, log_a, lower, log_sqrt_c) -> _State:
    """New state from a whitened mean ``z_mean`` and scatter factor ``A`` (see module doc).

    ``L' = √c L A`` with ``L = U diag(e^ℓ)`` and ``A = lower + diag(e^{log_a})`` gives
    ``U' = U W``, ``W = I + lower ∘ exp(ℓ_k − ℓ_j − log a_j)`` (row k, column j) and
    ``ℓ' = ℓ + log a + log √c``.  The exponent is capped below the float overflow point; it
    drifts to −∞ (later Bartlett diagonals have fewer degrees of freedom).
    """
    mean, ell, unit = state
    new_mean = mean + unit @ (jnp.exp(ell) * z_mean)
    cap = 0.9 * math.log(jnp.finfo(ell.dtype).max)
    expo = jnp.minimum(ell[:, None] - ell[None, :] - log_a[None, :], cap)
    w = jnp.eye(ell.shape[0], dtype=ell.dtype) + lower * jnp.exp(expo)
    return _State(new_mean, ell + log_a + log_sqrt_c, unit @ w)
