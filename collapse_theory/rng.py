"""Counter-based random numbers: Threefry-2x32 words on explicit counters, the uniforms and
normals made from them, and uniform subsets drawn without replacement (:func:`subsample`).

A chain draws from a ``uint32[2]`` Threefry key (:func:`seed`) by hashing explicit counters
``(c0, c1)`` (:func:`words`): a draw depends only on the key and its counters, not on the
shape or batching of the computation around it, so blocks of generations, rows of a batch and
redrawn lanes can be laid out freely without changing any value.  The hash is written out in
``jnp`` and is bit-identical to ``jax.random``'s ``threefry2x32``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))

#: Arrays whose floats must not depend on their size hold a multiple of this many elements: the
#: engine's per-device batches and the samplers' gathered buffers.  XLA:CPU compiles elementwise
#: code for small or odd sizes apart from its vector loop (on AVX-512: float32 ``log``/``exp``
#: of 3, 5–7, 11 or 13–15 elements, ``log1p`` of 9) and rounds differently there, so a value
#: made from the same words would depend on the batch, and so on the device count.
LANES = 8


def float_dtype():
    """The default float dtype: float64 when ``jax_enable_x64`` is on, else float32."""
    return jnp.asarray(0.0).dtype


def int_dtype():
    """The default integer dtype: int64 when ``jax_enable_x64`` is on, else int32."""
    return jnp.asarray(0).dtype


def seed(key):
    """A ``uint32[2]`` Threefry key from a ``jax.random`` key (its own data for threefry keys).

    Draws hash explicit counters ``(c0, c1)`` with it (:func:`words`), two independent words
    per block: ``jax.random.uniform`` spends a block per word.
    """
    if str(jax.random.key_impl(key)) == "threefry2x32":
        return jax.random.key_data(key)
    return jax.random.bits(key, (2,), jnp.uint32)


def fold_in(keys, data):
    """``jax.random.fold_in`` elementwise, bit for bit: ``keys`` (a key array) and ``data``
    (uint32) broadcast against each other, as a chunk's trial keys fold its generation in and
    one key folds in every trial's index.

    A Threefry key's new data is :func:`words` of the counters ``(0, data)`` under its own
    (``fold_in`` hashes ``threefry_seed(data) = (0, data)``), hashed in fused ``jnp`` over the
    whole array: a chain's generation keys, every trial and generation, cost ~10–14 ns a key
    on CPU against ~30 ns through the primitive, whose rounds run as a rolled loop
    (``benchmarks/RESULTS.md``, stop 47).  Other key implementations go through
    ``jax.random.fold_in``.
    """
    impl = jax.random.key_impl(keys)
    data = jnp.asarray(data, jnp.uint32)
    shape = jnp.broadcast_shapes(keys.shape, data.shape)
    keys, data = jnp.broadcast_to(keys, shape), jnp.broadcast_to(data, shape)
    if str(impl) != "threefry2x32":
        fold = jax.random.fold_in
        for _ in range(keys.ndim):
            fold = jax.vmap(fold)
        return fold(keys, data)
    new = words(jax.random.key_data(keys), 0, data)
    return jax.random.wrap_key_data(jnp.stack(new, axis=-1), impl=impl)


def words(seed, c0, c1):
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


def unit(words, dtype):
    """Uniforms on ``[0, 1)`` from a pair of words (float32: two uniforms; float64: one)."""
    if jnp.finfo(dtype).bits == 32:
        return tuple(jax.lax.bitcast_convert_type((w >> 9) | jnp.uint32(0x3F800000), jnp.float32)
                     - 1.0 for w in words)
    hi, lo = (w.astype(jnp.uint64) for w in words)
    bits = (((hi << 32) | lo) >> 12) | jnp.uint64(0x3FF0000000000000)
    return (jax.lax.bitcast_convert_type(bits, jnp.float64) - 1.0,)


def uniform_pairs(seed, c0, c1, dtype):
    """Two independent uniform arrays for the counters ``(c0, c1)`` (one or two blocks each)."""
    if jnp.finfo(dtype).bits == 32:
        return unit(words(seed, c0, c1), dtype)
    c1 = jnp.asarray(c1, jnp.uint32) * 2
    return unit(words(seed, c0, c1), dtype) + unit(words(seed, c0, c1 + 1), dtype)


def uniform(seed, stream: int, shape, dtype):
    """Uniforms on ``[0, 1)`` of ``shape`` from the dense stream ``c0 = stream``.

    One block per element (float32 keeps its first word): splitting blocks between elements
    needs a concatenation that costs more than the hash on CPU.
    """
    count = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
    return unit(words(seed, stream, count), dtype)[0]


def to_normal(u):
    """``N(0, 1)`` from uniforms on the ``[0, 1)`` grid (shifted half a step: never ±∞)."""
    return math.sqrt(2.0) * jax.lax.erf_inv(2.0 * u - 1.0 + jnp.finfo(u.dtype).eps)


def normal_at(seed, c0, c1, dtype):
    """``N(0, 1)`` from the block at counters ``(c0, c1)`` under ``seed`` (float32: its first word)."""
    return to_normal(unit(words(seed, c0, c1), dtype)[0])


def normal(key, shape, dtype=None):
    """``N(0, 1)`` of ``shape`` from a ``jax.random`` key, counter ``(0, i)`` for element ``i``
    (row-major) under :func:`seed`: the same law as ``jax.random.normal``, hashed in fused
    ``jnp`` (on CPU 5–10× faster than ``jax.random.normal`` at shapes such as ``(100, 10)``)."""
    dtype = float_dtype() if dtype is None else dtype
    count = jnp.arange(math.prod(shape), dtype=jnp.uint32)
    return normal_at(seed(key), 0, count, dtype).reshape(shape)


def subsample(key, n, m, m_max: int, cap: int):
    """Row indices of a uniform ``m``-subset of ``0..n−1`` (``m ≤ n ≤ cap``, ``n`` and ``m``
    may be traced): the first ``m`` of the ``(m_max,)`` indices are the subset, in no particular
    order; the rest are padding (valid rows, to be given zero weight).

    Floyd's algorithm when ``m_max² ≤ 50 cap``: for ``j = n − m, …, n − 1`` draw ``t`` uniform on
    ``0..j`` and take ``t``, or ``j`` if ``t`` is taken already (``m_max`` draws and ``m_max²``
    compares, whatever ``n``).  Otherwise the ``m`` largest of ``cap`` i.i.d. uniforms over the
    ``n`` live rows (``cap`` draws): on CPU a compare costs about 1/50 of a uniform and its
    selection.  Both give each ``m``-subset probability ``1 / C(n, m)``.
    """
    n = jnp.asarray(n, int_dtype())
    if m_max * m_max > 50 * cap:
        u = jnp.where(jnp.arange(cap) < n, jax.random.uniform(key, (cap,)), -1.0)
        return jax.lax.top_k(u, m_max)[1]
    i = jnp.arange(m_max, dtype=n.dtype)
    j = n - m + i
    t = jax.random.randint(key, (m_max,), 0, jnp.maximum(j + 1, 1), dtype=n.dtype)

    def body(r, picked):
        taken = jnp.any((picked == t[r]) & (i < r))
        return picked.at[r].set(jnp.where(taken, j[r], t[r]))

    picked = jax.lax.fori_loop(0, m_max, body, jnp.zeros((m_max,), n.dtype))
    return jnp.clip(picked, 0, cap - 1)
