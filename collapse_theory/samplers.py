r"""Exact samplers for the chains: binomial, multinomial, gamma / χ² and the Bartlett factor.

``jax.random`` evaluates every branch of its binomial for every element, each in a per-element
``while_loop`` (so every lane waits for the slowest), returns float counts from its multinomial,
and its gamma is several times slower than numpy's.  The samplers here are exact (up to the
floating-point rounding of their acceptance tests) and organised for vector hardware:

* **inversion** (binomial with mean ``n·min(p, 1−p) < 10``) steps all elements through
  ``k = 0, 1, ...`` together: a handful of flops per step and one uniform per element;
* **rejection** (BTRS for larger binomial means, Marsaglia–Tsang for gamma) runs in *rounds*.
  Each round takes the elements still unresolved, gathers them into a compact buffer (sizes
  ``L/16`` or ``L`` of the ``L`` lanes, chosen by ``lax.switch`` on their number), draws a few
  candidates for each at once and scatters back the accepted ones.  The work of a round is
  that of the elements it serves, so a batch pays neither for the branch it does not need nor
  for waiting on its slowest lane.  Under ``vmap`` the compaction spans the whole batch
  (``jax.custom_batching.custom_vmap``), and element ``e`` of batch member ``b`` hashes its
  own seed from ``(salt, e)`` under member ``b``'s key, drawing its ``r``-th round from it:
  results depend only on each member's own key and inputs, ``vmap(f)(keys)[b] == f(keys[b])``;
* random words come from Threefry-2x32 on explicit counters, written out in ``jnp``
  (bit-identical to ``jax.random``'s hash, ~5× faster on CPU than its rolled-loop lowering);
* counts are carried as floats holding exact integers (``n ≤ 2**24`` in float32,
  ``n ≤ 2**53`` in float64) and returned as integers.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate

#: Binomial means ``n·min(p, 1−p)`` at or above this use BTRS (Hörmann 1993 requires ≥ 10).
_BTRS_MIN_MEAN = 10.0
#: Candidates per element per rejection round.
_BTRS_CANDIDATES = 2
_GAMMA_FIRST_CANDIDATES = 1
_GAMMA_CANDIDATES = 2
#: Sequential-search steps per ``while_loop`` iteration of binomial inversion.
_INVERSION_STEPS = 8
#: Compact buffers hold ``L // _BUCKET**k`` lanes, ``k < _LEVELS`` (each level compiles the
#: proposal once more).
_BUCKET = 16
_LEVELS = 2

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


def _positive(name: str, x, ftype):
    """A real array (possibly traced); concrete values must be finite and > 0."""
    x = jnp.asarray(x)
    if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
        raise TypeError(f"{name} must be real, got dtype {x.dtype}")
    value = _concrete(x)
    if value is not None and value.size and not (np.all(np.isfinite(value)) and np.all(value > 0)):
        raise ValueError(f"{name} must be finite and > 0, got values in [{np.nanmin(value)}, "
                         f"{np.nanmax(value)}] (or NaN/inf)")
    return x.astype(ftype)


# --------------------------------------------------------------------------------------------
# Random words: Threefry-2x32 on explicit counters


#: Counter word ``c0`` of per-lane seeds (dense streams use small ``c0``).
_LANE = 0x80000000
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _seed(key):
    """A ``uint32[2]`` Threefry key from a ``jax.random`` key (its own data for threefry keys).

    Samplers hash explicit counters ``(c0, c1)`` with it (:func:`_hash`), two independent
    words per block: ``jax.random.uniform`` spends a block per word.
    """
    if str(jax.random.key_impl(key)) == "threefry2x32":
        return jax.random.key_data(key)
    return jax.random.bits(key, (2,), jnp.uint32)


def _hash(seed, c0, c1):
    """Threefry-2x32 (20 rounds; Salmon et al. 2011) of the counters ``(c0, c1)`` under
    ``seed`` (``(..., 2)``): two words, bit-identical to ``jax.random``'s ``threefry2x32``.

    Written out in ``jnp`` so that XLA fuses it: on CPU the primitive lowers to a rolled
    loop over its rounds and is ~5× slower.
    """
    x0, x1, k0, k1 = jnp.broadcast_arrays(jnp.asarray(c0, jnp.uint32), jnp.asarray(c1, jnp.uint32),
                                          seed[..., 0], seed[..., 1])
    keys = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
    x0, x1 = x0 + k0, x1 + k1
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = ((x1 << r) | (x1 >> (32 - r))) ^ x0
        x0 = x0 + keys[(i + 1) % 3]
        x1 = x1 + keys[(i + 2) % 3] + jnp.uint32(i + 1)
    return x0, x1


def _unit(words, dtype):
    """Uniforms on ``[0, 1)`` from a pair of words (float32: two uniforms; float64: one)."""
    if jnp.finfo(dtype).bits == 32:
        return tuple(jax.lax.bitcast_convert_type((w >> 9) | jnp.uint32(0x3F800000), jnp.float32)
                     - 1.0 for w in words)
    hi, lo = (w.astype(jnp.uint64) for w in words)
    bits = (((hi << 32) | lo) >> 12) | jnp.uint64(0x3FF0000000000000)
    return (jax.lax.bitcast_convert_type(bits, jnp.float64) - 1.0,)


def _uniform_pairs(seed, c0, c1, dtype):
    """Two independent uniform arrays for the counters ``(c0, c1)`` (one or two blocks each)."""
    if jnp.finfo(dtype).bits == 32:
        return _unit(_hash(seed, c0, c1), dtype)
    c1 = jnp.asarray(c1, jnp.uint32) * 2
    return _unit(_hash(seed, c0, c1), dtype) + _unit(_hash(seed, c0, c1 + 1), dtype)


def _uniform(seed, stream: int, shape, dtype):
    """Uniforms on ``[0, 1)`` of ``shape`` from the dense stream ``c0 = stream``.

    One block per element (float32 keeps its first word): splitting blocks between elements
    needs a concatenation that costs more than the hash on CPU.
    """
    count = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
    return _unit(_hash(seed, stream, count), dtype)[0]


def _to_normal(u):
    """``N(0, 1)`` from uniforms on the ``[0, 1)`` grid (shifted half a step: never ±∞)."""
    return math.sqrt(2.0) * jax.lax.erf_inv(2.0 * u - 1.0 + jnp.finfo(u.dtype).eps)


# --------------------------------------------------------------------------------------------
# Vectorised rejection in compacted rounds


def _pick(values, ok):
    """The first accepted candidate along the (short) last axis and whether there is one.

    Selects from the last candidate to the first: no gather (``argmax`` + ``take`` costs
    ~40 ns per element on CPU).
    """
    value = values[..., -1]
    for j in range(values.shape[-1] - 2, -1, -1):
        value = jnp.where(ok[..., j], values[..., j], value)
    return value, jnp.any(ok, axis=-1)


def _rejection_rounds(lane_seed, todo, params, prepare, propose, candidates):
    """Rejection sampling for the lanes ``todo`` (flat ``(L,)``) in compacted rounds.

    Each pass gathers the unresolved lanes into the smallest buffer that holds them
    (``L // 16`` or ``L`` lanes), draws ``candidates`` uniform pairs per lane from the counters
    ``(r, j)`` under ``lane_seed(lane)`` (``r`` the lane's round), and scatters back the
    first accepted candidate.  The full buffer runs one round per pass; the small one runs
    rounds until all its lanes are done, so the ``O(L)`` gather and scatter happen about
    twice whatever the acceptance rate.  ``prepare(*params) -> consts`` (per lane),
    ``propose(consts, u, v) -> (values, accepted)`` with ``u, v`` uniforms of shape
    ``(lanes, candidates)``.  Lanes not in ``todo`` give 0.
    """
    lanes = todo.shape[0]
    dtype = params[0].dtype
    caps = sorted({max(1, lanes // _BUCKET ** k) for k in range(_LEVELS)})
    slots = jnp.arange(candidates, dtype=jnp.uint32)

    def one_round(seeds, consts, r):
        return _pick(*propose(consts, *_uniform_pairs(seeds[:, None, :], r, slots, dtype)))

    def run(cap, r, out, todo):
        idx = _nonzero(todo, cap)
        j = jnp.minimum(idx, lanes - 1)
        consts = tuple(c[:, None] for c in prepare(*(jnp.take(p, j) for p in params)))
        seeds = lane_seed(j)

        def more(state):
            r, value, found = state
            v, ok = one_round(seeds, consts, r)
            return r + 1, jnp.where(found, value, v), found | ok

        state = (r, jnp.zeros(cap, dtype), idx >= lanes)
        if cap == caps[-1]:  # the full buffer: one round, then compact again
            state = more(state)
        else:  # a small buffer: finish its lanes here
            state = jax.lax.while_loop(lambda s: ~jnp.all(s[2]), more, state)
        r, value, found = state
        dest = jnp.where(found & (idx < lanes), idx, lanes)
        return r, out.at[dest].set(value, mode="drop"), todo.at[dest].set(False, mode="drop")

    def body(state):
        r, out, todo = state
        branch = jnp.sum(jnp.sum(todo) > jnp.asarray(caps[:-1], jnp.int32)) if len(caps) > 1 else 0
        return jax.lax.switch(branch, [lambda *a, c=c: run(c, *a) for c in caps], r, out, todo)

    state = (jnp.uint32(0), jnp.zeros(lanes, dtype), todo)
    return jax.lax.while_loop(lambda s: jnp.any(s[2]), body, state)[1]


def _nonzero(mask, size, block=128):
    """Indices of the first ``size`` set entries of the flat ``mask``, padded with ``len(mask)``.

    ``jnp.nonzero`` with the prefix sum as a matrix product within blocks of 128 and a
    ``cumsum`` over the blocks: on CPU as fast as ``associative_scan`` and 4× quicker to compile
    (``cumsum`` alone is 2× slower to run).
    """
    lanes = mask.shape[0]
    pad = -lanes % block
    within = jnp.matmul(jnp.pad(mask, (0, pad)).reshape(-1, block).astype(jnp.float32),
                        jnp.triu(jnp.ones((block, block), jnp.float32)),
                        precision=jax.lax.Precision.HIGHEST)
    within = within.astype(jnp.int32)
    totals = within[:, -1]
    rank = (within + (jnp.cumsum(totals) - totals)[:, None]).reshape(-1)[:lanes] - 1
    dest = jnp.where(mask, rank, size)
    return jnp.full(size, lanes, jnp.int32).at[dest].set(jnp.arange(lanes, dtype=jnp.int32),
                                                         mode="drop")


def _compacted_sampler(prepare, propose, candidates):
    """``f(seed, salt, todo, *params)``: rejection samples where ``todo`` (0 elsewhere).

    Element ``e`` (flat index) hashes its own seed from ``(_LANE | salt, e)`` under ``seed``.
    Under ``vmap`` all members' elements form one pool of lanes (member ``b`` using
    ``seed[b]``), so the rounds are compacted across the batch and each member still gets
    exactly what it would get alone.
    """

    def flat(lane_seed, todo, params):
        return _rejection_rounds(lane_seed, todo.reshape(-1), tuple(p.reshape(-1) for p in params),
                                 prepare, propose, candidates).reshape(todo.shape)

    def seeds(seed, salt, e):
        return jnp.stack(_hash(seed, jnp.uint32(_LANE) | salt, e), axis=-1)

    @jax.custom_batching.custom_vmap
    def sample(seed, salt, todo, *params):
        return flat(lambda j: seeds(seed, salt, j), todo, params)

    @sample.def_vmap
    def sample_batched(axis_size, in_batched, seed, salt, todo, *params):
        seed_b, salt_b, todo_b, *params_b = in_batched
        todo, *params = (x if b else jnp.broadcast_to(x, (axis_size,) + x.shape)
                         for x, b in zip((todo, *params), (todo_b, *params_b)))
        size = math.prod(todo.shape[1:])

        def lane_seed(j):
            member = j // size
            return seeds(seed[member] if seed_b else seed, salt[member] if salt_b else salt,
                         j % size)

        return flat(lane_seed, todo, params), True

    return sample


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
    seed = _seed(key)
    u = _uniform(seed, 0, shape, ftype)
    return _binomial_from(u, seed, jnp.uint32(0), n, p).astype(itype)


def _binomial_from(u, seed, salt, n, p):
    """Binomial counts (floats holding integers) from the inversion uniforms ``u``.

    BTRS lanes hash their seeds from ``(seed, salt)`` (see :func:`_compacted_sampler`).
    """
    flip = p > 0.5
    q = jnp.where(flip, 1.0 - p, p)
    n = jnp.maximum(n, 0.0)
    big = n * q >= _BTRS_MIN_MEAN
    small = _binomial_inversion(u, n, jnp.where(big, 0.0, q), ~big)
    large = _btrs(seed, salt, big, n, jnp.where(big, q, 0.5))
    x = jnp.where(big, large, small)
    return jnp.where(flip, n - x, x)


def _binomial_inversion(u, n, q, active):
    """Sequential search ``X = #{k : U ≥ F(k)} = min{k : U < F(k)}`` for ``n·q < 10``, ``q ≤ ½``.

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


_btrs = _compacted_sampler(_btrs_prepare, _btrs_propose, _BTRS_CANDIDATES)


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
    seed = _seed(key)
    u = _uniform(seed, 0, p.shape, p.dtype)

    def body(left, inp):
        i, u_i, p_i = inp
        x = _binomial_from(u_i, seed, i, left, p_i)
        return left - x, x

    _, counts = jax.lax.scan(body, n, (jnp.arange(k_cat, dtype=jnp.uint32), u, cond_p))
    return jnp.moveaxis(counts, 0, -1)


# --------------------------------------------------------------------------------------------
# Gamma and χ²


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
