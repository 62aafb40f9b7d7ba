"""Exact gamma and χ² draws (Marsaglia–Tsang, on the log scale) and the Bartlett factor."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate, rng
from . import _rounds


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
    ftype = _rounds.check_real_dtype(dtype)
    a = _rounds.positive("a", a, ftype)
    shape = _rounds.out_shape("shape", shape, a)
    return _log_gamma(rng.seed(key), jnp.broadcast_to(a, shape))


def gamma(key, a, shape=None, dtype=None):
    """``G ~ Gamma(a, 1)`` (``exp`` of :func:`log_gamma`; underflows to 0 for tiny ``a``)."""
    return jnp.exp(log_gamma(key, a, shape, dtype))


def log_chisquare(key, dof, shape=None, dtype=None):
    """``log X`` for ``X ~ χ²_dof``: ``log 2 + log G(dof/2)`` (see :func:`log_gamma`)."""
    key = _validate.key("key", key)
    ftype = _rounds.check_real_dtype(dtype)
    dof = _rounds.positive("dof", dof, ftype)
    shape = _rounds.out_shape("shape", shape, dof)
    return math.log(2.0) + _log_gamma(rng.seed(key), jnp.broadcast_to(0.5 * dof, shape))


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
    x = rng.to_normal(w)
    t = c * x
    valid = t > -1.0
    ts = jnp.where(valid, t, 0.0)
    x2 = x * x
    squeeze = u < 1.0 - 0.0331 * x2 * x2
    log_ratio = x2 / 6.0 - c * x2 * x / 9.0 + 3.0 * d * _log1pmx(ts)
    ok = valid & (squeeze | (jnp.log(u) < log_ratio))
    return jnp.log(d) + 3.0 * jnp.log1p(ts), ok


_mt = _rounds.compacted_sampler(_mt_prepare, _mt_propose)


@jax.jit
def _log_gamma(seed, a):
    """``log G(a)`` (float ``a`` of the output's shape and dtype) from the Threefry ``seed``;
    compiled once per shape (an eager call would compile each of its loops anew).

    Streams: ``c0 = 1`` the first candidate of element ``e`` (counter ``e``), ``2`` the
    ``a < 1`` boost, ``c0 = LANE`` (:func:`_rounds.compacted_sampler`) the later rounds of
    rejected elements.
    """
    small = a < 1.0
    b = jnp.where(small, a + 1.0, a)
    count = jnp.arange(a.size, dtype=jnp.uint32).reshape(a.shape)
    value, found = _mt_propose(_mt_prepare(b), *rng.uniform_pairs(seed, 1, count, a.dtype))
    value = jnp.where(found, value, _mt(seed, ~found, b))
    boost = jnp.log1p(-rng.uniform(seed, 2, a.shape, a.dtype)) / a
    return value + jnp.where(small, boost, 0.0)


def log_gamma_rows(seed, count, a):
    """``log G(a_b)`` for trial ``t`` and row ``b``, shape ``(B, T)``, from counter-based words.

    ``seed`` ``(T, 2)`` holds the trials' Threefry seeds, ``count`` ``(B,)`` distinct uint32
    counters below ``2**31`` (e.g. generations) and ``a`` ``(B,)`` the shapes.  Element
    ``(b, t)`` depends only on ``(seed[t], count[b], a[b])``, not on ``T`` or ``B``.  Words under
    ``seed[t]``: the first Marsaglia–Tsang candidate (:func:`log_gamma`) from counters
    ``(count, 0)`` (float64: and ``(count, 1)``), the ``a < 1`` boost from ``(count, 2)``;
    counters ``(count, c ≥ 3)`` are left to the caller.  A rejected element continues under its
    own seed ``hash(seed[t], (2**31, count[b]))``, its candidate ``i`` from the counters
    ``(i // 2, i % 2)`` (:func:`~collapse_theory.samplers._rounds.candidate_uniforms`).

    The draw of the 1-D Gaussian chain's ``½ log χ²`` noise (:mod:`collapse_theory.gaussian`,
    an :class:`~collapse_theory.engine.BlockStep`): public so that chains outside the samplers
    can draw it on their own counters.

    The first candidates of all rows are one program over ``B T`` lanes: a caller with few
    trials spends the program's fixed cost on several rows.  Rejections are rare (0.06 % at
    ``a = 49.5``), so they are found in two steps: the groups of 32 lanes of a row that hold
    one (an ``O(B T / 32)`` compaction), then every rejected lane of those groups is redrawn,
    one candidate a step, until accepted, with a buffer of ``n/256``, ``n/32`` (each rounded
    up by :func:`~collapse_theory.samplers._rounds.buffer`) or all ``n`` groups chosen by
    ``lax.switch`` on their number.
    """
    dtype = a.dtype
    rows, trials = count.shape[0], seed.shape[0]
    small = a < 1.0
    d, c = _mt_prepare(jnp.where(small, a + 1.0, a))
    size = math.gcd(trials, _rounds.GROUP)
    per_row = trials // size
    n = rows * per_row
    group_seed = seed.reshape(per_row, size, 2)

    def boost(seed, count, a):
        return jnp.log1p(-rng.unit(rng.words(seed, count, 2), dtype)[0]) / a

    # Rejected lanes are NaN, and the groups holding one are found by a float sum (XLA:CPU
    # reduces booleans ~3x slower).
    count_b, a_b, small_b = count[:, None], a[:, None], small[:, None]
    value, ok = _mt_propose((d[:, None], c[:, None]), *rng.uniform_pairs(seed, count_b, 0, dtype))
    value = jnp.where(ok, value, jnp.nan)
    value = jax.lax.cond(jnp.any(small), lambda v: v + jnp.where(
        small_b, boost(seed, count_b, a_b), 0.0), lambda v: v, value)
    value = value.reshape(n, size)
    pending = jnp.isnan(jnp.sum(value, axis=1))
    caps = sorted({min(_rounds.buffer(n // d, size), n) for d in (256, 32)} | {n})

    def fix(cap, value, pending):
        idx = _rounds.nonzero(pending, cap)
        j = jnp.minimum(idx, n - 1)
        row = j // per_row
        seeds, count_j = group_seed[j % per_row], count[row][:, None]
        lane_seed = jnp.stack(rng.words(seeds, jnp.uint32(_rounds.LANE), count_j), axis=-1)
        consts = (d[row][:, None], c[row][:, None])

        def more(state):
            i, v, found = state
            cand, acc = _mt_propose(consts, *_rounds.candidate_uniforms(lane_seed, i, dtype))
            return i + 1, jnp.where(found, v, cand), found | acc

        v = value[j]
        redo = jnp.isnan(v)
        new = jax.lax.while_loop(lambda s: ~jnp.all(s[2]), more, (jnp.uint32(0), v, ~redo))[1]
        new = new + jnp.where(small[row][:, None], boost(seeds, count_j, a[row][:, None]), 0.0)
        v = jnp.where(redo, new, v)
        return value.at[idx].set(v, mode="drop"), pending.at[idx].set(False, mode="drop")

    def body(state):
        branch = jnp.sum(jnp.sum(state[1]) > jnp.asarray(caps[:-1], jnp.int32))
        return jax.lax.switch(branch, [lambda *s, cap=cap: fix(cap, *s) for cap in caps], *state)

    value = jax.lax.while_loop(lambda s: jnp.any(s[1]), body, (value, pending))[0]
    return value.reshape(rows, trials)


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
    ftype = _rounds.check_real_dtype(dtype)
    dof = jnp.asarray(dof)
    value = _rounds.concrete(dof)
    if value is not None and value.size and not np.all(value > dim - 1):
        raise ValueError(f"dof must be > dim - 1 = {dim - 1}, got {np.min(value)}")
    dof = _rounds.positive("dof", dof, ftype)
    k_diag, k_low = jax.random.split(key)
    chi_dof = dof[..., None] - jnp.arange(dim, dtype=ftype)
    log_diag = 0.5 * (math.log(2.0) + _log_gamma(rng.seed(k_diag), 0.5 * chi_dof))
    lower = rng.to_normal(rng.uniform(rng.seed(k_low), 0, dof.shape + (dim, dim), ftype))
    return log_diag, jnp.tril(lower, -1)
