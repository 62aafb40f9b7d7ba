"""Exact binomial (BTRS and inversion) and multinomial (conditional binomials) counts."""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _validate, rng
from . import _rounds

#: Binomial means ``n·min(p, 1−p)`` at or above this use BTRS (Hörmann 1993 requires ≥ 10).
_BTRS_MIN_MEAN = 10.0
#: Sequential-search steps per ``while_loop`` iteration of binomial inversion.
_INVERSION_STEPS = 8
# Multinomial steps (all measured on a 2-core CPU, K = 100 Zipf, M = 1000 chain):
#: conditional means ``n·min(s, 1−s)`` from this use BTRS, below it inversion;
_LARGE_MEAN = 30.0
#: unrolled inversion steps every lane takes (P(X > 48) ≈ 1e-3 at mean 30);
_UNROLLED_STEPS = 48
#: BTRS lanes are gathered into buffers of 1/_BIG of the lanes for one candidate each,
_BIG = 8
#: and the rejected ones (stragglers) into buffers of 1/_SPARSE, one candidate per round;
_SPARSE = 16
#: the lanes that walk (two categories alive or more, and draws left) are gathered into a
#: buffer of 1/_WALK of the pool once they are few, with their rows of the walk's table: a step
#: costs what they number, and the table what they need.  Every candidate and every buffer is
#: code of its own in the compiled chain: with one candidate a round (was 2, then 3) and one
#: buffer (was 1/4 and 1/16) the discrete chain compiles about 2× faster at the same speed
#: within the machine's noise, except late in a collapse (Zipf, 500 generations), where it ran
#: ~5–10 % slower (benchmarks/RESULTS.md, stop 37); restoring the buffer of 1/4 alone made no
#: measurable difference there (stop 38).
_WALK = 16
#: Counter word ``c0`` of the multinomial's per-row seeds.
_ROW_SEEDS = 0x40000000
# Loader's stirlerr(k) = log k! − log(√(2πk) (k/e)^k) for k = 0..15 (entry 0 unused).
_STIRLERR = np.array([0.0] + [math.lgamma(k + 1.0) - (0.5 * math.log(2.0 * math.pi * k)
                                                     + k * math.log(k) - k)
                              for k in range(1, 16)])

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
    itype = _rounds.check_int_dtype(dtype)
    ftype = rng.float_dtype()
    n = _rounds.check_counts("n", n, ftype)
    p = _rounds.check_probability("p", p, ftype)
    shape = _rounds.out_shape("shape", shape, n, p)
    return _binomial(rng.seed(key), n, p, shape, jnp.dtype(itype))


@functools.partial(jax.jit, static_argnums=(3, 4))
def _binomial(seed, n, p, shape, itype):
    """:func:`binomial` past its checks, compiled once per shape (an eager call would compile
    each of its loops anew)."""
    u = rng.uniform(seed, 0, shape, p.dtype)
    return _binomial_from(u, seed, n, p).astype(itype)


def _binomial_from(u, seed, n, p):
    """Binomial counts (floats holding integers) from the inversion uniforms ``u``; ``n`` and
    ``p`` broadcast to ``u.shape`` (scalars: BTRS prepares its constants once, not per element).

    BTRS lanes hash their seeds under ``seed`` (:func:`_rounds.compacted_sampler`).
    """
    flip = p > 0.5
    q = jnp.where(flip, 1.0 - p, p)
    n = jnp.maximum(n, 0.0)
    big = n * q >= _BTRS_MIN_MEAN
    small = _binomial_inversion(u, n, jnp.where(big, 0.0, q), ~big)
    large = _btrs(seed, jnp.broadcast_to(big, u.shape), n, jnp.where(big, q, 0.5))
    x = jnp.where(big, large, small)
    return jnp.where(flip, n - x, x)


