r"""Wasserstein-2 distances between a fitted Gaussian and the original distribution D0.

For Gaussians (Dowson & Landau 1982; Givens & Shortt 1984; Bures 1969)

.. math::
   W_2^2(N(μ_a, A), N(μ_b, B)) = |μ_a − μ_b|^2 + \mathcal B^2(A, B),\qquad
   \mathcal B^2(A, B) = \operatorname{tr} A + \operatorname{tr} B
       − 2 \operatorname{tr}(A^{1/2} B A^{1/2})^{1/2}.

Gelbrich (1990) shows that the right-hand side is a *lower bound* on ``W2²`` between any two
laws with these means and covariances; it is the bound behind the arXiv appendix's
``E W2² ≥ tr Σ Σ_i 1/M_i`` (Shumailov et al. 2023, arXiv:2305.17493).

Numerics.  The trace difference cancels catastrophically when ``A ≈ B`` (e.g. ``W2² ≈ n/M`` with
``M = 10⁷``), so the Bures term is evaluated as a residual: for any factors ``A = R Rᵀ`` and
``B = F Fᵀ``, ``𝓑²(A, B) = min_Q ‖R − F Q‖_F²`` over orthogonal ``Q``, attained at the polar
factor ``Q = V Uᵀ`` of ``Rᵀ F = U S Vᵀ`` (then ``tr(A^{1/2} B A^{1/2})^{1/2} = ‖Rᵀ F‖_*``).
Given the chain's factor ``F = U diag(e^ℓ)`` nothing is squared, and ``F → 0`` (collapse) gives
the limit ``|Δμ|² + tr B`` with no NaN.
"""

from __future__ import annotations

from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from .sources import real_data

class GaussianRecords(Protocol):
    """What the ``*_to_d0`` metrics read from a chain's records: the fields of
    :class:`~collapse_theory.gaussian.GaussianResult` (any object with them will do, so that
    the metrics sit below the families)."""

    generation: jax.Array  # (R,) recorded generations, 0 = D0
    mean: jax.Array  # (trials, R, dim)
    log_diag: jax.Array  # (trials, R, dim) log of the Cholesky diagonal
    unit_chol: jax.Array  # (trials, R, dim, dim) unit lower-triangular factor


def _swap(x):
    return jnp.swapaxes(x, -1, -2)


def _psd_sqrt(cov):
    """Symmetric square root of a (batched) PSD matrix; negative rounding eigenvalues → 0."""
    cov = 0.5 * (cov + _swap(cov))
    w, v = jnp.linalg.eigh(cov)
    return (v * jnp.sqrt(jnp.maximum(w, 0.0))[..., None, :]) @ _swap(v)


def _bures_squared_factors(root, factor):
    """``𝓑²(R Rᵀ, F Fᵀ) = min_Q ‖R − F Q‖_F²``, Q orthogonal (see the module docstring)."""
    u, _, vh = jnp.linalg.svd(_swap(root) @ factor)
    residual = root - factor @ (_swap(vh) @ _swap(u))
    return jnp.sum(residual ** 2, axis=(-2, -1))


def bures_squared(cov_a, cov_b):
    r"""Squared Bures distance ``tr A + tr B − 2 tr(A^{1/2} B A^{1/2})^{1/2}``, batched.

    ``cov_a``, ``cov_b``: ``(..., d, d)`` symmetric PSD matrices (broadcast over leading axes).
    From covariances the result is only as accurate as their square roots (an eigenvalue
    ``λ ≈ 0`` is known to ``±√(ε‖Σ‖)``); prefer :func:`w2_squared_gaussian_factor` when a
    factor is available.
    """
    cov_a, cov_b = jnp.asarray(cov_a), jnp.asarray(cov_b)
    return _bures_squared_factors(_psd_sqrt(cov_a), _psd_sqrt(cov_b))


def w2_squared_gaussian(mean_a, cov_a, mean_b, cov_b):
    """``W2²(N(mean_a, cov_a), N(mean_b, cov_b)) = |Δμ|² + 𝓑²(A, B)`` (batched; means ``(..., d)``)."""
    diff = jnp.asarray(mean_a) - jnp.asarray(mean_b)
    return jnp.sum(diff ** 2, axis=-1) + bures_squared(cov_a, cov_b)


def w2_squared_gaussian_factor(mean_a, factor_a, mean_b, cov_b):
    r"""``W2²(N(mean_a, F Fᵀ), N(mean_b, cov_b))`` from a square factor ``F`` of the first covariance.

    ``= |Δμ|² + ‖F‖_F² + tr B − 2 ‖B^{1/2} F‖_*``, evaluated as ``|Δμ|² + min_Q ‖B^{1/2} − F Q‖_F²``
    so that it neither cancels nor underflows: ``F → 0`` gives ``|Δμ|² + tr B``.  In 1-D it is
    ``(Δμ)² + (σ_a − σ_b)²``.
    """
    diff = jnp.asarray(mean_a) - jnp.asarray(mean_b)
    return jnp.sum(diff ** 2, axis=-1) + _bures_squared_factors(_psd_sqrt(jnp.asarray(cov_b)),
                                                                 jnp.asarray(factor_a))


def gelbrich_bound(mean_a, cov_a, mean_b, cov_b):
    """Gelbrich's (1990) lower bound on ``W2²`` between *any* two laws with these moments.

    ``W2²(κ, ν) ≥ |μ_κ − μ_ν|² + 𝓑²(Σ_κ, Σ_ν)``, with equality when both are Gaussian: it is
    :func:`w2_squared_gaussian` of the moments.
    """
    return w2_squared_gaussian(mean_a, cov_a, mean_b, cov_b)


