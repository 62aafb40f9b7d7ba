r"""Exact samplers for the chains: binomial, multinomial, gamma / χ² and the Bartlett factor.

``jax.random`` evaluates every branch of its binomial for every element, each in a per-element
``while_loop`` (so every lane waits for the slowest), returns float counts from its multinomial,
and its gamma is much slower than numpy's.  The samplers here are exact (up to floating-point
rounding of the acceptance tests) and vectorised the other way round:

* rejection samplers draw ``C`` candidates per element at once and keep the first accepted one;
  a ``lax.while_loop`` over *rounds* runs only while some element is still unresolved (rare);
* a branch (BTRS or inversion) is a ``while_loop`` whose condition holds only for the elements
  that need it, so a batch that needs one branch never runs the other;
* counts are carried as floats holding exact integers (``n ≤ 2**24`` in float32,
  ``n ≤ 2**53`` in float64) and returned as integers.

Under ``vmap`` a ``while_loop`` runs until every lane is done, so the cost of a batch is that of
its slowest lane; the rounds keep that small.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate

#: Binomial means ``n·min(p, 1−p)`` at or above this use BTRS (Hörmann 1993 requires ≥ 10).
_BTRS_MIN_MEAN = 10.0
#: Candidates per rejection round.
_BTRS_CANDIDATES = 2
_GAMMA_CANDIDATES = 2
#: Sequential-search steps per ``while_loop`` iteration of binomial inversion.
_INVERSION_STEPS = 8

# Loader's stirlerr(k) = log k! − log(√(2πk) (k/e)^k) for k = 0..15 (entry 0 unused).
_STIRLERR = np.array([0.0] + [math.lgamma(k + 1.0) - (0.5 * math.log(2.0 * math.pi * k)
                                                     + k * math.log(k) - k)
                              for k in range(1, 16)])


def _float_dtype():
    return jnp.asarray(0.0).dtype


def _int_dtype(dtype):
    default = jnp.asarray(0).dtype
    if dtype is None:
        return default
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"dtype must be an integer dtype, got {dtype}")
    return dtype


def _real_dtype(dtype):
    if dtype is None:
        return _float_dtype()
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    return jax.dtypes.canonicalize_dtype(dtype)


def _max_exact_count(ftype) -> int:
    return 2 ** (jnp.finfo(ftype).nmant + 1)


def _concrete(x):
    """``x`` as a numpy array if it is known at trace time, else ``None``."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _check_counts(name: str, n, ftype):
    """Validate a (possibly traced) count array; returns it as floats holding integers."""
    n = jnp.asarray(n)
    if not (jnp.issubdtype(n.dtype, jnp.integer) or jnp.issubdtype(n.dtype, jnp.floating)):
        raise TypeError(f"{name} must hold integers, got dtype {n.dtype}")
    value = _concrete(n)
    if value is not None and value.size:
        limit = _max_exact_count(ftype)
        if np.issubdtype(value.dtype, np.floating) and not np.all(value == np.round(value)):
            raise ValueError(f"{name} must hold integers, got {value.ravel()[:5].tolist()}...")
        if value.min() < 0:
            raise ValueError(f"{name} must be >= 0, got {value.min()}")
        if value.max() > limit:
            raise ValueError(f"{name} must be <= {limit} (exact integers in {jnp.dtype(ftype).name}; "
                             f"enable jax_enable_x64 for larger counts), got {value.max()}")
    return n.astype(ftype)


def _check_probability(name: str, p, ftype):
    p = jnp.asarray(p)
    if not (jnp.issubdtype(p.dtype, jnp.floating) or jnp.issubdtype(p.dtype, jnp.integer)):
        raise TypeError(f"{name} must be real, got dtype {p.dtype}")
    value = _concrete(p)
    if value is not None and value.size and not (np.all(value >= 0) and np.all(value <= 1)):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{np.nanmin(value)}, "
                         f"{np.nanmax(value)}] (or NaN)")
    return p.astype(ftype)


def _shape(name: str, shape, *arrays):
    if shape is None:
        return jnp.broadcast_shapes(*(a.shape for a in arrays))
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    try:
        jnp.broadcast_shapes(shape, *(a.shape for a in arrays))
    except ValueError:
        raise ValueError(f"{name}={shape} is not compatible with the parameter shapes "
                         f"{[a.shape for a in arrays]}") from None
    return shape


# --------------------------------------------------------------------------------------------
# Binomial


def binomial(key, n, p, shape=None, *, dtype=None):
    """Exact ``Binomial(n, p)`` counts as integers.

    BTRS (Hörmann 1993, transformed rejection with squeeze) where ``n·min(p, 1−p) ≥ 10``,
    sequential-search inversion below, and ``X ↦ n − X`` for ``p > ½``.  ``p ∈ {0, 1}`` and
    ``n = 0`` are exact.

    Args:
      key: a ``jax.random.key``.
      n: number of trials (integer scalar or array, may be traced); ``n ≤ 2**24`` without
        ``jax_enable_x64``, ``n ≤ 2**53`` with it.
      p: success probability in ``[0, 1]``.
      shape: output shape (broadcast with ``n`` and ``p``); default their broadcast shape.
      dtype: integer output dtype (default int64 with ``jax_enable_x64``, else int32).
    """
    key = _validate.key("key", key)
    itype = _int_dtype(dtype)
    ftype = _float_dtype()
    n = _check_counts("n", n, ftype)
    p = _check_probability("p", p, ftype)
    shape = _shape("shape", shape, n, p)
    n, p = jnp.broadcast_to(n, shape), jnp.broadcast_to(p, shape)
    return _binomial(key, n, p).astype(itype)