def _binomial_inversion(u, n, q, active):
    """Sequential search ``X = #{k : U ≥ F(k)} = min{k : U < F(k)}`` for ``q ≤ ½`` and small means
    (below 10 in :func:`binomial`, 30 in the multinomial's stragglers).

    All elements step through ``k = 0, 1, ...`` together (``f(k+1) = f(k)·r·(n−k)/(k+1)``,
    ``r = q/(1−q)``), ``_INVERSION_STEPS`` steps per ``while_loop`` iteration, until no active
    element has ``U ≥ F(k)`` left.  An element stops counting at ``k = n`` and where ``F`` no
    longer changes past the mode (``U`` fell in the rounding gap ``1 − F(n)``, probability of
    order the machine epsilon).
    """
    r = q / (1.0 - q)
    pk = jnp.exp(n * jnp.log1p(-q))
    mode = jnp.floor((n + 1.0) * q)
    alive = active & (u >= pk) & (n >= 1.0)
    x = alive.astype(q.dtype)

    def body(state):
        k, pk, f, x, alive = state
        for _ in range(_INVERSION_STEPS):
            pk = pk * r * ((n - k) * (1.0 / (k + 1.0)))
            k = k + 1.0
            f1 = f + pk
            alive = alive & (u >= f1) & (k < n) & ((f1 > f) | (k <= mode))
            x = x + alive
            f = f1
        return k, pk, f, x, alive

    state = (jnp.zeros((), q.dtype), pk, pk, x, alive)
    return jax.lax.while_loop(lambda s: jnp.any(s[4]), body, state)[3]


def _stirlerr(k):
    """Loader's ``stirlerr(k) = log k! − log(√(2πk) (k/e)^k)`` for integer-valued ``k ≥ 1``.

    A table for ``k ≤ 15`` (looked up by selects: a gather costs ~40 ns per element on CPU),
    the Stirling series above.
    """
    inv = 1.0 / jnp.maximum(k, 1.0)
    inv2 = inv * inv
    value = (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - inv2 / 1188) * inv2) * inv2)
             * inv2) * inv
    for j in range(1, 16):
        value = jnp.where(k == j, _STIRLERR[j], value)
    return value


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


def _btrs_prepare(n, q):
    """Per-lane constants of BTRS (Hörmann 1993, algorithm BTRS, steps 0–1)."""
    spq = jnp.sqrt(n * q * (1.0 - q))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
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
    return n, a, b, np_ + 0.5, v_r, alpha, np_, nq, log_f_m, edge0, edge_n


def _btrs_propose(consts, u, v):
    """BTRS candidates ``k`` and their acceptance (steps 1–3.3) from uniforms ``u, v``.

    The final test compares ``log v`` with ``log f(k) − log f(m)`` (``m`` the mode) from
    Loader's saddle-point terms; ``k ∈ {0, n}`` use ``f(0) = qⁿ``, ``f(n) = pⁿ``.
    """
    n, a, b, c, v_r, alpha, np_, nq, log_f_m, edge0, edge_n = consts
    u = u - 0.5
    us = 0.5 - jnp.abs(u)
    k = jnp.floor((2.0 * a / us + b) * u + c)
    inside = (k >= 0.0) & (k <= n)
    squeeze = (us >= 0.07) & (v <= v_r)
    log_v = jnp.log(v * alpha / (a / (us * us) + b))
    bound = _log_binomial_pmf(jnp.clip(k, 1.0, n - 1.0), n, np_, nq) - log_f_m
    bound = jnp.where(k <= 0, edge0, jnp.where(k >= n, edge_n, bound))
    return k, inside & (squeeze | (log_v <= bound))


_btrs = _rounds.compacted_sampler(_btrs_prepare, _btrs_propose)


# --------------------------------------------------------------------------------------------
# Multinomial


