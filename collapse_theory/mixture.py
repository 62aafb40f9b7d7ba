r"""Gaussian mixtures: densities, samples and the distances of the paper's GMM experiment.

A :class:`Mixture` of ``K`` components in ``d`` dimensions holds weights ``a_k``, means ``μ_k``
and lower Cholesky factors ``L_k`` (``Σ_k = L_k L_kᵀ``).  Every function here takes a single
mixture; leading batch axes on the fields (e.g. ``(trials, R)`` from :func:`gmm.simulate`) are
mapped over, and a batched mixture may be paired with an unbatched one.

The L2 distance (Shumailov et al. 2024, the GMM experiment's metric) is closed form because
``∫ N(x; μ, A) N(x; ν, B) dx = N(μ; ν, A + B)``:

.. math::
   \int (f - g)^2 = \sum_{ij} a_i a_j N(μ_i; μ_j, Σ_i + Σ_j)
     - 2 \sum_{ij} a_i b_j N(μ_i; ν_j, Σ_i + S_j) + \sum_{ij} b_i b_j N(ν_i; ν_j, S_i + S_j).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from . import _validate, rng


class Mixture(NamedTuple):
    """A Gaussian mixture (a pytree): ``weights (..., K)``, ``means (..., K, d)``,
    ``chol (..., K, d, d)`` lower Cholesky factors of the component covariances."""

    weights: jax.Array
    means: jax.Array
    chol: jax.Array

    @property
    def cov(self) -> jax.Array:
        """Component covariances ``L Lᵀ``, shape ``(..., K, d, d)``."""
        return self.chol @ jnp.swapaxes(self.chol, -1, -2)

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    @property
    def components(self) -> int:
        return self.weights.shape[-1]


def from_cov(weights, means, cov) -> Mixture:
    """A :class:`Mixture` from weights ``(K,)``, means ``(K, d)`` and covariances ``(K, d, d)``.

    Validated (``ValueError`` naming the argument): weights positive summing to 1 (to 1e-6),
    shapes consistent, each covariance symmetric positive definite.
    """
    w = np.asarray(weights, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    if w.ndim != 1 or w.size < 1:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {w.shape}")
    k = w.size
    if not np.all(np.isfinite(w)) or w.min() < 0 or abs(w.sum() - 1.0) > 1e-6:
        raise ValueError(f"weights must be non-negative and sum to 1, got {w.tolist()}")
    if mu.ndim != 2 or mu.shape[0] != k or not np.all(np.isfinite(mu)):
        raise ValueError(f"means must be finite with shape ({k}, d), got shape {mu.shape}")
    d = mu.shape[1]
    if cov.shape != (k, d, d):
        raise ValueError(f"cov must have shape ({k}, {d}, {d}), got {cov.shape}")
    chol = np.stack([np.linalg.cholesky(_validate.spd_matrix(f"cov[{i}]", c, d))
                     for i, c in enumerate(cov)])
    return Mixture(jnp.asarray(w / w.sum()), jnp.asarray(mu), jnp.asarray(chol))


def paper_mixture(dtype=None) -> Mixture:
    """Our stand-in for the original data of Shumailov et al.'s GMM experiment.

    The paper fits a 2-component, full-covariance GMM in 2-D and reports a component standard
    deviation of 0.90 at generation 0, but does not list its parameters.  We use equal weights,
    means ``(−2, 0)`` and ``(2, 0)`` and isotropic covariances ``0.9² I`` (component std 0.9):
    two well-separated blobs (gap ≈ 4.4 std) so that EM identifies them at generation 1.
    """
    dtype = dtype or jnp.asarray(0.0).dtype
    w = jnp.asarray([0.5, 0.5], dtype)
    mu = jnp.asarray([[-2.0, 0.0], [2.0, 0.0]], dtype)
    chol = jnp.broadcast_to(0.9 * jnp.eye(2, dtype=dtype), (2, 2, 2))
    return Mixture(w, mu, chol)


# ---------------------------------------------------------------------------------------------
# Batching: functions are written for one mixture and mapped over leading axes.


def _batch_shape(mix: Mixture) -> tuple:
    return tuple(mix.weights.shape[:-1])


def _map(fn, *mixtures: Mixture, key=None):
    """``fn(*mixtures)`` mapped over the common leading batch axes (broadcast where absent).

    With ``key``, ``fn(k, *mixtures)`` gets ``fold_in(key, flat batch index)``.
    """
    shapes = [_batch_shape(m) for m in mixtures]
    batch = np.broadcast_shapes(*shapes)
    if not batch:
        return fn(*mixtures) if key is None else fn(key, *mixtures)
    args, axes = [], []
    for m, s in zip(mixtures, shapes):
        if s:
            m = jax.tree.map(lambda a, s=s: jnp.broadcast_to(a, batch + a.shape[len(s):]), m)
            m = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[len(batch):]), m)
        args.append(m)
        axes.append(0 if s else None)
    if key is not None:
        size = int(np.prod(batch))
        args.insert(0, rng.fold_in(key, jnp.arange(size, dtype=jnp.uint32)))
        axes.insert(0, 0)
    out = jax.vmap(fn, in_axes=tuple(axes))(*args)
    return jax.tree.map(lambda a: a.reshape(batch + a.shape[1:]), out)


# ---------------------------------------------------------------------------------------------
# Densities and samples


def component_log_pdf(mix: Mixture, x) -> jax.Array:
    """``log a_k + log N(x; μ_k, Σ_k)`` for points ``x (n, d)`` of one mixture: ``(n, K)``."""
    d = mix.means.shape[-1]
    diff = x[:, None, :] - mix.means[None]  # (n, K, d)
    inv = jax.vmap(lambda c: solve_triangular(c, jnp.eye(d, dtype=c.dtype), lower=True))(mix.chol)
    z = jnp.einsum("kij,nkj->nki", inv, diff)
    half_log_det = jnp.sum(jnp.log(jnp.diagonal(mix.chol, axis1=-2, axis2=-1)), axis=-1)
    return (jnp.log(mix.weights) - half_log_det - 0.5 * d * math.log(2 * math.pi)
            - 0.5 * jnp.sum(z * z, axis=-1))


@jax.jit
def log_pdf(mix: Mixture, x) -> jax.Array:
    """Log density of the mixture at ``x (..., d)`` (one mixture), shape ``x.shape[:-1]``."""
    x = jnp.asarray(x)
    flat = x.reshape(-1, x.shape[-1])
    return logsumexp(component_log_pdf(mix, flat), axis=-1).reshape(x.shape[:-1])


@functools.partial(jax.jit, static_argnums=2)
def sample(key, mix: Mixture, n: int) -> jax.Array:
    """``n`` i.i.d. points ``(n, d)`` of one mixture: a categorical label, then ``μ + L z``."""
    k_c, k_z = jax.random.split(key)
    dtype = mix.means.dtype
    labels = jax.random.categorical(k_c, jnp.log(mix.weights), shape=(n,))
    z = jax.random.normal(k_z, (n, mix.means.shape[-1]), dtype)
    return mix.means[labels] + jnp.einsum("nij,nj->ni", mix.chol[labels], z)


# ---------------------------------------------------------------------------------------------
# Metrics


def _cross_gram(mu_a, chol_a, mu_b, chol_b) -> jax.Array:
    """``G_ij = N(μ_i; ν_j, Σ_i + S_j)``, shape ``(K_a, K_b)``."""
    d = mu_a.shape[-1]
    cov = (chol_a @ jnp.swapaxes(chol_a, -1, -2))[:, None] + \
        (chol_b @ jnp.swapaxes(chol_b, -1, -2))[None]
    c = jnp.linalg.cholesky(cov)  # (Ka, Kb, d, d)
    diff = mu_a[:, None] - mu_b[None]
    z = solve_triangular(c, diff[..., None], lower=True)[..., 0]
    half_log_det = jnp.sum(jnp.log(jnp.diagonal(c, axis1=-2, axis2=-1)), axis=-1)
    return jnp.exp(-0.5 * jnp.sum(z * z, -1) - half_log_det - 0.5 * d * math.log(2 * math.pi))


@jax.jit
def _l2_squared(f: Mixture, g: Mixture) -> jax.Array:
    ff = f.weights @ _cross_gram(f.means, f.chol, f.means, f.chol) @ f.weights
    fg = f.weights @ _cross_gram(f.means, f.chol, g.means, g.chol) @ g.weights
    gg = g.weights @ _cross_gram(g.means, g.chol, g.means, g.chol) @ g.weights
    return ff - 2.0 * fg + gg


def l2_squared(f: Mixture, g: Mixture) -> jax.Array:
    """``∫ (f − g)²`` in closed form (module docstring); batch axes of ``f``, ``g`` broadcast.

    Computed as a difference of positive terms: relative rounding ``~ eps · (∫f² + ∫g²)``.
    """
    return _map(_l2_squared, f, g)


def l2_distance(f: Mixture, g: Mixture) -> jax.Array:
    """The L2 distance ``(∫ (f − g)²)^{1/2}`` (the paper's GMM metric); rounding below 0 → 0."""
    return jnp.sqrt(jnp.maximum(l2_squared(f, g), 0.0))


class MonteCarloEstimate(NamedTuple):
    """A Monte Carlo estimate and its standard error ``s/√n``."""

    estimate: jax.Array
    stderr: jax.Array


def kl_monte_carlo(key, p: Mixture, q: Mixture, n: int = 10_000) -> MonteCarloEstimate:
    """``KL(p ‖ q) = E_p[log p(X) − log q(X)]`` from ``n`` points of ``p``, with its SE.

    Mixtures have no closed-form KL; the estimate is unbiased and its standard error is the
    sample standard deviation of the log ratio over ``√n``.  Batched ``p``/``q`` use the same
    ``n`` but independent points per batch element (keys folded with the flat batch index).
    """
    key = _validate.key("key", key)
    n = _validate.integer("n", n, minimum=2)

    out = _map(functools.partial(_kl_one, n=n), p, q, key=key)
    return MonteCarloEstimate(out[..., 0], out[..., 1])


@functools.partial(jax.jit, static_argnames="n")
def _kl_one(key, p: Mixture, q: Mixture, n: int):
    x = sample(key, p, n)
    r = log_pdf(p, x) - log_pdf(q, x)
    return jnp.stack([jnp.mean(r), jnp.std(r, ddof=1) / math.sqrt(n)])


def component_std(mix: Mixture) -> jax.Array:
    """Per-component standard deviation ``(det Σ_k)^{1/(2d)}`` (geometric mean of the principal
    standard deviations; the component std of an isotropic ``σ² I``), shape ``(..., K)``.

    From the Cholesky diagonal in log scale: ``exp(mean_j log L_jj)``.
    """
    diag = jnp.diagonal(mix.chol, axis1=-2, axis2=-1)
    return jnp.exp(jnp.mean(jnp.log(diag), axis=-1))


def heldout_loglik(mix: Mixture, x) -> jax.Array:
    """Mean log-likelihood of held-out real points ``x (n, d)`` under the (batched) mixture.

    The mass the fit still puts where the original data lie: it falls as the fit collapses
    and loses the original tails.
    """
    x = jnp.asarray(x)
    return _map(lambda m: jnp.mean(log_pdf(m, x.astype(m.means.dtype))), mix)