def _binomial(key, n, p):
    """Binomial counts as floats holding exact integers (``n`` float, same shape as ``p``)."""
    flip = p > 0.5
    q = jnp.where(flip, 1.0 - p, p)
    n = jnp.maximum(n, 0.0)
    big = n * q >= _BTRS_MIN_MEAN
    k_inv, k_btrs = jax.random.split(key)
    small = _binomial_inversion(k_inv, n, jnp.where(big, 0.0, q), ~big)
    large = _binomial_btrs(k_btrs, n, jnp.where(big, q, 0.5), big)
    x = jnp.where(big, large, small)
    return jnp.where(flip, n - x, x)


def _binomial_inversion(key, n, q, active):
    """Sequential search ``X = min{k : U < F(k)}`` for ``n·q < 10``, ``q ≤ ½``.

    Runs in blocks of ``_INVERSION_STEPS`` steps while some active element is unresolved.  An
    element also stops at ``k = n`` or once ``F`` no longer changes past the mode (``U`` fell
    in the rounding gap ``1 − F(n)``, probability ~ machine epsilon).
    """
    ftype = q.dtype
    u = jax.random.uniform(key, q.shape, ftype)
    r = q / (1.0 - q)
    pk = jnp.exp(n * jnp.log1p(-q))
    mode = jnp.floor((n + 1.0) * q)
    k = jnp.zeros_like(q)
    done = ~active | (u < pk) | (n == 0)

    def cond(state):
        return jnp.any(~state[3])

    def body(state):
        k, pk, f, done = state
        for _ in range(_INVERSION_STEPS):
            k1 = k + 1.0
            pk1 = pk * r * (n - k) / k1
            f1 = f + pk1
            go = ~done
            k, pk = jnp.where(go, k1, k), jnp.where(go, pk1, pk)
            stalled = (f1 == f) & (k1 > mode)
            f = jnp.where(go, f1, f)
            done = done | (u < f) | (k >= n) | stalled
        return k, pk, f, done

    k, _, _, _ = jax.lax.while_loop(cond, body, (k, pk, pk, done))
    return k


def _stirlerr(k):
    """Loader's ``stirlerr(k) = log k! − log(√(2πk) (k/e)^k)`` for integer-valued ``k ≥ 1``."""
    table = jnp.asarray(_STIRLERR, k.dtype)
    inv = 1.0 / jnp.maximum(k, 1.0)
    inv2 = inv * inv
    series = (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - inv2 / 1188) * inv2) * inv2)
              * inv2) * inv
    return jnp.where(k <= 15, table[jnp.clip(k, 0, 15).astype(jnp.int32)], series)


def _bd0(x, mean):
    """Loader's deviance term ``x log(x/mean) + mean − x``, accurate when ``x ≈ mean``.

    Near the mean (``|v| < 0.1``, ``v = (x − mean)/(x + mean)``) the series
    ``(x − mean) v + 2x Σ_{j≥1} v^{2j+1}/(2j+1)`` is summed to below the dtype's epsilon.
    """
    d = x - mean
    v = d / (x + mean)
    v2 = v * v
    s = jnp.zeros_like(v)
    for j in range(8 if jnp.finfo(x.dtype).bits > 32 else 4, 0, -1):
        s = 1.0 / (2 * j + 1) + v2 * s
    near = d * v + 2.0 * x * v * v2 * s
    far = x * jnp.log(jnp.where(x > 0, x / mean, 1.0)) + mean - x
    return jnp.where(jnp.abs(v) < 0.1, near, far)


def _log_binomial_pmf(x, n, np_, nq):
    """``log f(x) − stirlerr(n) + ½ log(2π/n)`` for ``Bin(n, p)``, ``0 < x < n`` (Loader 2000).

    ``log f(x) = stirlerr(n) − stirlerr(x) − stirlerr(n−x) − bd0(x, np) − bd0(n−x, nq)
    − ½ log(2π x (n−x)/n)``: every term is small near the mean, so differences stay accurate
    even at ``n = 2**24`` in float32.
    """
    return (-_stirlerr(x) - _stirlerr(n - x) - _bd0(x, np_) - _bd0(n - x, nq)
            - 0.5 * (jnp.log(x) + jnp.log(n - x)))