def w2_squared_to_real_1d(mean, std, mean0, std0, kappa):
    r"""1-D ``W2²(N(m, s²), D0)`` for ``D0 = μ0 + σ0 ξ`` with ``ξ`` standardised, not Gaussian.

    In 1-D the optimal coupling is the quantile coupling, so
    ``W2² = ∫₀¹ (μ0 + σ0 F⁻¹(u) − m − s Φ⁻¹(u))² du = (m − μ0)² + σ0² + s² − 2 s σ0 κ``
    with ``κ = ∫₀¹ F⁻¹(u) Φ⁻¹(u) du`` (:attr:`~collapse_theory.sources.RealData.kappa`);
    evaluated as ``(m − μ0)² + (s − σ0)² + 2 s σ0 (1 − κ)``, which does not cancel.  Elementwise.
    """
    mean, std = jnp.asarray(mean), jnp.asarray(std)
    return (mean - mean0) ** 2 + (std - std0) ** 2 + 2.0 * std * std0 * (1.0 - kappa)


def w2_squared_to_d0(result: GaussianRecords, *, data="gaussian", mean=None, cov=None):
    """``W2²(N(μ_g, Σ_g), D0)`` for every trial and recorded generation, shape ``(trials, R)``.

    Computed from ``log_diag``/``unit_chol`` without forming ``Σ_g``, so it stays finite after
    ``Σ_g`` underflows (limit ``|μ_g − μ0|² + tr Σ0``).  Generation 0 is D0 itself (0).

    Args:
      result: a :class:`~collapse_theory.gaussian.GaussianResult` (or any
        :class:`GaussianRecords`).
      data, mean, cov: D0 exactly as passed to :func:`~collapse_theory.gaussian.simulate`
        (defaults ``"gaussian"``, ``0``, ``I``).  If generation 0 was recorded, its moments
        must match ``mean``/``cov``.

    Gaussian D0: the exact Gaussian formula (Bures).  Non-Gaussian D0 in 1-D: the quantile
    formula of :func:`w2_squared_to_real_1d`.  Non-Gaussian D0 in ``d > 1`` has no closed form:
    a ValueError; use :func:`gelbrich_to_d0` for Gelbrich's lower bound instead.
    """
    source = real_data(data)
    mean0, cov0 = _d0_moments(result, mean, cov)
    if source.is_gaussian:
        return gelbrich_to_d0(result, mean=mean0, cov=cov0)
    if cov0.shape[0] != 1:
        raise ValueError(f"data={source.name!r} in dim={cov0.shape[0]} > 1: W2² to a non-Gaussian "
                         "D0 has no closed form; use metrics.gelbrich_to_d0 for Gelbrich's lower bound")
    w2 = w2_squared_to_real_1d(result.mean[..., 0], jnp.exp(result.log_diag[..., 0]),
                               float(mean0[0]), float(np.sqrt(cov0[0, 0])), source.kappa)
    return _zero_at_d0(result, w2)


def gelbrich_to_d0(result: GaussianRecords, *, mean=None, cov=None):
    """Gelbrich's lower bound ``|μ_g − μ0|² + 𝓑²(Σ_g, Σ0)`` on ``W2²(N(μ_g, Σ_g), D0)``, ``(trials, R)``.

    Valid for every D0 with mean ``mean`` and covariance ``cov`` (defaults ``0``, ``I``), exact
    when D0 is Gaussian; the quantity bounded from below in the arXiv appendix.  Computed like
    :func:`w2_squared_to_d0`.
    """
    mean0, cov0 = _d0_moments(result, mean, cov)
    dtype = result.log_diag.dtype
    factor = result.unit_chol * jnp.exp(result.log_diag)[..., None, :]
    if cov0.shape[0] == 1:  # (Δμ)² + (σ − σ0)², no matrix algebra
        w2 = ((result.mean[..., 0] - float(mean0[0])) ** 2
              + (factor[..., 0, 0] - float(np.sqrt(cov0[0, 0]))) ** 2)
    else:
        w2 = w2_squared_gaussian_factor(result.mean, factor, jnp.asarray(mean0, dtype),
                                        jnp.asarray(cov0, dtype))
    return _zero_at_d0(result, w2)


def _d0_moments(result: GaussianRecords, mean, cov):
    """Validated D0 moments (float64 numpy), checked against a recorded generation 0."""
    dim = result.mean.shape[-1]
    mean0 = np.zeros(dim) if mean is None else _validate.vector("mean", mean, dim)
    cov0 = np.eye(dim) if cov is None else _validate.spd_matrix("cov", cov, dim)
    gens = np.asarray(result.generation)
    if gens.size and gens[0] == 0:
        rec_mean = np.asarray(result.mean[0, 0], np.float64)
        rec_factor = (np.asarray(result.unit_chol[0, 0], np.float64)
                      * np.exp(np.asarray(result.log_diag[0, 0], np.float64))[None, :])
        rec_cov = rec_factor @ rec_factor.T
        tol = 1e-4 * max(1.0, float(np.abs(cov0).max()))
        if (np.abs(rec_mean - mean0).max() > 1e-4 * (1.0 + np.abs(mean0).max())
                or np.abs(rec_cov - cov0).max() > tol):
            raise ValueError(f"mean={mean0.tolist()}, cov={cov0.tolist()} do not match the result's "
                             f"generation 0 (mean {rec_mean.tolist()}, cov {rec_cov.tolist()}); "
                             "pass the mean and cov given to simulate")
    return mean0, cov0


def _zero_at_d0(result: GaussianRecords, w2):
    return jnp.where(jnp.asarray(result.generation) == 0, jnp.zeros((), w2.dtype), w2)
