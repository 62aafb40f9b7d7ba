"""Shared machinery of the samplers: argument checks and rejection rounds with compaction
across a ``vmap`` batch (package-internal; random words come from :mod:`collapse_theory.rng`)."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import rng


#: Lanes per group: rejection rounds find the groups holding a lane to redo (``O(L / GROUP)``).
GROUP = 32


def buffer(n: int, per: int = 1) -> int:
    """Units of ``per`` lanes in a gathered buffer that serves up to ``n`` units: the fewest
    ``≥ max(n, 1)`` that make a multiple of :data:`collapse_theory.rng.LANES` lanes.

    XLA:CPU compiles elementwise code for small or odd sizes apart from its vector loop (a
    Marsaglia–Tsang candidate of 1 too), and rounds differently there.  A lane's value must not
    depend on the size of the buffer that served it, which the batch (so the device count)
    decides.
    """
    step = rng.LANES // math.gcd(per, rng.LANES)
    return step * max(1, -(-n // step))


def _of_kind(dtype, kind, what: str):
    """``dtype`` as a numpy dtype, which must be a sub-dtype of ``kind``."""
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, kind):
        raise TypeError(f"dtype must be {what} dtype, got {dtype}")
    return dtype


def check_int_dtype(dtype):
    """An integer dtype (default: the package's)."""
    return rng.int_dtype() if dtype is None else _of_kind(dtype, jnp.integer, "an integer")


def check_real_dtype(dtype):
    """A floating dtype (default: the package's), canonicalized for the JAX precision."""
    if dtype is None:
        return rng.float_dtype()
    return jax.dtypes.canonicalize_dtype(_of_kind(dtype, jnp.floating, "a floating"))


def max_exact_count(ftype) -> int:
    return 2 ** (jnp.finfo(ftype).nmant + 1)


def concrete(x):
    """``x`` as a numpy array if it is known at trace time, else ``None``."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _real_array(name: str, x, must: str):
    """``x`` as an array of integer or floating dtype (else ``TypeError``: ``name`` must
    ``must``) and its concrete value (``None`` when traced)."""
    x = jnp.asarray(x)
    if not (jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)):
        raise TypeError(f"{name} must {must}, got dtype {x.dtype}")
    return x, concrete(x)


def _within(name: str, x, ftype, valid, must: str, or_: str):
    """A real array (possibly traced) as ``ftype``; its concrete values must pass ``valid``."""
    x, value = _real_array(name, x, "be real")
    if value is not None and value.size and not valid(value):
        raise ValueError(f"{name} must {must}, got values in [{np.nanmin(value)}, "
                         f"{np.nanmax(value)}] (or {or_})")
    return x.astype(ftype)


def check_counts(name: str, n, ftype):
    """Validate a (possibly traced) count array; returns it as floats holding integers."""
    n, value = _real_array(name, n, "hold integers")
    if value is not None and value.size:
        limit = max_exact_count(ftype)
        if np.issubdtype(value.dtype, np.floating) and not np.all(value == np.round(value)):
            raise ValueError(f"{name} must hold integers, got {value.ravel()[:5].tolist()}...")
        if value.min() < 0:
            raise ValueError(f"{name} must be >= 0, got {value.min()}")
        if value.max() > limit:
            raise ValueError(f"{name} must be <= {limit} (exact integers in {jnp.dtype(ftype).name}; "
                             f"enable jax_enable_x64 for larger counts), got {value.max()}")
    return n.astype(ftype)


def check_probability(name: str, p, ftype):
    """A real array (possibly traced); concrete values must lie in ``[0, 1]``."""
    return _within(name, p, ftype, lambda v: np.all(v >= 0) and np.all(v <= 1), "lie in [0, 1]",
                   "NaN")


def out_shape(name: str, shape, *arrays):
    if shape is None:
        return jnp.broadcast_shapes(*(a.shape for a in arrays))
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    try:
        jnp.broadcast_shapes(shape, *(a.shape for a in arrays))
    except ValueError:
        raise ValueError(f"{name}={shape} is not compatible with the parameter shapes "
                         f"{[a.shape for a in arrays]}") from None
    return shape


def positive(name: str, x, ftype):
    """A real array (possibly traced); concrete values must be finite and > 0."""
    return _within(name, x, ftype, lambda v: np.all(np.isfinite(v)) and np.all(v > 0),
                   "be finite and > 0", "NaN/inf")


#: Counter word ``c0`` of per-lane seeds (dense streams use small ``c0``).
LANE = 0x80000000
#: The layout of a rejected lane's stream (:func:`candidate_uniforms`); a pass in place tries
#: a round of candidates at once.
PER_ROUND = 2


def candidate_uniforms(lane_seed, i, dtype):
    """The uniform pair of candidate ``i`` (uint32) of the lanes ``lane_seed``: the counters
    ``(i // PER_ROUND, i % PER_ROUND)``, round ``i // PER_ROUND``'s slot ``i % PER_ROUND``."""
    per = jnp.uint32(PER_ROUND)
    return rng.uniform_pairs(lane_seed, i // per, i % per, dtype)


# --------------------------------------------------------------------------------------------
# Vectorised rejection in compacted rounds


def rejection_rounds(lane_seed, todo, params, prepare, propose):
    """Rejection sampling for the lanes ``todo`` (flat ``(L,)``) in compacted rounds.

    Lane ``e`` draws its candidates ``i = 0, 1, …`` under ``lane_seed(e)``
    (:func:`candidate_uniforms`) and keeps its first accepted candidate, so its value does not
    depend on the other lanes.  Each pass serves every lane still to do: in place while they
    are many (``PER_ROUND`` candidates, then it looks again), else gathered into the smallest
    buffer of ``L // 256``, ``L // 16`` or ``L // 4`` lanes (:func:`buffer`) that holds them,
    one candidate a step for at least a round and until a quarter of the buffer is left (the
    smallest: until done), and scattered back.  A gathered pass thus holds one copy of
    ``propose`` in the compiled program (Gaussian chains compile in ~0.8× the time of rounds
    of two, ``benchmarks/RESULTS.md``, stop 41); in place, one candidate a round made BTRS
    0.7× as fast, and so did gathered passes of one step.  Gathering is two-level
    (:func:`compact`): the groups of :data:`GROUP` lanes that hold one, then the lanes within
    them, so a sparse ``todo`` costs ``O(L / GROUP)``, not ``O(L)``.
    ``prepare(*params) -> consts`` (per lane), ``propose(consts, u, v) -> (values, accepted)``
    with ``u, v`` uniforms of shape ``(lanes,)``.  A param is ``(L,)`` or a scalar shared by
    every lane (prepared at its own shape, not per lane).  Lanes not in ``todo`` give 0.
    """
    lanes = todo.shape[0]
    dtype = params[0].dtype
    if lanes == 0:
        return jnp.zeros(0, dtype)
    groups = -(-lanes // GROUP)
    # (groups, lanes) a gathered pass holds: few lanes in few groups, or up to L/16 or L/4
    # anywhere.
    levels = sorted({(max(1, groups // 16), buffer(lanes // 256)), (groups, buffer(lanes // 16)),
                     (groups, buffer(lanes // 4))})
    per = jnp.uint32(PER_ROUND)

    def candidate(seeds, consts, i):
        """Candidate ``i`` as a ``(lanes,)`` array (XLA:CPU ran a trailing candidate axis of
        size 2 at a fraction of the speed), in a computation of its own (:func:`stored`: fused
        with the selections that follow, a BTRS round took 2× as long); ``i`` is never
        ``2³² − 1``, a condition XLA cannot fold."""
        none = (jnp.zeros(seeds.shape[:-1], dtype), jnp.zeros(seeds.shape[:-1], bool))
        return stored(i != jnp.uint32(0xFFFFFFFF), lambda: propose(
            consts, *candidate_uniforms(seeds, i, dtype)), none)

    def in_place(i, out, todo, counts):
        del counts
        consts = prepare(*params)
        seeds = lane_seed(jnp.arange(lanes, dtype=jnp.int32))
        v, ok = candidate(seeds, consts, i + per - 1)
        for j in range(PER_ROUND - 2, -1, -1):
            v_j, ok_j = candidate(seeds, consts, i + jnp.uint32(j))
            v, ok = jnp.where(ok_j, v_j, v), ok | ok_j
        return i + per, jnp.where(todo & ok, v, out), todo & ~ok

    def gathered(level, i, out, todo, counts):
        idx = compact(todo, counts, *level)
        j = jnp.minimum(idx, lanes - 1)
        consts = prepare(*(p if p.ndim == 0 else jnp.take(p, j) for p in params))
        seeds = lane_seed(j)

        def more(state):
            i, value, found = state
            v, ok = candidate(seeds, consts, i)
            return i + 1, jnp.where(found, value, v), found | ok

        stop = 0 if level == levels[0] else level[1] // 4

        def again(state):  # at least a round; the rest at the next pass's level once few
            left = jnp.sum((~state[2]).astype(jnp.float32))
            return (left > 0) & ((state[0] - i < per) | (left > stop))

        state = (i, jnp.zeros(idx.shape, dtype), idx >= lanes)
        i, value, found = jax.lax.while_loop(again, more, state)
        dest = jnp.where(found, idx, lanes)
        return i, out.at[dest].set(value, mode="drop"), todo.at[dest].set(False, mode="drop")

    def body(state):
        i, out, todo = state
        counts = group_counts(todo)
        n_groups = jnp.sum((counts > 0).astype(jnp.int32))
        n_lanes = jnp.sum(counts).astype(jnp.int32)
        fits = [(n_groups <= g) & (n_lanes <= n) for g, n in levels]
        branch = len(levels) - jnp.sum(jnp.cumsum(jnp.stack(fits).astype(jnp.int32)) > 0)
        passes = [functools.partial(gathered, level) for level in levels] + [in_place]
        return jax.lax.switch(branch, passes, i, out, todo, counts)

    state = (jnp.uint32(0), jnp.zeros(lanes, dtype), todo)
    return jax.lax.while_loop(lambda s: jnp.any(s[2]), body, state)[1]


def stored(pred, fn, otherwise):
    """``fn()`` if ``pred`` else ``otherwise``, as a stored array.

    The branch of a ``cond`` is its own computation, so XLA cannot fuse (and so duplicate or
    split) the long chains of cheap operations of ``fn`` into each of its consumers.
    """
    return jax.lax.cond(pred, fn, lambda: otherwise)


def group_counts(mask):
    """Set entries of the flat ``mask`` in each group of :data:`GROUP` (float32: XLA:CPU sums
    floats ~3× faster than it reduces booleans)."""
    lanes = mask.shape[0]
    padded = jnp.pad(mask.astype(jnp.float32), (0, -lanes % GROUP))
    return jnp.sum(padded.reshape(-1, GROUP), axis=1)


def compact(mask, counts, n_groups: int, size: int):
    """Indices of the set entries of the flat ``mask``, in order, padded to ``size`` with
    ``len(mask)``, given ``counts = group_counts(mask)`` and that they lie in at most
    ``n_groups`` groups and number at most ``size``: the groups holding one first
    (:func:`nonzero`), then the entries within them (a ``GROUP × GROUP`` prefix product)."""
    lanes, groups = mask.shape[0], counts.shape[0]
    g = (jnp.arange(groups, dtype=jnp.int32) if n_groups >= groups
         else nonzero(counts > 0, n_groups))
    lane = g[:, None] * GROUP + jnp.arange(GROUP, dtype=jnp.int32)
    inside = (lane < lanes) & jnp.take(mask, jnp.minimum(lane, lanes - 1))
    within = jnp.matmul(inside.astype(jnp.float32), jnp.triu(jnp.ones((GROUP, GROUP), jnp.float32)),
                        precision=jax.lax.Precision.HIGHEST).astype(jnp.int32)
    per = within[:, -1]
    rank = within + (jnp.cumsum(per) - per)[:, None] - 1
    dest = jnp.where(inside, rank, size).reshape(-1)
    return jnp.full(size, lanes, jnp.int32).at[dest].set(lane.reshape(-1), mode="drop")


def nonzero(mask, size, block=128):
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


def compacted_sampler(prepare, propose):
    """``f(seed, todo, *params)``: rejection samples where ``todo`` (0 elsewhere).

    Element ``e`` (flat index) hashes its own seed from ``(LANE, e)`` under ``seed``.
    Each param broadcasts to ``todo``; one holding a single value stays a scalar (the same
    for every lane, see :func:`rejection_rounds`).  Under ``vmap`` all members' elements form
    one pool of lanes (member ``b`` using ``seed[b]``), so the rounds are compacted across the
    batch and each member still gets exactly what it would get alone.
    """

    def lanes(p, shape):
        return p.reshape(()) if p.size == 1 else jnp.broadcast_to(p, shape).reshape(-1)

    def flat(lane_seed, todo, params):
        params = tuple(lanes(p, todo.shape) for p in params)
        return rejection_rounds(lane_seed, todo.reshape(-1), params, prepare,
                                propose).reshape(todo.shape)

    def seeds(seed, e):
        return jnp.stack(rng.words(seed, jnp.uint32(LANE), e), axis=-1)

    @jax.custom_batching.custom_vmap
    def sample(seed, todo, *params):
        return flat(lambda j: seeds(seed, j), todo, params)

    @sample.def_vmap
    def sample_batched(axis_size, in_batched, seed, todo, *params):
        seed_b, todo_b, *params_b = in_batched
        if not todo_b:
            todo = jnp.broadcast_to(todo, (axis_size,) + todo.shape)

        def pooled(p, batched):
            if not batched:  # shared by every member: a single value stays a scalar
                return p if p.size == 1 else jnp.broadcast_to(p, todo.shape)
            # one row per member, its shape right-aligned with the member's
            p = p.reshape(p.shape[:1] + (1,) * (todo.ndim - p.ndim) + p.shape[1:])
            return jnp.broadcast_to(p, todo.shape)

        params = [pooled(p, b) for p, b in zip(params, params_b)]
        size = math.prod(todo.shape[1:])

        def lane_seed(j):
            member = j // size
            return seeds(seed[member] if seed_b else seed, j % size)

        return flat(lane_seed, todo, params), True

    return sample