def _binomial_btrs(key, n, q, active):
    """BTRS (Hörmann 1993, algorithm BTRS) for ``n·q ≥ 10``, ``q ≤ ½``, in rejection rounds.

    The acceptance test compares ``log v`` with ``log f(k) − log f(m)`` (``m`` the mode)
    computed with Loader's saddle-point terms; ``k ∈ {0, n}`` use ``f(0) = qⁿ``, ``f(n) = pⁿ``.
    """
    ftype = q.dtype
    spq = jnp.sqrt(n * q * (1.0 - q))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
    c = n * q + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    m = jnp.floor((n + 1.0) * q)
    np_ = n * q
    nq = n - np_
    log_f_m = _log_binomial_pmf(m, n, np_, nq)
    # log f(0) − log f(m) and log f(n) − log f(m).
    log_f_m_abs = log_f_m + _stirlerr(n) - 0.5 * (math.log(2.0 * math.pi) - jnp.log(n))
    edge0 = n * jnp.log1p(-q) - log_f_m_abs
    edge_n = n * jnp.log(q) - log_f_m_abs
    cand = (_BTRS_CANDIDATES,)
    ex = lambda x: x[..., None]  # noqa: E731

    def round_(rkey):
        uv = jax.random.uniform(rkey, q.shape + cand + (2,), ftype)
        u = uv[..., 0] - 0.5
        v = uv[..., 1]
        us = 0.5 - jnp.abs(u)
        k = jnp.floor((2.0 * ex(a) / us + ex(b)) * u + ex(c))
        inside = (k >= 0.0) & (k <= ex(n))
        squeeze = (us >= 0.07) & (v <= ex(v_r))
        log_v = jnp.log(v * ex(alpha) / (ex(a) / (us * us) + ex(b)))
        kk = jnp.clip(k, 1.0, ex(n) - 1.0)
        bound = _log_binomial_pmf(kk, ex(n), ex(np_), ex(nq)) - ex(log_f_m)
        bound = jnp.where(k <= 0, ex(edge0), jnp.where(k >= ex(n), ex(edge_n), bound))
        ok = inside & (squeeze | (log_v <= bound))
        first = jnp.argmax(ok, axis=-1)
        value = jnp.take_along_axis(k, first[..., None], axis=-1)[..., 0]
        return value, jnp.any(ok, axis=-1)

    def cond(state):
        return jnp.any(~state[2])

    def body(state):
        i, x, done = state
        value, ok = round_(jax.random.fold_in(key, i))
        return i + 1, jnp.where(done, x, value), done | ok

    _, x, _ = jax.lax.while_loop(cond, body, (jnp.uint32(0), jnp.zeros_like(q), ~active))
    return x


# --------------------------------------------------------------------------------------------
# Multinomial


def multinomial(key, n, probs, *, dtype=None):
    """Exact ``Multinomial(n, probs)`` counts as integers, shape ``probs.shape``.

    Conditional binomials along the last axis: ``X_k ~ Bin(n − Σ_{j<k} X_j, p_k / Σ_{j≥k} p_j)``
    (suffix sums, so ``probs`` need not be normalised).  The last category with positive
    probability takes the remainder, so counts sum to ``n`` exactly, and a category with
    ``p_k = 0`` always gets 0 (an extinct state stays extinct).

    Args:
      key: a ``jax.random.key``.
      n: number of draws, broadcastable to ``probs.shape[:-1]`` (may be traced).
      probs: non-negative weights ``(..., K)`` with a positive sum along the last axis.
      dtype: integer output dtype (default int64 with ``jax_enable_x64``, else int32).
    """
    key = _validate.key("key", key)
    itype = _int_dtype(dtype)
    ftype = _float_dtype()
    n = _check_counts("n", n, ftype)
    probs = jnp.asarray(probs)
    if probs.ndim == 0:
        raise ValueError("probs must have at least one axis (the categories), got a scalar")
    value = _concrete(probs)
    if value is not None and value.size:
        if not np.all(value >= 0) or not np.all(np.isfinite(value)):
            raise ValueError("probs must be finite and >= 0")
        if np.any(value.sum(axis=-1) <= 0):
            raise ValueError("probs must have a positive sum along the last axis")
    probs = probs.astype(ftype)
    batch = probs.shape[:-1]
    try:
        n = jnp.broadcast_to(n, batch)
    except ValueError:
        raise ValueError(f"n of shape {n.shape} does not broadcast to probs.shape[:-1]={batch}") from None
    return _multinomial(key, n, probs).astype(itype)


def _multinomial(key, n, probs):
    """Multinomial counts as floats holding exact integers."""
    k_cat = probs.shape[-1]
    p = jnp.moveaxis(probs, -1, 0)
    suffix = jnp.flip(jnp.cumsum(jnp.flip(p, 0), axis=0), 0)
    positive = p > 0
    idx = jnp.arange(k_cat).reshape((k_cat,) + (1,) * (p.ndim - 1))
    last = jnp.max(jnp.where(positive, idx, -1), axis=0)
    cond_p = jnp.where(positive, jnp.minimum(p / jnp.where(positive, suffix, 1.0), 1.0), 0.0)
    cond_p = jnp.where(idx == last, 1.0, cond_p)
    keys = jax.random.split(key, k_cat)

    def body(left, inp):
        k, pk = inp
        x = _binomial(k, left, pk)
        return left - x, x

    _, counts = jax.lax.scan(body, n, (keys, cond_p))
    return jnp.moveaxis(counts, 0, -1)
