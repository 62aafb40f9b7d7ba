r"""Linear regression refitted on its own labels (Dohmatob, Feng & Kempe 2024; Gerstgrasser et
al. 2024).

Generation 0 is the true weight vector ``w*``.  Fit ``g`` draws a ``T × d`` design ``X_g`` with
i.i.d. ``N(0, 1)`` entries (``design="fresh"``: new every fit; ``"fixed"``: drawn once per trial),
labels ``y_g = X_g ŵ_{g−1} + ε_g`` with ``ε_g ~ N(0, σ² I_T)`` (``noise`` is ``σ²``) and refits by
ordinary least squares on

* ``policy="replace"``: ``(X_g, y_g)`` only, ``ŵ_g = (X_gᵀX_g)^{-1} X_gᵀ y_g``;
* ``policy="accumulate"``: every batch so far with equal weights,
  ``ŵ_g = (Σ_{k≤g} X_kᵀX_k)^{-1} Σ_{k≤g} X_kᵀ y_k`` (batch 1 carries the real labels);
* ``policy="accumulate-subsample"``: OLS on ``T`` rows drawn uniformly without replacement from
  the pool of all rows so far (Kazdan et al. 2024; sample path only, O(G T d) per trial).

OLS only needs ``G = XᵀX`` and ``h = Xᵀy``, and pools add, so memory is O(d²) per trial.
``method="exact"`` draws them in law: ``XᵀX = A Aᵀ`` with ``A`` the Bartlett factor of
``Wishart_d(T, I)`` (``A_jj² ~ χ²_{T−j+1}``) and ``Xᵀε = σ A ξ`` given ``XᵀX`` — O(d³) per fit
whatever ``T``; ``method="samples"`` draws ``X`` and ``ε``.  Closed forms:
:func:`collapse_theory.theory.policies.regression_error`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, engine

POLICIES = ("replace", "accumulate", "accumulate-subsample")
DESIGNS = ("fresh", "fixed")
METHODS = ("exact", "samples")


class RegressionResult(NamedTuple):
    """Recorded generations of a regression chain.

    Attributes:
      generation: ``(R,)`` recorded generations (0 is ``w*``).
      weights: ``(trials, R, d)`` fitted ``ŵ_g``.
      error: ``(trials, R)`` ``‖ŵ_g − w*‖²``.
    """

    generation: jax.Array
    weights: jax.Array
    error: jax.Array


class _State(NamedTuple):
    w: jax.Array  # (d,) ŵ_g
    gram: jax.Array  # (d, d) pooled Σ XᵀX
    h: jax.Array  # (d,) pooled Σ Xᵀy
    a_fixed: jax.Array  # (d, d) Bartlett factor of the fixed design (exact path)
    x_fixed: jax.Array  # (T, d) the fixed design (sample path; (0, d) otherwise)
    w_star: jax.Array  # (d,)
    x_pool: jax.Array  # (cap, d) pooled rows (accumulate-subsample; cap = 0 otherwise)
    y_pool: jax.Array  # (cap,)


def simulate(key, *, rows, dim, generations, trials, noise=1.0, weights=None, design="fresh",
             policy="replace", method="exact", record=None, chunk_size=None,
             progress=False) -> RegressionResult:
    """Run ``trials`` independent regression chains for ``generations`` fits (see module doc).

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      rows: ``T`` rows per design, ``T ≥ d + 2`` (``E tr (XᵀX)^{-1} = d/(T − d − 1)``).
      dim: ``d`` features.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      noise: label noise variance ``σ² ≥ 0``.
      weights: ``w*`` (default ``(1, …, 1)/√d``).
      design: ``"fresh"`` or ``"fixed"``.
      policy: ``"replace"``, ``"accumulate"`` or ``"accumulate-subsample"``.
      method: ``"exact"`` (Bartlett) or ``"samples"`` (draw ``X`` and ``ε``; always used by
        ``accumulate-subsample``).
      record: ``None`` (all), ``"log"`` or a list of generations (see ``engine.run_chain``).
    """
    key = _validate.key("key", key)
    dim = _validate.integer("dim", dim, minimum=1)
    rows = _validate.integer("rows", rows, minimum=dim + 2)
    generations = _validate.integer("generations", generations, minimum=0)
    trials = _validate.integer("trials", trials, minimum=1)
    noise = _validate.real("noise", noise, minimum=0.0)
    design = _validate.choice("design", design, DESIGNS)
    policy = _validate.choice("policy", policy, POLICIES)
    method = _validate.choice("method", method, METHODS)
    w_star = np.full(dim, dim ** -0.5) if weights is None else \
        _validate.vector("weights", weights, dim)
    dtype = engine.float_dtype()
    if policy == "accumulate-subsample":
        method = "samples"
    x_rows = rows if (method == "samples" and design == "fixed") else 0
    cap = (generations + 1) * rows if policy == "accumulate-subsample" else 0
    state0 = _State(jnp.asarray(w_star, dtype), jnp.zeros((dim, dim), dtype),
                    jnp.zeros(dim, dtype), jnp.zeros((dim, dim), dtype),
                    jnp.zeros((x_rows, dim), dtype), jnp.asarray(w_star, dtype),
                    jnp.zeros((cap, dim), dtype), jnp.zeros(cap, dtype))
    step = _step(policy, design, method, dim, rows, cap, np.dtype(dtype).name)
    if chunk_size is None and method == "samples":
        per_trial = 8 * (rows + cap) * (dim + 1) * np.dtype(dtype).itemsize
        chunk_size = max(1, min(trials, (1 << 28) // per_trial))
    xs = (jnp.arange(1, generations + 1, dtype=jnp.int32),
          jnp.full(generations, np.sqrt(noise), dtype))
    gens, (w, err), _ = engine.run_chain(
        key, state0=state0, step=step, observe=_observe, generations=generations, trials=trials,
        record=record, xs=xs, chunk_size=chunk_size, progress=progress,
        label=f"regression d={dim} T={rows} {policy} {design} {method}")
    return RegressionResult(jnp.asarray(gens), w, err)


def _observe(s: _State):
    return s.w, jnp.sum((s.w - s.w_star) ** 2)


def _bartlett(k, dim, rows, dtype):
    """Lower-triangular ``A`` with ``A Aᵀ ~ Wishart_d(T, I)``: ``A_jj² ~ χ²_{T−j+1}``."""
    k_chi, k_low = jax.random.split(k)
    dof = rows - jnp.arange(dim, dtype=dtype)
    chi2 = 2.0 * jax.random.gamma(k_chi, 0.5 * dof, dtype=dtype)
    return jnp.tril(jax.random.normal(k_low, (dim, dim), dtype), -1) + jnp.diag(jnp.sqrt(chi2))


@functools.lru_cache(maxsize=32)
def _step(policy, design, method, dim, rows, cap, dtype):
    """One OLS fit; cached on the static configuration (engine compile cache)."""
    dtype = jnp.dtype(dtype)

    def step(k, s, x):
        g, sigma = x
        k_x, k_e, k_u = jax.random.split(k, 3)
        if method == "exact":
            a = _bartlett(k_x, dim, rows, dtype)
            if design == "fixed":
                a = jnp.where(g == 1, a, s.a_fixed)
                s = s._replace(a_fixed=a)
            gram = a @ a.T
            h = gram @ s.w + sigma * (a @ jax.random.normal(k_e, (dim,), dtype))
        else:
            xmat = jax.random.normal(k_x, (rows, dim), dtype)
            if design == "fixed":
                xmat = jnp.where(g == 1, xmat, s.x_fixed)
                s = s._replace(x_fixed=xmat)
            y = xmat @ s.w + sigma * jax.random.normal(k_e, (rows,), dtype)
            if policy == "accumulate-subsample":
                start = (g - 1) * rows
                x_pool = jax.lax.dynamic_update_slice(s.x_pool, xmat,
                                                      (start, jnp.zeros_like(start)))
                y_pool = jax.lax.dynamic_update_slice(s.y_pool, y, (start,))
                s = s._replace(x_pool=x_pool, y_pool=y_pool)
                u = jnp.where(jnp.arange(cap) < g * rows, jax.random.uniform(k_u, (cap,)), 2.0)
                pick = jnp.argsort(u)[:rows]
                xmat, y = x_pool[pick], y_pool[pick]
            gram, h = xmat.T @ xmat, xmat.T @ y
        if policy == "accumulate":
            gram, h = s.gram + gram, s.h + h
        w = jax.scipy.linalg.solve(gram, h, assume_a="pos")
        return s._replace(w=w, gram=gram, h=h)

    return step
