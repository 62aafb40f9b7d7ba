"""Exact gamma and χ² draws (Marsaglia–Tsang, on the log scale) and the Bartlett factor."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate
from ._core import (
    _compacted_sampler, _concrete, _pick, _positive, _real_dtype, _seed, _shape, _to_normal,
    _uniform, _uniform_pairs,
)

_GAMMA_FIRST_CANDIDATES = 1
_GAMMA_CANDIDATES = 2


def log_gamma(key, a, shape=None, dtype=None):
    """``log G`` for ``G ~ Gamma(a, 1)``, accurate for any ``a > 0`` (no underflow).

    Marsaglia & Tsang (2000) for shape ``b = a`` (``a ≥ 1``) or ``b = a + 1`` (``a < 1``):
    ``G_b = d·(1 + c x)³``, ``d = b − ⅓``, ``c = 1/√(9d)``, ``x ~ N(0, 1)``, accepted when
    ``log U < x²/2 + d(1 − v + log v)`` (squeeze ``U < 1 − 0.0331 x⁴``), the test written in
    terms of ``log1p(c x) − c x`` so that it stays accurate for ``a`` up to ``1e7`` in float32.
    For ``a < 1``, ``log G_a = log G_{a+1} + log(U)/a`` (Marsaglia & Tsang's boost), exact and
    finite even for ``a = 1e-3`` where ``G_a`` itself underflows.  Invalid traced ``a`` give NaN.

    Args:
      key: a ``jax.random.key``.
      a: shape parameter(s) ``> 0``.
      shape: output shape (broadcast with ``a``); default ``a``'s shape.
      dtype: float dtype (default float64 with ``jax_enable_x64``, else float32).
    """
    key = _validate.key("key", key)
    ftype = _real_dtype(dtype)
    a = _positive("a", a, ftype)
    shape = _shape("shape", shape, a)
    return _log_gamma(_seed(key), jnp.broadcast_to(a, shape))


def gamma(key, a, shape=None, dtype=None):
    """``G ~ Gamma(a, 1)`` (``exp`` of :func:`log_gamma`; underflows to 0 for tiny ``a``)."""
    return jnp.exp(log_gamma(key, a, shape, dtype))


def log_chisquare(key, dof, shape=None, dtype=None):
    """``log X`` for ``X ~ χ²_dof``: ``log 2 + log G(dof/2)`` (see :func:`log_gamma`)."""
    key = _validate.key("key", key)
    ftype = _real_dtype(dtype)
    dof = _positive("dof", dof, ftype)
    shape = _shape("shape", shape, dof)
    return math.log(2.0) + _log_gamma(_seed(key), jnp.broadcast_to(0.5 * dof, shape))


def chisquare(key, dof, shape=None, dtype=None):
    """``X ~ χ²_dof`` (``exp`` of :func:`log_chisquare`)."""
    return jnp.exp(log_chisquare(key, dof, shape, dtype))


def _mt_prepare(b):
    d = b - 1.0 / 3.0
    return d, 1.0 / jnp.sqrt(9.0 * d)


def _log1pmx(t):
    """``log(1 + t) − t`` without cancellation for small ``|t|``.

    With ``v = t/(2 + t)``: ``log1p(t) − t = −2v²/(1 − v) + 2v³ Σ_{j≥0} v^{2j}/(2j + 3)``, the
    series summed to below the dtype's epsilon for ``|v| < 0.1``; ``log1p(t) − t`` elsewhere.
    """
    v = t / (2.0 + t)
    v2 = v * v
    s = jnp.zeros_like(v)
    for j in range(8 if jnp.finfo(t.dtype).bits > 32 else 4, -1, -1):
        s = 1.0 / (2 * j + 3) + v2 * s
    near = -2.0 * v2 / (1.0 - v) + 2.0 * v * v2 * s
    return jnp.where(jnp.abs(v) < 0.1, near, jnp.log1p(t) - t)


def _mt_propose(consts, w, u):
    """Marsaglia–Tsang candidates ``log(d v)`` and their acceptance from uniforms ``w, u``.

    ``x = √2 erfinv(2w − 1)`` is normal; with ``t = c x`` and ``d c² = 1/9`` the exponent is
    ``x²/2 + d(1 − v + log v) = x²/2 − x²/3 − c x³/9 + 3d·(log1p(t) − t)``.
    """
    d, c = consts
    x = _to_normal(w)
    t = c * x
    valid = t > -1.0
    ts = jnp.where(valid, t, 0.0)
    x2 = x * x
    squeeze = u < 1.0 - 0.0331 * x2 * x2
    log_ratio = x2 / 6.0 - c * x2 * x / 9.0 + 3.0 * d * _log1pmx(ts)
    ok = valid & (squeeze | (jnp.log(u) < log_ratio))
    return jnp.log(d) + 3.0 * jnp.log1p(ts), ok


_mt = _compacted_sampler(_mt_prepare, _mt_propose, _GAMMA_CANDIDATES)


def _log_gamma(seed, a):
    """``log G(a)`` (float ``a`` of the output's shape and dtype) from the Threefry ``seed``.

    Streams: ``c0 = 1`` first-round candidates, ``2`` the ``a < 1`` boost (drawn for every
    element: one word is cheaper than a branch), lanes (salt 0) for the later rounds.
    """
    small = a < 1.0
    b = jnp.where(small, a + 1.0, a)
    consts = _mt_prepare(b)
    count = jnp.arange(a.size * _GAMMA_FIRST_CANDIDATES, dtype=jnp.uint32)
    w, u = (x.reshape(a.shape + (_GAMMA_FIRST_CANDIDATES,))
            for x in _uniform_pairs(seed, 1, count, a.dtype))
    value, found = _pick(*_mt_propose(tuple(c[..., None] for c in consts), w, u))
    value = jnp.where(found, value, _mt(seed, jnp.uint32(0), ~found, b))

    boost = jnp.log1p(-_uniform(seed, 2, a.shape, a.dtype)) / a
    return value + jnp.where(small, boost, 0.0)


# --------------------------------------------------------------------------------------------
# Wishart (Bartlett)


def bartlett(key, dof, dim, dtype=None):
    r"""Bartlett factor of a ``Wishart_dim(dof, I)`` matrix: ``(log_diag, lower)``.

    ``A`` lower triangular with ``A Aᵀ ~ Wishart_dim(dof, I)``: ``log A_jj = ½ log χ²_{dof−j+1}``
    (``j = 1..dim``, independent) and ``lower`` its strictly-lower part, i.i.d. ``N(0, 1)``
    (Bartlett 1933).  ``log_diag`` has shape ``dof.shape + (dim,)``, ``lower``
    ``dof.shape + (dim, dim)`` with zeros on and above the diagonal.

    Args:
      key: a ``jax.random.key``.
      dof: degrees of freedom ``> dim − 1`` (scalar or array, may be traced).
      dim: the dimension (a Python int ``≥ 1``).
      dtype: float dtype (default float64 with ``jax_enable_x64``, else float32).
    """
    key = _validate.key("key", key)
    dim = _validate.integer("dim", dim, minimum=1)
    ftype = _real_dtype(dtype)
    dof = jnp.asarray(dof)
    value = _concrete(dof)
    if value is not None and value.size and not np.all(value > dim - 1):
        raise ValueError(f"dof must be > dim - 1 = {dim - 1}, got {np.min(value)}")
    dof = _positive("dof", dof, ftype)
    k_diag, k_low = jax.random.split(key)
    chi_dof = dof[..., None] - jnp.arange(dim, dtype=ftype)
    log_diag = 0.5 * (math.log(2.0) + _log_gamma(_seed(k_diag), 0.5 * chi_dof))
    lower = _to_normal(_uniform(_seed(k_low), 0, dof.shape + (dim, dim), ftype))
    return log_diag, jnp.tril(lower, -1)