def multinomial(key, n, probs, *, dtype=None, n_max=None):
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
      n_max: a static bound on ``n`` (an int ``≥`` every ``n``; default none), as a chain
        knows from its sample sizes.  It changes what is compiled, never the counts: each
        conditional mean is at most ``n/2``, so below ``2·_LARGE_MEAN = 60`` no lane uses
        BTRS, and up to ``_UNROLLED_STEPS = 48`` the unrolled inversion finds every count;
        those paths are left out (a K = 3, M = 10 chain compiles ~5× faster,
        ``benchmarks/RESULTS.md``, stop 38).  A concrete ``n`` above it is a ``ValueError``;
        a traced one must not exceed it (its counts would be wrong).
    """
    key = _validate.key("key", key)
    itype = _rounds.check_int_dtype(dtype)
    ftype = rng.float_dtype()
    n = _rounds.check_counts("n", n, ftype)
    if n_max is not None:
        n_max = _validate.integer("n_max", n_max, minimum=0)
        value = _rounds.concrete(n)
        if value is not None and value.size and value.max() > n_max:
            raise ValueError(f"n must be <= n_max={n_max}, got {value.max():.0f}")
    probs = jnp.asarray(probs)
    if probs.ndim == 0:
        raise ValueError("probs must have at least one axis (the categories), got a scalar")
    value = _rounds.concrete(probs)
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
    rows = _rows(_Paths(btrs=n_max is None or n_max >= 2 * _LARGE_MEAN,
                        late=n_max is None or n_max > _UNROLLED_STEPS), jnp.dtype(itype))
    return rows(rng.seed(key), n.reshape(batch), probs)


class _Paths(NamedTuple):
    """Which paths of :func:`_binomial_lanes` are compiled: BTRS, and the inversion's
    stragglers past the unrolled steps (static: bounds on ``n`` rule them out)."""

    btrs: bool
    late: bool


@functools.lru_cache(maxsize=None)
def _rows(paths: _Paths, itype):
    """Multinomial counts of integer type ``itype`` (see :func:`_multinomial_rows`):
    ``rows(seed, n, probs)``, row ``b`` of ``probs`` under the lane seed of ``(seed, b)``;
    compiled once per shape (an eager call would compile each of its loops anew)."""
    @jax.custom_batching.custom_vmap
    def rows(seed, n, probs):
        return _pooled(seed[None], n[None], probs[None], paths, itype)[0]

    @rows.def_vmap
    def rows_batched(axis_size, in_batched, seed, n, probs):
        """All members' rows form one pool of lanes (stragglers are compacted across the batch)."""
        seed, n, probs = (x if b else jnp.broadcast_to(x, (axis_size,) + x.shape)
                          for x, b in zip((seed, n, probs), in_batched))
        return _pooled(seed, n, probs, paths, itype), True

    return jax.jit(rows)


