"""The generic chain engine shared by every model family.

A chain is a Markov process over generations ``g = 0, 1, ..., G``: ``state0`` is generation 0
(the original distribution D0) and ``step`` maps generation ``g - 1`` to ``g`` (the ``g``-th fit).
The engine runs ``trials`` independent copies of it:

* one ``lax.scan`` over generations, trials batched with ``vmap``;
* randomness: trial ``i`` uses ``k_i = fold_in(key, i)`` and generation ``g`` uses
  ``fold_in(k_i, g)``, so trial ``i`` depends only on ``(key, i)`` — the same whatever ``trials``,
  ``chunk_size``, the recorded generations or the device count.  A :class:`BlockStep` instead
  draws the noise of a block of generations at once from counters ``g`` under ``k_i``'s
  Threefry seed (no key derived per generation) and applies it one generation at a time;
* trials run in chunks of ``chunk_size`` (memory stays bounded), each chunk's trial axis is
  split over all visible devices, and generations run in blocks so that long runs can report
  progress;
* only the recorded generations are kept: a buffer of ``R + 1`` rows is carried through the scan
  and generation ``g`` is written to row ``slot[g]`` (``R`` for generations not recorded).
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, rng

PyTree = Any

#: Generations per block when the run is long enough to report progress.
_MIN_BLOCK = 256
_BLOCKS_FOR_PROGRESS = 20
#: Per-device batches are padded to a multiple of this many trials.
_LANES = 8
#: Memory one chunk of trials may hold (state, records and working buffers) by default.
CHUNK_BYTES = 1 << 28
#: Most trials in one chunk by default.
MAX_CHUNK = 65536


def record_generations(record, generations: int) -> np.ndarray:
    """The sorted recorded generations for ``record`` (see :func:`run_chain`)."""
    if record is None:
        return np.arange(generations + 1)
    if isinstance(record, str):
        _validate.choice("record", record, ("log",))
        if generations == 0:
            return np.zeros(1, dtype=np.int64)
        per_decade = 10
        num = 1 + math.ceil(per_decade * math.log10(generations)) if generations > 1 else 1
        gens = np.unique(np.round(np.geomspace(1, generations, max(num, 1))).astype(np.int64))
        return np.concatenate([[0], gens])
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        record = [record]
    arr = np.asarray(record)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"record must be None, 'log' or a non-empty list of generations, got {record!r}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"record must hold integer generations, got {arr.dtype} values {record!r}")
    if arr.min() < 0 or arr.max() > generations:
        raise ValueError(f"record generations must lie in [0, generations={generations}], got {record!r}")
    return np.unique(arr.astype(np.int64))


class BlockStep(NamedTuple):
    """A step whose randomness does not depend on the state, drawn ``rows`` generations at a time.

    ``apply(state, noise, x) -> state`` advances one trial by one generation (like a step,
    with the key replaced by that generation's noise).  ``draw(seeds, g, x) -> noise`` draws
    the noise of generations ``g`` (``(B,)`` uint32) for all trials of a batch at once
    (vectorised code, not vmapped): ``seeds`` ``(T, 2)`` uint32 are the trials' Threefry seeds
    (:func:`trial_seeds`), ``x`` the ``(B, ...)`` slices of ``xs``, and every leaf of ``noise``
    is ``(B, T, ...)``.  Trial ``t``'s noise must depend only on ``seeds[t]``, ``g`` and ``x``
    (counter-based words, per-lane rejection), so that results do not depend on the batch.
    ``rows > 1`` amortises per-draw work over more generations but keeps ``(B, T)`` noise in
    memory; 1 was fastest for the 1-D Gaussian on CPU.
    """

    draw: Callable[[jax.Array, jax.Array, PyTree], PyTree]
    apply: Callable[[PyTree, PyTree, PyTree], PyTree]
    rows: int = 1


def trial_seeds(keys) -> jax.Array:
    """``(T, 2)`` uint32 Threefry seeds of trial keys (their key data for threefry keys)."""
    return jax.vmap(rng.seed)(keys)


def trial_keys(key, start, count: int):
    """Keys of trials ``start .. start + count - 1``: ``fold_in(key, i)``."""
    idx = start + jnp.arange(count, dtype=jnp.uint32)
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, idx)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _chunk_inputs(key, start, count: int, n_dev: int, valid):
    """A chunk's trial keys and validity mask, made on the devices and split over them.

    Nothing is transferred from the host but two scalars, so this also works when the devices
    span several processes (``jax.distributed``).
    """
    keys = trial_keys(key, start, count)
    mask = jnp.arange(count) < valid
    shard = _trial_sharding(n_dev)
    if shard is not None:
        keys, mask = jax.lax.with_sharding_constraint((keys, mask), shard)
    return keys, mask


class Run(NamedTuple):
    """What :func:`run_chain` returns.

    Attributes:
      generation: ``(R,)`` int64 recorded generations.
      records: ``observe``'s pytree, each leaf ``(trials, R, ...)``.
      final: ``final(state)`` of the last generation, each leaf ``(trials, ...)`` (``None``
        unless asked).
    """

    generation: np.ndarray
    records: PyTree
    final: PyTree = None


class Summary(NamedTuple):
    """Streaming summaries of chosen statistics over trials, per recorded generation.

    Each field is a pytree shaped like the statistics, with a leading ``(R,)`` axis.
    ``mean``/``variance`` (ddof 1), ``minimum``/``maximum`` cover every trial (chunks merged by
    Chan et al.'s pairwise update in float64); ``sample`` holds the values of the first ``keep``
    trials, ``(R, keep, ...)``.  Trials are i.i.d., so that is a uniform sample and
    :meth:`quantile` has the Dvoretzky–Kiefer–Wolfowitz guarantee
    ``P(sup|F̂ − F| > ε) ≤ 2 exp(−2 keep ε²)`` (ε ≈ 0.02 at 95 % for keep = 4096).
    """

    generation: np.ndarray
    count: int
    mean: PyTree
    variance: PyTree
    minimum: PyTree
    maximum: PyTree
    sample: PyTree

    def quantile(self, q) -> PyTree:
        """Empirical quantiles ``q`` of every statistic, shape ``(len(q), R, ...)``."""
        return jax.tree.map(lambda s: np.quantile(s, q, axis=1), self.sample)


def run_chain(
    key,
    *,
    state0: PyTree,
    step: Callable[[jax.Array, PyTree, PyTree], PyTree],
    observe: Callable[[PyTree], PyTree],
    generations: int,
    trials: int,
    xs: PyTree,
    record=None,
    first_step: Callable[[jax.Array, PyTree, PyTree], PyTree] | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
    label: str = "chain",
    final: Callable[[PyTree], PyTree] | None = None,
    trial_bytes: int = 0,
) -> Run:
    """Run ``trials`` independent chains and return their :class:`Run`.

    Args:
      key: a ``jax.random.key``.
      state0: generation 0 (D0), a pytree of arrays shared by every trial.
      step: ``step(key, state, x) -> state``, generation ``g - 1 -> g``, where ``x`` is the
        ``(g-1)``-th slice of ``xs`` (per-generation inputs such as the sample size ``M_g``);
        or a :class:`BlockStep` (noise drawn for blocks of generations at once).
      observe: ``observe(state) -> pytree`` of what is recorded.
      generations: ``G``, the number of fits.
      trials: number of independent chains.
      xs: pytree of arrays with leading axis ``G``.
      record: ``None`` (every generation), ``"log"`` (0 and log-spaced generations, ten per
        decade) or a sequence of generations in ``[0, G]``.
      first_step: a different step for generation 1 (e.g. a fit on non-Gaussian real data).
      chunk_size: trials per chunk (default: as many as :data:`CHUNK_BYTES` of state,
        records and ``trial_bytes`` allow, at most 65536).
      progress: print progress to stderr.
      final: ``final(state) -> pytree`` kept from each trial's last generation.
      trial_bytes: a trial's working memory beyond its state and records (e.g. a batch of
        points drawn inside ``step``), for the default ``chunk_size``.

    Compiled code is cached on ``(step, first_step, observe)`` and the shapes, so a family that
    passes the same function objects (e.g. built by an ``lru_cache``'d factory) compiles once.

    """
    plan = _Plan(generations, trials, record, xs, step, first_step, chunk_size, progress,
                 state0, observe, extra=trial_bytes)
    outputs, finals = [], []
    for keep, buf, state in plan.chunks(key, state0, step, first_step, observe, label,
                                        summary=0):
        outputs.append(jax.tree.map(lambda a: jnp.swapaxes(a[:plan.n_rec, :keep], 0, 1), buf))
        if final is not None:
            finals.append(jax.tree.map(lambda a: a[:keep], jax.vmap(final)(state)))
    cat = lambda parts, axis: parts[0] if len(parts) == 1 else jax.tree.map(  # noqa: E731
        lambda *a: jnp.concatenate(a, axis=axis), *parts)
    return Run(plan.gens, cat(outputs, 0), cat(finals, 0) if final is not None else None)


def summarize_chain(key, *, state0, step, observe, generations, trials, xs, record="log",
                    first_step=None, chunk_size=None, keep: int = 4096, progress=False,
                    label: str = "chain", trial_bytes: int = 0) -> Summary:
    """Like :func:`run_chain`, but keep only streaming :class:`Summary` statistics.

    ``observe(state)`` returns the statistics to summarise (float arrays).  Memory is
    ``O(chunk × state + R × keep)``: independent of the number of trials and, with ``record``
    fixed (e.g. ``"log"``), nearly independent of the number of generations.  Per-trial values
    are the same as :func:`run_chain`'s for the same key.
    """
    keep = _validate.integer("keep", keep, minimum=1)
    plan = _Plan(generations, trials, record, xs, step, first_step, chunk_size, progress,
                 state0, observe, keep=keep, extra=trial_bytes)
    keep_chunk = min(keep, plan.chunk_size)
    total, acc, samples = 0, None, []
    for valid, buf, _ in plan.chunks(key, state0, step, first_step, observe, label,
                                  summary=keep_chunk):
        mean, m2, lo, hi, sample = jax.tree.map(
            lambda a: np.asarray(a[:plan.n_rec], np.float64), buf,
            is_leaf=lambda x: isinstance(x, jax.Array))
        if total < keep:
            samples.append(jax.tree.map(lambda a: a[:, :min(valid, keep - total)], sample))
        part = (valid, mean, m2, lo, hi)
        acc = part if acc is None else _merge(acc, part)
        total += valid
    n, mean, m2, lo, hi = acc
    sample = samples[0] if len(samples) == 1 else jax.tree.map(
        lambda *a: np.concatenate(a, axis=1), *samples)
    variance = jax.tree.map(lambda v: v / max(n - 1, 1), m2)
    return Summary(plan.gens, n, mean, variance, lo, hi, sample)


def _merge(a, b):
    """Chan, Golub & LeVeque's pairwise update of (count, mean, M2, min, max)."""
    na, mean_a, m2_a, lo_a, hi_a = a
    nb, mean_b, m2_b, lo_b, hi_b = b
    n = na + nb
    delta = jax.tree.map(lambda x, y: y - x, mean_a, mean_b)
    mean = jax.tree.map(lambda x, d: x + d * nb / n, mean_a, delta)
    m2 = jax.tree.map(lambda x, y, d: x + y + d * d * na * nb / n, m2_a, m2_b, delta)
    return (n, mean, m2, jax.tree.map(np.minimum, lo_a, lo_b), jax.tree.map(np.maximum, hi_a, hi_b))


def physical_memory() -> int | None:
    """Bytes of memory on this machine (``None`` where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def shape_of(fn: Callable, *args):
    """``jax.eval_shape(fn, *args)``, memoised on ``fn`` (by identity: pass a long-lived
    function, not a fresh lambda), the shapes and dtypes of ``args``'s leaves and whether x64 is
    on.  Tracing costs about a millisecond per call, which small runs would otherwise pay on
    every call."""
    leaves, treedef = jax.tree.flatten(args)
    avals = tuple(jax.ShapeDtypeStruct(np.shape(a), a.dtype if hasattr(a, "dtype")
                                       else np.result_type(a)) for a in leaves)
    return _shape_of(fn, treedef, avals, jax.config.jax_enable_x64)


@functools.lru_cache(maxsize=512)
def _shape_of(fn, treedef, avals, x64: bool):  # x64: the dtypes fn's constants trace to
    return jax.eval_shape(lambda *leaves: fn(*jax.tree.unflatten(treedef, leaves)), *avals)


def _nbytes(tree) -> int:
    return sum(math.prod(np.shape(a)) * np.dtype(a.dtype if hasattr(a, "dtype") else
                                                 np.result_type(a)).itemsize
               for a in jax.tree.leaves(tree))


class _Plan:
    """Chunks of trials, blocks of generations and the slot of each recorded generation.

    Sizes are checked before anything is allocated or run: the counts fit the 32-bit trial
    indices and generation counters, and the memory the run needs (records, a chunk's state
    and buffer, per-generation inputs; estimated from shapes alone) fits this machine.
    """

    def __init__(self, generations, trials, record, xs, step, first_step, chunk_size, progress,
                 state0, observe, keep: int = 0, extra: int = 0):
        generations = _validate.generation_count(generations)
        self.trials = trials = _validate.trial_count(trials)
        n_rec = generations + 1 if record is None else record_generations(record, generations).size
        if chunk_size is None:  # a trial's state (old and new), records and working memory
            per_trial = (2 * _nbytes(state0) + extra
                         + (0 if keep else (n_rec + 1) * _nbytes(shape_of(observe, state0))))
            chunk_size = max(1, min(trials, MAX_CHUNK, CHUNK_BYTES // max(per_trial, 1)))
        chunk_size = _validate.integer("chunk_size", chunk_size, minimum=1)
        _check_memory(generations, trials, n_rec, chunk_size, keep, state0, observe, xs, extra)
        self.gens = record_generations(record, generations)
        self.n_rec = n_rec = self.gens.size
        slot = np.full(generations + 1, n_rec, dtype=np.int32)
        slot[self.gens] = np.arange(n_rec, dtype=np.int32)

        self.n_dev = n_dev = jax.device_count()
        # Each device's batch is a multiple of _LANES: XLA's CPU code for a vmapped step can
        # round differently for other batch sizes, and results must not depend on batch or
        # device count.
        # Chunks of equal size: 256 trials under a budget of 216 run as 2 x 128, not 2 x 216.
        n_chunks = math.ceil(trials / min(chunk_size, trials))
        per_device = _LANES * math.ceil(trials / (n_chunks * n_dev * _LANES))
        self.chunk_size = n_dev * per_device
        self.n_chunks = math.ceil(trials / self.chunk_size)

        # Generations 2..G (or 1..G without a first step) run in blocks of equal length, each
        # a whole number of a BlockStep's draws of ``rows`` generations (1 for a plain step).
        self.first = first_step is not None and generations >= 1
        g_start = 2 if self.first else 1
        n_scan = max(generations - g_start + 1, 0)
        rows = step.rows if isinstance(step, BlockStep) else 1
        self.rows = math.ceil(n_scan / math.ceil(n_scan / rows)) if n_scan else 1
        if progress and n_scan > _MIN_BLOCK * 2:
            self.block = max(_MIN_BLOCK, math.ceil(n_scan / _BLOCKS_FOR_PROGRESS))
        else:
            self.block = max(n_scan, 1)
        self.block = self.rows * math.ceil(self.block / self.rows)
        self.n_blocks = math.ceil(n_scan / self.block) if n_scan else 0
        pad = self.n_blocks * self.block - n_scan
        xs_np = jax.tree.map(np.asarray, xs)
        # Per-generation inputs of the scanned generations, padded with their last row.
        self.xs_scan = jax.tree.map(
            lambda a: np.concatenate([a[g_start - 1:], np.repeat(a[-1:], pad, axis=0)])
            if a.shape[0] else a, xs_np)
        self.x1 = jax.tree.map(lambda a: a[0], xs_np) if self.first else None
        self.g_scan = np.arange(g_start, g_start + self.n_blocks * self.block, dtype=np.uint32)
        self.slot_scan = np.concatenate([slot[g_start:], np.full(pad, n_rec, np.int32)])
        self.slot0, self.slot1 = slot[0], slot[min(1, generations)]
        self.progress = progress

    def chunks(self, key, state0, step, first_step, observe, label, summary: int):
        """Yield ``(valid trials, buffer)`` per chunk; buffers have ``R + 1`` leading rows."""
        start_fn, block_fn = _compiled(step, first_step if self.first else None, observe,
                                       self.n_rec, summary, self.rows, self.n_dev)
        reporter = _Progress(label, self.n_chunks * max(self.n_blocks, 1), enabled=self.progress)
        for c in range(self.n_chunks):
            valid = min(self.chunk_size, self.trials - c * self.chunk_size)
            keys, mask = _chunk_inputs(key, np.uint32(c * self.chunk_size), self.chunk_size,
                                       self.n_dev, valid)
            state, buf = start_fn(keys, mask, state0, self.x1, self.slot0, self.slot1)
            for b in range(self.n_blocks):
                sl = slice(b * self.block, (b + 1) * self.block)
                state, buf = block_fn(keys, mask, state, buf, self.g_scan[sl],
                                      jax.tree.map(lambda a: a[sl], self.xs_scan),
                                      self.slot_scan[sl])
                reporter.update(buf)
            if self.n_blocks == 0:
                reporter.update(buf)
            yield valid, buf, state
        reporter.close()


def _check_memory(generations, trials, n_rec, chunk_size, keep, state0, observe, xs,
                  extra: int) -> None:
    """Refuse a run whose estimated memory exceeds :func:`physical_memory` (no work done)."""
    limit = physical_memory()
    if limit is None:
        return
    per_trial = _nbytes(shape_of(observe, state0))  # one trial's observation
    chunk = min(chunk_size, trials)
    if keep:  # summaries: mean, M2, min, max (float64) and ``keep`` sampled values
        records = n_rec * (4 * 2 * per_trial + keep * per_trial)
        buffers = chunk * 2 * _nbytes(state0) + (n_rec + 1) * (4 + min(keep, chunk)) * per_trial
    else:  # the records, and a copy when chunks are concatenated
        records = trials * n_rec * per_trial * (2 if trials > chunk else 1)
        buffers = chunk * (2 * _nbytes(state0) + (n_rec + 1) * per_trial)
    inputs = 2 * _nbytes(xs) + 12 * (generations + 1)  # padded copy of xs, slots, counters
    need = records + buffers + inputs + chunk * extra
    if need > limit:
        what = (f"{trials} trials x {n_rec} recorded generations x {per_trial} bytes"
                if not keep else f"{n_rec} recorded generations x {keep} kept values")
        raise ValueError(
            f"this run needs about {need / 2 ** 30:.3g} GiB ({what}, plus buffers), more than the "
            f"{limit / 2 ** 30:.3g} GiB of memory here: record fewer generations (record='log' "
            f"or a list), run fewer trials, lower chunk_size, or keep summaries "
            f"(engine.summarize_chain)")


@functools.lru_cache(maxsize=128)
def _compiled(step, first_step, observe, n_rec: int, summary: int, rows: int, n_dev: int):
    """Jitted start and block functions for one chain definition.

    The scan over generations carries the whole chunk's batched state.  With ``summary == 0``
    generation ``g`` writes its observations ``(batch, ...)`` to row ``slot[g]`` of the
    buffer; otherwise it writes (mean, M2, min, max, first ``summary`` values) over the
    chunk's valid trials.  A :class:`BlockStep` draws ``rows`` generations of noise per outer
    scan step (on each device its own trials, ``shard_map``) and applies them in an inner scan.
    """
    v_first = jax.vmap(first_step, in_axes=(0, 0, None)) if first_step is not None else None
    v_observe = jax.vmap(observe)
    gen_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))

    def reduce(obs, mask):
        if not summary:
            return obs

        def stats(v):
            m = mask.reshape(mask.shape + (1,) * (v.ndim - 1))
            mean = jnp.sum(jnp.where(m, v, 0), axis=0) / jnp.sum(mask)
            m2 = jnp.sum(jnp.where(m, (v - mean) ** 2, 0), axis=0)
            lo = jnp.min(jnp.where(m, v, jnp.inf), axis=0)
            hi = jnp.max(jnp.where(m, v, -jnp.inf), axis=0)
            return mean, m2, lo, hi, v[:summary]

        leaves = [stats(v) for v in jax.tree.leaves(obs)]
        treedef = jax.tree.structure(obs)
        return tuple(jax.tree.unflatten(treedef, [leaf[i] for leaf in leaves]) for i in range(5))

    def write(buf, state, mask, s):
        # Generations not recorded (slot n_rec) skip the observation and the write.
        def put(buf):
            return jax.tree.map(lambda b, o: b.at[s].set(o), buf, reduce(v_observe(state), mask))

        return jax.lax.cond(s < n_rec, put, lambda buf: buf, buf)

    def start(keys, mask, state0, x1, s0, s1):
        state = jax.tree.map(lambda a: jnp.broadcast_to(a, keys.shape + a.shape), state0)
        rows = reduce(v_observe(state), mask)
        buf = jax.tree.map(lambda o: jnp.zeros((n_rec + 1,) + o.shape, o.dtype), rows)
        buf = write(buf, state, mask, s0)
        if v_first is not None:
            state = v_first(gen_keys(keys, 1), state, x1)
            buf = write(buf, state, mask, s1)
        return state, buf

    def block(keys, mask, state, buf, g, x, s):
        def body(carry, inp):
            state, buf = carry
            g_i, x_i, s_i = inp
            state = v_step(gen_keys(keys, g_i), state, x_i)
            return (state, write(buf, state, mask, s_i)), None

        return jax.lax.scan(body, (state, buf), (g, x, s))[0]

    def block_rows(keys, mask, state, buf, g, x, s):
        seeds = trial_seeds(keys)
        split = lambda a: a.reshape((-1, rows) + a.shape[1:])

        def draws(carry, inp):
            g_b, x_b, s_b = inp
            noise = draw(seeds, g_b, x_b)

            def body(carry, row):
                state, buf = carry
                noise_i, x_i, s_i = row
                state = v_apply(state, noise_i, x_i)
                return (state, write(buf, state, mask, s_i)), None

            return jax.lax.scan(body, carry, (noise, x_b, s_b))[0], None

        return jax.lax.scan(draws, (state, buf), (split(g), jax.tree.map(split, x), split(s)))[0]

    if isinstance(step, BlockStep):
        v_apply = jax.vmap(step.apply, in_axes=(0, 0, None))
        draw = step.draw
        if n_dev > 1:  # each device draws (and compacts rejections) for its own trials
            mesh = jax.sharding.Mesh(np.array(jax.devices()), ("trials",))
            spec = jax.sharding.PartitionSpec
            draw = jax.shard_map(draw, mesh=mesh, in_specs=(spec("trials"), spec(), spec()),
                                 out_specs=spec(None, "trials"), check_vma=False)
        return jax.jit(start), jax.jit(block_rows, donate_argnums=(2, 3))
    v_step = jax.vmap(step, in_axes=(0, 0, None))
    return jax.jit(start), jax.jit(block, donate_argnums=(2, 3))


def _trial_sharding(n_dev: int):
    """Split the leading (trial) axis over all devices; ``None`` on a single device."""
    if n_dev == 1:
        return None
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("trials",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("trials"))


class _Progress:
    """A one-line progress meter on stderr (no dependency on tqdm)."""

    def __init__(self, label: str, total: int, enabled: bool):
        self.label, self.total, self.enabled = label, total, enabled
        self.done, self.t0 = 0, time.perf_counter()

    def update(self, sync: PyTree) -> None:
        self.done += 1
        if not self.enabled:
            return
        jax.block_until_ready(sync)
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} blocks, "
                         f"{elapsed:.1f}s elapsed, ~{eta:.1f}s left ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def float_dtype():
    """The default float dtype: float64 when ``jax_enable_x64`` is on, else float32."""
    return rng.float_dtype()