def _pooled(seed, n, probs, paths, itype):
    """The rows of ``V`` members (leading axis) drawn as one set of lanes; member ``v``'s row
    ``b`` uses the lane seed of ``(seed[v], b)``, so its counts do not depend on the pool."""
    members, k_cat = probs.shape[0], probs.shape[-1]
    rows = math.prod(probs.shape[1:-1])

    def lane_seeds(j):  # of the flat lanes j
        return _lane_seeds(seed[j // rows], (j % rows).astype(jnp.uint32))

    counts = _multinomial_rows(lane_seeds, n.reshape(-1), probs.reshape(members * rows, k_cat),
                               paths, itype)
    return counts.reshape(probs.shape)


def _lane_seeds(seed, row):
    """Threefry seeds of multinomial rows: the words at ``(_ROW_SEEDS, row)`` under ``seed``."""
    return jnp.stack(rng.words(seed, jnp.uint32(_ROW_SEEDS), row), axis=-1)


def _category_dtype(k_cat):
    """The narrowest integer type that holds the category ``K``."""
    return next(t for t in (jnp.uint8, jnp.int16, jnp.int32) if k_cat <= jnp.iinfo(t).max)


def _walk_table(probs_t):
    """From weights ``(K, L)``: the conditionals ``p_k / Σ_{j≥k} p_j`` (1 at a lane's last
    positive category, 0 where ``p_k = 0``), the first live category ``> k`` (``K`` where none;
    in the narrowest integer type that holds ``K``: the table is read once per step but
    written whole), and each lane's first and last live categories (``K`` where none), by one
    reverse scan over the categories.  The suffix sums are accumulated from the last category
    down, with no cancellation in the tail."""
    k_cat, lanes = probs_t.shape
    none = jnp.full((lanes,), k_cat, jnp.int32)
    narrow = _category_dtype(k_cat)

    def back(carry, row):
        later, last, suffix = carry
        k, p = row
        suffix = suffix + p
        live = p > 0.0
        cond = jnp.where(later == k_cat, 1.0, jnp.minimum(p / jnp.where(live, suffix, 1.0), 1.0))
        here = jnp.where(live, k, later)
        last = jnp.where(live & (last == k_cat), k, last)
        return (here, last, suffix), (later.astype(narrow), jnp.where(live, cond, 0.0))

    zero = jnp.zeros((lanes,), probs_t.dtype)
    (first, last, _), (after, cond) = jax.lax.scan(back, (none, none, zero), (
        jnp.arange(k_cat, dtype=jnp.int32), probs_t), reverse=True)
    return cond, after, first, last


def _multinomial_rows(lane_seeds, n, probs, paths, itype):
    """``Multinomial(n_b, p_b)`` counts of integer type ``itype`` for every lane ``b`` from its
    weights ``p_b`` and its seed ``lane_seeds(b)`` (hashed only for lanes that draw):
    ``X_k ~ Bin(n − Σ_{j<k} X_j, p_k / Σ_{j≥k} p_j)``, one :func:`_binomial_lanes` step per
    category (lanes are the contiguous axis).

    Each lane steps from one category with ``p_k > 0`` to its next (:func:`_walk_table`), and
    stops once its remainder is 0 or it stands at its last positive category, whose
    conditional is 1: that category takes the remainder with no draw, so counts sum to ``n``.
    A lane thus walks one step fewer than it has categories alive, as numpy stops where the
    remainder is 0, so a collapsing chain's multinomials shorten (under replace an extinct
    category never returns), and a lane with one category alive takes ``n`` there with no
    step.  While more than ``L/_WALK`` lanes walk, the pool walks in place on the whole table;
    the lanes left (or, when few walk from the start, those lanes alone, with the table of
    their rows only; when none walk, no table) are gathered into a buffer of ``L/_WALK`` lanes
    that walks until none is left.  A category with ``p_k = 0`` draws 0 and category ``k``'s
    binomial uses the counters of ``k``, so the counts are those of the walk over all ``K``
    whatever the pool.
    """
    lanes, k_cat = probs.shape
    if lanes == 0:  # no rows: nothing to walk (a buffer of one lane would index them)
        return jnp.zeros(probs.shape, itype)
    live = probs > 0.0
    alive = jnp.sum(live.astype(jnp.float32), axis=1)  # compared with 1: exact for any K
    walk = (alive > 1.0) & (n > 0.0)
    cap = _rounds.buffer(lanes // _WALK)
    lane = jnp.arange(lanes, dtype=jnp.int32)

    def walks(k, left, last):  # lanes at categories k with remainders left, last categories
        return (left > 0.0) & (k < last)

    def walking(last, stop):
        return lambda st: jnp.sum(walks(st[0], st[1], last).astype(jnp.float32)) > stop

    def step(cond_t, after, seeds, to):  # the table's lanes, written to `to` (`lanes`: dropped)
        at = jnp.arange(cond_t.shape[1], dtype=jnp.int32)

        def advance(state):
            k, left, out = state
            row = jnp.minimum(k, k_cat - 1)
            s = jax.lax.optimization_barrier(  # gathered once, not in each of its consumers
                jnp.where(k < k_cat, cond_t[row, at], 0.0))
            x = _binomial_lanes(seeds, k.astype(jnp.uint32), left, s, paths)
            out = out.at[to, k].set(x.astype(itype), mode="drop")
            return after[row, at].astype(jnp.int32), left - x, out

        return advance

    # Each branch hands the buffer (lanes `to`, padding slots `lanes`) its walk state, last
    # categories, seeds and table columns.  Padding slots have nothing left: they never walk.
    def in_place():  # every lane takes its remainder where it stops: out starts from zeros
        cond_t, after, first, last = _walk_table(probs.T)
        seeds = lane_seeds(lane)
        k, left, out = jax.lax.while_loop(walking(last, cap), step(cond_t, after, seeds, lane),
                                          (first, n, jnp.zeros(probs.shape, itype)))
        out = out.at[lane, k].set(left.astype(itype))  # a lane still walking overwrites it
        to = _rounds.nonzero(walks(k, left, last), cap)
        at = jnp.minimum(to, lanes - 1)
        return (to, k[at], jnp.where(to < lanes, left[at], 0.0), last[at], seeds[at],
                cond_t[:, at], after[:, at], out)

    def few():
        to = _rounds.nonzero(walk, cap)
        at = jnp.minimum(to, lanes - 1)
        cond_t, after, first, last = _walk_table(probs[at].T)
        return (to, first, jnp.where(to < lanes, n[at], 0.0), last, lane_seeds(at), cond_t,
                after, one_category())

    def none():
        idle = jnp.full((cap,), k_cat, jnp.int32)
        return (jnp.full((cap,), lanes, jnp.int32), idle, jnp.zeros((cap,), n.dtype), idle,
                jnp.zeros((cap, 2), jnp.uint32), jnp.zeros((k_cat, cap), probs.dtype),
                jnp.zeros((k_cat, cap), _category_dtype(k_cat)), one_category())

    def one_category():  # a lane with one category alive takes n there; walking rows are 0
        return jnp.where(live & (alive == 1.0)[:, None], n[:, None], 0.0).astype(itype)

    count = jnp.sum(walk.astype(jnp.float32))
    branch = jnp.where(count > cap, 0, jnp.where(count > 0.0, 1, 2))
    to, k, left, last, seeds, cond_t, after, out = jax.lax.switch(branch, (in_place, few, none))
    k, left, out = jax.lax.while_loop(walking(last, 0), step(cond_t, after, seeds, to),
                                      (k, left, out))
    return out.at[to, k].set(left.astype(itype), mode="drop")


def _binomial_lanes(lane_seed, step, n, s, paths):
    """``Bin(n_b, s_b)`` for every lane ``b``, from the words at counters ``(step, r)`` under
    the lane's seed (so each lane's draw depends only on its seed and inputs).

    Means ``n·min(s, 1−s)`` below ``_LARGE_MEAN``: inversion (sequential search, the first
    word of round 0), ``_UNROLLED_STEPS`` unrolled steps for all lanes at once.  From
    ``_LARGE_MEAN``: BTRS (Hörmann 1993) on the gathered lanes that need it, rounds
    ``0, 1, …`` one candidate each.  The first pass tries rounds 0 and 1: ~84 % of candidates
    are accepted (n = 1000), so ~2.5 % of lanes are left rather than ~16 %, few enough to be
    gathered (a second pass over every lane cost more than the extra candidate).  Stragglers
    (a longer search, both first candidates rejected) finish in compacted buffers
    (:func:`_finish`, :func:`_redraw`); ``paths`` (:class:`_Paths`) leaves out those no lane
    can take.  Inversion is cheap per step and has no rejections, so it covers means up to
    30 (the float CDF sums ≤ ~80 terms); BTRS costs ~10 transcendental functions per
    candidate.
    """
    lanes = n.shape[0]
    dtype = n.dtype
    flip = s > 0.5
    q = jnp.where(flip, 1.0 - s, s)
    live = (n > 0.0) & (q > 0.0)
    big = live & (n * q >= _LARGE_MEAN)
    small = live & ~big
    q_small = jnp.where(small, q, 0.0)
    n_big, q_big = jnp.where(big, n, 2.0 * _BTRS_MIN_MEAN), jnp.where(big, q, 0.5)

    step = jnp.broadcast_to(jnp.asarray(step, jnp.uint32), (lanes,))

    def uniforms(j, r):  # of the lanes j
        return rng.uniform_pairs(jnp.take(lane_seed, j, axis=0), jnp.take(step, j),
                                 jnp.asarray(r, jnp.uint32), dtype)

    x_small = _rounds.stored(jnp.any(small), lambda: _inversion_steps(rng.uniform_pairs(
        lane_seed, step, jnp.uint32(0), dtype)[0], n, q_small, _UNROLLED_STEPS), jnp.zeros_like(n))
    cap = _rounds.buffer(lanes // _SPARSE)

    def inversion(j, pad):
        u = uniforms(j, 0)[0]
        return _binomial_inversion(u, jnp.take(n, j), jnp.take(q_small, j), ~pad)

    if paths.late:
        late = x_small > _UNROLLED_STEPS
        x_small = jnp.where(late, _finish(late, inversion, cap, dtype), x_small)
    if not paths.btrs:
        return jnp.where(flip, n - x_small, x_small)

    def btrs(j, r):
        return _btrs_candidate(jnp.take(n_big, j), jnp.take(q_big, j), *uniforms(j, r))

    def btrs_first(j, pad):  # rounds 0 and 1 (see above)
        x = btrs(j, 0)
        return jnp.where(pad, 0.0, jnp.where(x < 0.0, btrs(j, 1), x))

    x_big = _finish(big, btrs_first, _rounds.buffer(lanes // _BIG), dtype)
    late = x_big < 0.0
    x_big = jnp.where(late, _redraw(late, btrs, cap, dtype, first=2), x_big)
    x = jnp.where(big, x_big, x_small)
    return jnp.where(flip, n - x, x)


def _btrs_candidate(n, q, u, v):
    """One BTRS candidate from the uniforms ``u, v``: the count if accepted, else −1.

    The constants are recomputed with the candidate: fused into one loop this is cheaper on
    CPU than storing them (XLA stores an expensive value used by several loops)."""
    k, accept = _btrs_propose(_btrs_prepare(n, q), u, v)
    return jnp.where(accept, k, -1.0)


def _inversion_steps(u, n, q, steps):
    """Inversion cut after ``steps`` steps: ``#{k ≤ steps : U ≥ F(k)}`` capped at ``n`` (the
    count :func:`_binomial_inversion` finds), or ``steps + 1`` where ``U ≥ F(steps)`` and
    ``n > steps`` (not found yet; the caller finishes those)."""
    r = q / (1.0 - q)
    pk = jnp.exp(n * jnp.log1p(-q))
    f = pk
    x = (u >= f).astype(q.dtype)
    for k in range(steps):
        pk = pk * r * ((n - k) * (1.0 / (k + 1.0)))
        f = f + pk
        x = x + (u >= f).astype(q.dtype)
    return jnp.minimum(x, n)


def _finish(todo, solve, cap, dtype):
    """``solve(j, pad)`` at the flat indices ``j`` where ``todo`` (0 elsewhere).

    More than ``cap`` of them: one pass over every lane in place (``pad = ~todo``), no gather.
    Else passes that gather up to ``cap`` of the remaining indices (padding slots get ``pad``)
    and scatter back their values; nothing runs when ``todo`` is empty.  A lane's value depends
    only on its own index, so both give the same counts.
    """
    size = todo.shape[0]
    lanes = jnp.arange(size, dtype=jnp.int32)

    def gathered(state):
        out, todo = state
        idx = _rounds.nonzero(todo, cap)
        value = solve(jnp.minimum(idx, size - 1), idx >= size)
        dest = jnp.where(idx < size, idx, size)
        return out.at[dest].set(value, mode="drop"), todo.at[dest].set(False, mode="drop")

    def in_place(state):
        out, todo = state
        return jnp.where(todo, solve(lanes, ~todo), out), jnp.zeros_like(todo)

    def body(state):
        many = jnp.sum(state[1].astype(jnp.float32)) > cap
        return jax.lax.cond(many, in_place, gathered, state)

    state = (jnp.zeros(size, dtype), todo)
    return jax.lax.while_loop(lambda st: jnp.any(st[1]), body, state)[0]


def _redraw(todo, candidate, cap, dtype, first):
    """Rejection rounds ``first, first + 1, …`` for the lanes ``todo``: ``candidate(j, r)``
    is round ``r``'s value of the lanes ``j``, or −1 if rejected; each lane keeps its first
    accepted value.

    While more than ``cap`` lanes are left, a pass over every lane in place tries one round
    and looks again (looping in place until every lane is done ran the whole pool through as
    many rounds as its unluckiest lane needs); then the rest are gathered into a buffer of
    ``cap`` lanes, which runs the following rounds until done.  All lanes left have tried the
    same rounds, so a lane's value depends only on its own candidates.
    """
    size = todo.shape[0]
    lanes = jnp.arange(size, dtype=jnp.int32)

    def in_place(state):
        out, todo, r = state
        value = candidate(lanes, r)
        done = todo & (value >= 0.0)
        return jnp.where(done, value, out), todo & ~done, r + 1

    def gathered(state):
        out, todo, r = state
        idx = _rounds.nonzero(todo, cap)
        j = jnp.minimum(idx, size - 1)

        def more(inner):
            r, value = inner
            return r + 1, jnp.where(value < 0.0, candidate(j, r), value)

        inner = (r, jnp.where(idx >= size, 0.0, -1.0).astype(dtype))
        r, value = jax.lax.while_loop(lambda st: jnp.any(st[1] < 0.0), more, inner)
        dest = jnp.where(idx < size, idx, size)
        return out.at[dest].set(value, mode="drop"), todo.at[dest].set(False, mode="drop"), r

    def body(state):
        many = jnp.sum(state[1].astype(jnp.float32)) > cap
        return jax.lax.cond(many, in_place, gathered, state)

    state = (jnp.zeros(size, dtype), todo, jnp.uint32(first))
    return jax.lax.while_loop(lambda st: jnp.any(st[1]), body, state)[0]
