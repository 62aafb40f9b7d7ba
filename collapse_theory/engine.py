"""The generic chain engine shared by every model family.

A chain is a Markov process over generations ``g = 0, 1, ..., G``: ``state0`` is generation 0
(the original distribution D0) and ``step`` maps generation ``g - 1`` to ``g`` (the ``g``-th fit).
The engine runs ``trials`` independent copies of it:

* one ``lax.scan`` over generations, trials batched with ``vmap``;
* randomness: trial ``i`` uses ``k_i = fold_in(key, i)`` and generation ``g`` uses
  ``fold_in(k_i, g)``, so trial ``i`` depends only on ``(key, i)`` — the same whatever ``trials``,
  ``chunk_size``, the recorded generations or the device count (on CPU, where the programs are
  compiled so that a float sum does not depend on the batch: :data:`BATCH_INVARIANT`).  A
  :class:`BlockStep` instead draws the noise of a block of generations at once from counters
  ``g`` under ``k_i``'s Threefry seed (no key derived per generation) and applies it one
  generation at a time;
* trials run in chunks of ``chunk_size`` (memory stays bounded), each chunk's trial axis is
  split over all visible devices (each runs the one-device program on its trials: a program
  partitioned by XLA rounds differently, issue 14), and generations run in blocks of bounded work
  (:data:`BLOCK_BYTES`), each waited for, so that Ctrl-C acts within a block and long runs can
  report progress; results do not depend on the blocks;
* only the recorded generations are kept: a buffer of ``R`` rows is carried through the scan
  and generation ``g`` is written to row ``slot[g]`` (``slot[g] = R``: not recorded, no write).
  A leaf whose record per trial holds at least :data:`ROW_BYTES` is kept trial-major
  ``(batch, R, ...)`` (each trial writes its row in one piece); smaller ones generation-major
  ``(R, batch, ...)`` and transposed once per chunk.  A plain step that records every
  generation writes them a span of generations at a time (:data:`MAX_SPAN`).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.multihost_utils import process_allgather

from . import _validate, rng

PyTree = Any

#: Blocks (at least) a run that reports progress is cut into: a short chain of expensive fits
#: (a VAE's 20 generations) reports every generation, a long one every 5 %.
_BLOCKS_FOR_PROGRESS = 20
#: Work of one block of generations, in bytes of state, working memory and records a chunk
#: touches per generation (a few seconds at most on one CPU core), so that Ctrl-C acts between
#: blocks of a long run whether or not progress is shown.
BLOCK_BYTES = 1 << 28
#: Memory one chunk of trials may hold (state, old and new, and working buffers) by default.
#: Records do not shrink chunks: the result holds them whatever the chunking (a chunk's buffer,
#: then its transposed copy, or every chunk's copy, then their concatenation: up to twice the
#: records either way), and chunks of a few hundred trials ran the discrete chain 2× slower.
CHUNK_BYTES = 1 << 28
#: Most trials in one chunk by default on CPU.
MAX_CHUNK = 65536
#: :data:`CHUNK_BYTES` on an accelerator, where a chunk has no other bound: a GPU runs a
#: generation of many trials in about the time of a few.  On an H200 the 1-D chain (M = 100,
#: 2²² trials × 1000 generations) ran 4.1e8 trial-gen/s in chunks of 65 536 trials, 3.8e9 in
#: chunks of 2²⁰ and 9.1e9 in one chunk; the K = 100 discrete chain (2¹⁸ trials × 100, about
#: 2.4 kB a trial) 3.7e6 in chunks of 65 536 and 1.1e7 in one.
DEVICE_CHUNK_BYTES = 1 << 30
#: On CPU, the chunks of a streaming summary, or of a run split into chunks anyway, hold
#: about this much state (old and new) and working memory, so that a generation's working set
#: stays in cache: near absorption a K = 100 discrete chain took 452 ns per trial-generation in
#: chunks of 4096 trials, 1199 ns in chunks of 65 536 (2-core EPYC, 32 MiB L3).  A run whose
#: records fit one chunk stays one chunk: joining chunks copies the records (10 000 × 500
#: Zipf counts: 9.2 s in one chunk, 15.3 s in two).
CACHE_BYTES = 1 << 23
#: Fewest trials in a chunk sized by :data:`CACHE_BYTES` (1024: 484 ns in that run).
MIN_CACHE_CHUNK = 1024
#: Bytes of one trial's record of a leaf from which its buffer is kept trial-major (2-core
#: CPU, before spans: 40-byte rows, K = 10 int32 counts, ran 1.3× faster so; 4-byte rows
#: 1.4× slower.  With spans the 40-byte rows no longer tell the two apart: absorption row,
#: 2.94/3.02/2.94 s against 2.84/3.20/2.61 s generation-major, benchmarks/RESULTS.md, stop 48).
ROW_BYTES = 32
#: A plain step that records every generation writes the records of up to this many
#: generations at once (a span: an inner scan's stacked observations), and of at most
#: :data:`SPAN_BYTES` of one device's records; a span divides every block.  One generation's
#: rows lie strided across a trial-major buffer, a span's rows of a trial are contiguous:
#: K = 10 int32 counts, 10 000 trials recorded every generation, spans of 20 took the
#: discrete chain to absorption in 124 ns per trial-generation rather than 153 (2-core
#: Xeon, ``benchmarks/RESULTS.md``); at K = 100 spans of 5 did not pay.
MAX_SPAN = 32
SPAN_BYTES = 1 << 24


class Content:
    """A numpy array hashed and compared by its dtype, shape and bytes (SHA-1), so that data
    equal in content (not only the same object) reuse compiled chains cached on them."""

    def __init__(self, array):
        self.array = np.asarray(array)
        self.digest = (self.array.dtype.str, self.array.shape,
                       hashlib.sha1(np.ascontiguousarray(self.array).tobytes()).hexdigest())

    def __eq__(self, other):
        return isinstance(other, Content) and self.digest == other.digest

    def __hash__(self):
        return hash(self.digest)


def record_generations(record, generations: int) -> np.ndarray:
    """The sorted recorded generations for ``record`` (see :func:`run_chain`)."""
    if record is None or (isinstance(record, str) and record == "all"):
        return np.arange(generations + 1)
    if isinstance(record, str):
        _validate.choice("record", record, ("all", "log"))
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
        raise ValueError(f"record must be None, 'all', 'log' or a non-empty list of generations, "
                         f"got {record!r}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"record must hold integer generations, got {arr.dtype} values {record!r}")
    if arr.min() < 0 or arr.max() > generations:
        raise ValueError(f"record generations must lie in [0, generations={generations}], got {record!r}")
    arr = arr.astype(np.int64)
    if arr.size > 1 and np.all(arr[1:] > arr[:-1]):  # already sorted and unique: no hashing
        return arr
    return np.unique(arr)


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
    memory (count it in ``run_chain``'s ``trial_bytes``); the 1-D Gaussian draws 8.  The last
    draw of a run is padded past ``G``; its padding is drawn but not applied.
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
    return rng.fold_in(key, idx)


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
    memory_limit: int | None = None,
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
      record: ``None`` or ``"all"`` (every generation), ``"log"`` (0 and log-spaced
        generations, ten per decade) or a sequence of generations in ``[0, G]``.
      first_step: a different step for generation 1 (e.g. a fit on non-Gaussian real data).
      chunk_size: trials per chunk (default on CPU: as many as :data:`CHUNK_BYTES` of state
        and ``trial_bytes`` allow, at most :data:`MAX_CHUNK`, and chunks of
        :data:`CACHE_BYTES` for a run that needs several; on an accelerator: as many as
        :data:`DEVICE_CHUNK_BYTES` allow).  Results do not depend on it on CPU; on a GPU a
        fit that sums floats can (:data:`BATCH_INVARIANT`).
      progress: print progress to stderr.
      final: ``final(state) -> pytree`` kept from each trial's last generation.
      trial_bytes: a trial's working memory beyond its state and records (e.g. a batch of
        points drawn inside ``step``), for the default ``chunk_size``.
      memory_limit: bytes the run may use (:func:`check_memory`; default: this machine's
        physical memory, and each accelerator's memory for what lives on it).  A run whose
        estimate exceeds it is refused with a ``ValueError`` before anything is traced.

    Compiled code is cached on ``(step, first_step, observe)`` and the shapes, so a family that
    passes the same function objects (e.g. built by an ``lru_cache``'d factory) compiles once.

    """
    plan = _Plan(generations, trials, record, xs, step, first_step, chunk_size, progress,
                 state0, observe, extra=trial_bytes, memory_limit=memory_limit)
    outputs, finals = [], []
    for keep, buf, state in plan.chunks(key, state0, step, first_step, observe, label,
                                        summary=0):
        outputs.append(_trial_major(buf, keep))
        if final is not None:
            finals.append(jax.tree.map(lambda a: a[:keep], jax.vmap(final)(state)))
    cat = lambda parts, axis: parts[0] if len(parts) == 1 else jax.tree.map(  # noqa: E731
        lambda *a: jnp.concatenate(a, axis=axis), *parts)
    return Run(plan.gens, cat(outputs, 0), cat(finals, 0) if final is not None else None)


def summarize_chain(key, *, state0, step, observe, generations, trials, xs, record="log",
                    first_step=None, chunk_size=None, keep: int = 4096, progress=False,
                    label: str = "chain", trial_bytes: int = 0,
                    memory_limit: int | None = None) -> Summary:
    """Like :func:`run_chain`, but keep only streaming :class:`Summary` statistics.

    ``observe(state)`` returns the statistics to summarise (float arrays).  Memory is
    ``O(chunk × state + R × keep)``: independent of the number of trials and, with ``record``
    fixed (e.g. ``"log"``), nearly independent of the number of generations.  Per-trial values
    are the same as :func:`run_chain`'s for the same key.
    """
    keep = _validate.integer("keep", keep, minimum=1)
    plan = _Plan(generations, trials, record, xs, step, first_step, chunk_size, progress,
                 state0, observe, keep=keep, extra=trial_bytes, memory_limit=memory_limit)
    keep_chunk = min(keep, plan.chunk_size)
    total, acc, samples = 0, None, []
    for devices in plan.chunks(key, state0, step, first_step, observe, label,
                               summary=keep_chunk):
        parts = [(valid, *jax.tree.map(lambda a: np.asarray(a, np.float64), buf,
                                       is_leaf=lambda x: isinstance(x, jax.Array)))
                 for valid, buf, _ in devices]
        if jax.process_count() > 1:
            parts = _every_process(parts)
        for valid, mean, m2, lo, hi, sample in parts:
            valid = int(valid)
            if not valid:
                continue
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


def _by_trial(row: tuple, dtype) -> bool:
    """Whether records of one trial's ``row`` shape are kept trial-major (:data:`ROW_BYTES`)."""
    return math.prod(row) * jnp.dtype(dtype).itemsize >= ROW_BYTES


def _record_axis(leaf) -> int:
    """The trial axis of a chunk's record buffer leaf ``(·, ·, *row)``: 0 (trial-major) or 1."""
    return 0 if _by_trial(leaf.shape[2:], leaf.dtype) else 1


def _trial_major(buf, keep: int):
    """A chunk's records as ``(keep, R, ...)``: generation-major leaves transposed, trial-major
    ones as they are (no copy) or sliced."""
    def leaf(a):
        if _record_axis(a) == 1:
            return _transposed(a, keep)
        return a if keep == a.shape[0] else a[:keep]

    return jax.tree.map(leaf, buf)


@functools.partial(jax.jit, static_argnums=1)
def _transposed(a, keep: int):
    """``(R, batch, ...)`` as ``(keep, R, ...)``: one transpose (the slice fuses into it).  A
    row of one element is transposed as a 2-D array (~2× faster than ``(R, batch, 1)`` on
    XLA:CPU); its unit axes are bitcasts."""
    row = a.shape[2:]
    if math.prod(row) == 1:
        return jnp.swapaxes(a.reshape(a.shape[:2]), 0, 1)[:keep].reshape((keep, a.shape[0]) + row)
    return jnp.swapaxes(a, 0, 1)[:keep]


def _every_process(parts: list) -> list:
    """This chunk's summary parts of every process's devices, in device (trial) order, from
    this process's (each process has as many devices, in order, and parts of equal shapes).
    Values travel as the bits of float64 (a gather through JAX would round them to float32)."""
    leaves, tree = jax.tree.flatten(parts)
    shapes = [np.shape(a) for a in leaves]
    bits = process_allgather([np.ascontiguousarray(a, np.float64).reshape(-1).view(np.uint32)
                              for a in leaves])
    return [part for p in range(jax.process_count()) for part in jax.tree.unflatten(
        tree, [np.asarray(b)[p].view(np.float64).reshape(shape)
               for b, shape in zip(bits, shapes)])]


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
    avals = tuple(jax.ShapeDtypeStruct(a.shape if hasattr(a, "shape") else np.shape(a),
                                       a.dtype if hasattr(a, "dtype") else np.result_type(a))
                  for a in leaves)
    return _shape_of(fn, treedef, avals, jax.config.jax_enable_x64)


@functools.lru_cache(maxsize=512)
def _shape_of(fn, treedef, avals, x64: bool):  # x64: the dtypes fn's constants trace to
    return jax.eval_shape(lambda *leaves: fn(*jax.tree.unflatten(treedef, leaves)), *avals)


def _nbytes(tree) -> int:
    """Bytes of a pytree's leaves: arrays, ``jax.ShapeDtypeStruct`` or Python scalars."""
    return sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize if hasattr(a, "shape")
               else np.dtype(np.result_type(a)).itemsize for a in jax.tree.leaves(tree))


class _Plan:
    """Chunks of trials, blocks of generations and the slot of each recorded generation.

    Sizes are checked before anything is allocated or run: the counts fit the 32-bit trial
    indices and generation counters, and the memory the run needs (records, a chunk's state
    and buffer, per-generation inputs; estimated from shapes alone) fits this machine.
    """

    def __init__(self, generations, trials, record, xs, step, first_step, chunk_size, progress,
                 state0, observe, keep: int = 0, extra: int = 0, memory_limit=None):
        generations, trials, gens, chunk_size = check_run(
            generations=generations, trials=trials, record=record, chunk_size=chunk_size,
            state0=state0, observe=observe, xs=xs, keep=keep, trial_bytes=extra,
            memory_limit=memory_limit)
        self.trials, self.generations = trials, generations
        self.gens, self.n_rec = gens, gens.size
        n_rec = self.n_rec
        slot = np.full(generations + 1, n_rec, dtype=np.int32)
        slot[self.gens] = np.arange(n_rec, dtype=np.int32)

        self.n_dev = n_dev = jax.device_count()
        # Each device's batch is a multiple of rng.LANES trials: XLA's CPU code for a vmapped
        # step can round differently for other batch sizes, and results must not depend on
        # batch or device count.
        # Chunks of equal size: 256 trials under a budget of 216 run as 2 x 128, not 2 x 216.
        n_chunks = math.ceil(trials / min(chunk_size, trials))
        per_device = rng.LANES * math.ceil(trials / (n_chunks * n_dev * rng.LANES))
        self.chunk_size = n_dev * per_device
        self.n_chunks = math.ceil(trials / self.chunk_size)

        # Generations 2..G (or 1..G without a first step) run in blocks, each a whole number
        # of a BlockStep's draws of ``rows`` generations (1 for a plain step; a BlockStep's last
        # draw is padded past G with generations that leave the state as it is).  A block's
        # work is bounded by BLOCK_BYTES of the chunk's state, working memory and records per
        # generation; a run of at most two such blocks is one.
        # Blocks have equal length (one compilation) where a divisor of the length allows it
        # or, for a BlockStep, by more padding; else the last is shorter: a plain step's
        # generation past G would change the state ``final`` reads.
        self.first = first_step is not None and generations >= 1
        g_start = 2 if self.first else 1
        n_scan = max(generations - g_start + 1, 0)
        rows = step.rows if isinstance(step, BlockStep) else 1
        self.rows = math.ceil(n_scan / math.ceil(n_scan / rows)) if n_scan else 1
        pad = self.rows * math.ceil(n_scan / self.rows) - n_scan
        obs_bytes = _nbytes(shape_of(observe, state0))
        touched = self.chunk_size * (2 * _nbytes(state0) + extra + obs_bytes)
        block = max(1, BLOCK_BYTES // max(touched, 1))
        if progress:
            block = min(block, math.ceil(n_scan / _BLOCKS_FOR_PROGRESS) if n_scan else 1)
        block = self.rows * math.ceil(block / self.rows)
        if n_scan + pad <= 2 * block:
            block = max(n_scan + pad, 1)
        else:
            sizes = np.arange(self.rows * math.ceil(block / 2 / self.rows), block + 1, self.rows)
            equal = sizes[(n_scan + pad) % sizes == 0]
            if equal.size:
                block = int(equal[-1])
            elif isinstance(step, BlockStep):
                n_blocks = math.ceil((n_scan + pad) / block)
                block = self.rows * math.ceil((n_scan + pad) / (self.rows * n_blocks))
                pad = n_blocks * block - n_scan
        self.block = block
        self.n_blocks = math.ceil(n_scan / block) if n_scan else 0
        self.slot_scan = np.concatenate([slot[g_start:], np.full(pad, n_rec + 1, np.int32)])
        # A plain step recording every scanned generation runs spans (MAX_SPAN) of `rows`
        # generations per outer scan step, whole spans per block.
        if (not isinstance(step, BlockStep) and not keep and n_scan
                and np.array_equal(self.slot_scan, self.slot_scan[0] + np.arange(n_scan))):
            span = min(MAX_SPAN, max(1, SPAN_BYTES // max(per_device * obs_bytes, 1)))
            while block % span or (n_scan - (self.n_blocks - 1) * block) % span:
                span -= 1
            self.rows = span
        xs_np = jax.tree.map(np.asarray, xs)
        # Per-generation inputs of the scanned generations, padded with their last row.
        self.xs_scan = jax.tree.map(
            lambda a: np.concatenate([a[g_start - 1:], np.repeat(a[-1:], pad, axis=0)])
            if a.shape[0] else a, xs_np)
        self.x1 = jax.tree.map(lambda a: a[0], xs_np) if self.first else None
        self.g_scan = np.arange(g_start, g_start + n_scan + pad, dtype=np.uint32)
        # Slot n_rec: not recorded; n_rec + 1: padding, which leaves the state as it is.
        self.slot0, self.slot1 = slot[0], slot[min(1, generations)]
        self.progress = progress

    def chunks(self, key, state0, step, first_step, observe, label, summary: int):
        """Yield ``(valid trials, buffer, state)`` per chunk; buffers have ``R`` leading rows.

        On several devices each device runs the one-device program on its own trials (a
        single-device executable per device, dispatched asynchronously, not one program
        partitioned over the devices): XLA's SPMD pipeline (partitioner, then a CSE before the
        algebraic simplifier) rewrote some float expressions differently from the one-device
        pipeline (issue 14: ``a / sum(w)`` shared by two fits kept as a divide, else turned into
        ``a * (1 / sum(w))``), so results depended on the device count in their last bits.
        Chunk buffers and states are then one array sharded over the devices (over every
        process's devices under ``jax.distributed``); summaries (``summary > 0``) are yielded as
        a list of this process's devices' ``(valid trials, buffer, state)``, in trial order.
        """
        start_fn, block_fn = _compiled(step, first_step if self.first else None, observe,
                                       self.n_rec, summary, self.rows)
        reporter = _Progress(label, self.n_chunks, self.generations, enabled=self.progress)
        for c in range(self.n_chunks):
            valid = min(self.chunk_size, self.trials - c * self.chunk_size)
            keys, mask = _chunk_inputs(key, np.uint32(c * self.chunk_size), self.chunk_size,
                                       self.n_dev, valid)
            parts = _device_parts(keys, mask)
            runs = [start_fn(k, m, state0, self.x1, self.slot0, self.slot1) for _, k, m in parts]
            for b in range(self.n_blocks):
                sl = slice(b * self.block, (b + 1) * self.block)  # the last may be shorter
                g, x, s = (self.g_scan[sl], jax.tree.map(lambda a: a[sl], self.xs_scan),
                           self.slot_scan[sl])
                runs = [block_fn(k, m, state, buf, g, x, s)
                        for (_, k, m), (state, buf) in zip(parts, runs)]
                reporter.update([buf for _, buf in runs], c,
                                min(int(self.g_scan[sl][-1]), self.generations))
            if self.n_blocks == 0:
                reporter.update([buf for _, buf in runs], c, self.generations)
            if self.n_dev > 1:
                # Wait for every device's part before anything runs over all the devices (the
                # next chunk's inputs, the caller's ops on the result, a gather): a program
                # with a collective queued behind another device's long chunk would wait at
                # XLA's rendezvous, which aborts the process after 40 s (2 host devices, 50
                # n-gram generations of 500 trials each).
                jax.block_until_ready(runs)
            if summary:  # every device of this process, empty ones too: processes gather alike
                yield [(min(max(valid - start, 0), m.shape[0]), buf, state)
                       for (start, _, m), (state, buf) in zip(parts, runs)]
            elif self.n_dev == 1:
                yield valid, runs[0][1], runs[0][0]
            else:
                yield (valid, _assemble([buf for _, buf in runs], _record_axis),
                       _assemble([state for state, _ in runs], lambda leaf: 0))
        reporter.close()


def _device_parts(keys, mask):
    """``[(first trial, keys, mask)]`` of each device's trials of a chunk, in trial order."""
    if len(keys.sharding.device_set) == 1:
        return [(0, keys, mask)]
    ks = sorted(keys.addressable_shards, key=lambda sh: sh.index[0].start or 0)
    ms = {sh.device: sh.data for sh in mask.addressable_shards}
    return [(sh.index[0].start or 0, sh.data, ms[sh.device]) for sh in ks]


def _assemble(parts, axis: Callable):
    """One array per leaf, sharded over the devices along its trial axis ``axis(leaf)``, from
    the devices' parts (zero-copy)."""
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("trials",))

    def join(*leaves):  # this process's parts of an array over every process's devices
        ax = axis(leaves[0])
        spec = jax.sharding.PartitionSpec(*([None] * ax + ["trials"]))
        sharding = jax.sharding.NamedSharding(mesh, spec)
        shape = list(leaves[0].shape)
        shape[ax] *= jax.device_count()
        return jax.make_array_from_single_device_arrays(tuple(shape), sharding, list(leaves))

    return jax.tree.map(join, *parts)


#: Host memory the per-generation inputs of a run take, per generation, at most: the sample-size
#: schedule and the policy's batch sizes (int64), the engine's inputs, their padded copy and the
#: device's copy, the record slots and generation counters (measured about 90; rounded up).
INPUT_BYTES_PER_GENERATION = 128

#: How to make a refused run fit, in the library's words (the CLI says it with its options).
WAY_OUT = ("record fewer generations (record='log' or a list), run fewer trials, lower "
            "chunk_size, keep streaming summaries (ct.summarize, gaussian.simulate_summary, "
            "engine.summarize_chain), or raise memory_limit= (bytes) if this machine has more")


def resolve_memory_limit(value=None) -> tuple[int | None, str]:
    """The host memory limit in bytes and what it is: ``value`` (an int ≥ 1, the
    ``memory_limit=`` argument), else :func:`physical_memory` — the machine's physical memory
    (``SC_PHYS_PAGES × SC_PAGE_SIZE``), not what happens to be free, so that the same run is
    refused or accepted whatever else is running.  ``(None, ...)`` where the OS does not say."""
    if value is not None:
        value = _validate.integer("memory_limit", value, minimum=1)
        return value, "memory_limit"
    return physical_memory(), "this machine's physical memory"


def device_memory() -> int | None:
    """Bytes one accelerator may allocate (the smallest over this process's devices), from
    ``memory_stats()['bytes_limit']``; ``None`` on CPU (records and chunks are then host memory,
    checked against :func:`physical_memory`) or where the backend does not say."""
    devices = jax.local_devices()
    if not devices or devices[0].platform == "cpu":
        return None
    limits = []
    for d in devices:
        try:
            stats = d.memory_stats() or {}
        except Exception:  # noqa: BLE001  (a backend without memory statistics)
            return None
        if "bytes_limit" not in stats:
            return None
        limits.append(int(stats["bytes_limit"]))
    return min(limits)


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def check_counts(generations, trials, memory_limit=None) -> tuple[int, int]:
    """Validate ``generations`` and ``trials`` (32-bit counters and trial indices) and refuse
    a run whose per-generation inputs alone (:data:`INPUT_BYTES_PER_GENERATION` per
    generation) exceed the memory limit (:func:`resolve_memory_limit`).  Costs no memory: every
    family calls it at its boundary (``chain.simulate``/``summarize`` too), before a schedule of
    ``generations`` entries is allocated."""
    generations = _validate.generation_count(generations)
    trials = _validate.trial_count(trials)
    limit, what = resolve_memory_limit(memory_limit)
    need = INPUT_BYTES_PER_GENERATION * (generations + 1)
    if limit is not None and need > limit:
        raise ValueError(
            f"this run needs about {_gib(need)} ({need} bytes) of host memory for its "
            f"per-generation inputs alone ({generations} generations x {INPUT_BYTES_PER_GENERATION} bytes), more than "
            f"the {_gib(limit)} limit ({what}): run fewer generations, or raise memory_limit= "
            f"(bytes) if this machine has more")
    return generations, trials


#: The fewest bytes a trial records per generation (one float32): :func:`check_records`.
MIN_RECORD_BYTES = 4


def check_records(generations: int, trials: int, record, keep: int = 0,
                  memory_limit=None, first: int = 0,
                  record_bytes: int = MIN_RECORD_BYTES) -> None:
    """Refuse, from the counts alone, a run whose records (``keep`` > 0: streaming summaries)
    would exceed the memory limit even at :data:`MIN_RECORD_BYTES` per trial and recorded
    generation: a lower bound of :func:`check_memory`'s estimate, for a family to call before
    it builds anything ``generations`` long (its schedule, batch sizes, inputs), so that
    ``generations=10**7, record=None`` is refused at once.  Counts as :func:`check_counts`
    returns them; ``first``: the first generation a record holds (a discrete chain's is 1);
    ``record_bytes``: what a trial records per generation, when the family knows it."""
    limit, what = resolve_memory_limit(memory_limit)
    if limit is None:
        return
    if record is None or (isinstance(record, str) and record == "all"):
        n_rec = generations + 1 - first
    else:
        n_rec = int(np.sum(record_generations(record, generations) >= first))
    per_trial = record_bytes
    if keep:
        need = n_rec * (4 * 2 + keep) * per_trial
        records = f"summaries: {n_rec} recorded generations x ({keep} kept values + 4 moments)"
    else:
        need = trials * n_rec * per_trial
        records = f"records: {trials} trials x {n_rec} recorded generations"
    if need > limit:
        raise ValueError(f"this run needs at least {_gib(need)} ({need} bytes) of memory for its "
                         f"{records} x at least {per_trial} bytes, more than the {_gib(limit)} "
                         f"limit ({what}): {WAY_OUT}")


def check_state(state_bytes: int, what: str, memory_limit=None) -> None:
    """Refuse, before it is allocated, a generation-0 state of ``state_bytes`` whose copies
    (generation 0 itself and one trial's state, old and new) alone exceed the memory limit:
    for a family that shapes its ``params0`` by the run's size (a KDE's pool of ``Σ M_g``
    centres under ``accumulate``).  :func:`check_run` covers the rest once the state exists."""
    limit, limit_what = resolve_memory_limit(memory_limit)
    need = 3 * int(state_bytes)
    if limit is not None and need > limit:
        raise ValueError(
            f"this run needs at least {_gib(need)} ({need} bytes) of memory for {what} "
            f"({state_bytes} bytes: generation 0 and one trial's state, old and new), more than "
            f"the {_gib(limit)} limit ({limit_what}): lower sample_size or generations, use a "
            f"policy without a pool (replace, fresh, fixed), or raise memory_limit= (bytes) if "
            f"this machine has more")


def check_run(*, generations, trials, record, chunk_size, state0, observe, xs, keep: int = 0,
              trial_bytes: int = 0, memory_limit=None):
    """Everything :func:`run_chain` (``keep == 0``) or :func:`summarize_chain` (``keep`` values)
    checks before it allocates or traces: the counts (:func:`check_counts`), ``record``,
    ``chunk_size`` (default: :data:`CHUNK_BYTES` of a trial's state and ``trial_bytes``, at
    most :data:`MAX_CHUNK`, or :data:`DEVICE_CHUNK_BYTES` on an accelerator; on CPU, when
    that is not one chunk of records, :data:`CACHE_BYTES` and at least
    :data:`MIN_CACHE_CHUNK`) and the memory (:func:`check_memory`).
    ``state0`` and ``xs`` may be shapes (``jax.ShapeDtypeStruct``), so a caller can refuse a
    run before it builds them.  Returns ``(generations, trials, recorded generations,
    chunk_size)``."""
    generations, trials = check_counts(generations, trials, memory_limit)
    gens = record_generations(record, generations)
    n_rec = gens.size
    if chunk_size is None:  # a trial's state (old and new) and working memory
        per_trial = max(2 * _nbytes(state0) + trial_bytes, 1)
        cpu = jax.default_backend() == "cpu"
        chunk_size = (CHUNK_BYTES if cpu else DEVICE_CHUNK_BYTES) // per_trial
        if cpu:
            chunk_size = min(chunk_size, MAX_CHUNK)
            if keep or trials > chunk_size:
                chunk_size = min(chunk_size, max(MIN_CACHE_CHUNK, CACHE_BYTES // per_trial))
        chunk_size = max(1, min(trials, chunk_size))
    chunk_size = _validate.integer("chunk_size", chunk_size, minimum=1)
    check_memory(generations=generations, trials=trials, n_rec=n_rec, chunk_size=chunk_size,
                 keep=keep, state0=state0, observe=observe, xs=xs, extra=trial_bytes,
                 memory_limit=memory_limit)
    return generations, trials, gens, chunk_size


def check_memory(*, generations: int, trials: int, n_rec: int, chunk_size: int, keep: int,
                 state0, observe, xs, extra: int = 0, memory_limit=None) -> None:
    """Refuse a run whose estimated memory exceeds the limit, with a ``ValueError`` stating the
    estimate, the limit and the way out; nothing is traced or allocated (shapes only: ``state0``
    and ``xs`` may be arrays or ``jax.ShapeDtypeStruct`` leaves, ``observe``'s output shapes come
    from :func:`shape_of`).

    Host memory: the records (``trials × R × bytes`` of one trial's observation, twice when
    chunks are concatenated; with ``keep`` > 0 streaming summaries instead: ``R × (4 + keep)``
    values), a chunk's state (old and new), buffer, working memory (``extra`` per trial) and
    spans of records (:data:`MAX_SPAN`), and the per-generation inputs — against
    :func:`resolve_memory_limit` (``memory_limit`` bytes, else the machine's physical
    memory).  Accelerator memory (GPU/TPU only): per
    device, its share of a chunk and of the records (which stay on the devices until read) —
    against ``memory_limit`` if given, else :func:`device_memory`.
    """
    limit, limit_what = resolve_memory_limit(memory_limit)
    per_trial = _nbytes(shape_of(observe, state0))  # one trial's observation
    state_bytes = _nbytes(state0)
    chunk = min(chunk_size, trials)
    if keep:  # summaries: mean, M2, min, max (float64) and ``keep`` sampled values
        records = n_rec * (4 * 2 * per_trial + keep * per_trial)
        records_what = (f"summaries: {n_rec} recorded generations x ({keep} kept values + 4 "
                        f"moments) x {per_trial} bytes")
        chunk_need = (chunk * (2 * state_bytes + extra)
                      + n_rec * (4 + min(keep, chunk)) * per_trial)
        on_device = chunk_need
    else:  # the records, and a copy when chunks are concatenated
        copies = 2 if trials > chunk else 1
        records = trials * n_rec * per_trial * copies
        records_what = (f"records: {trials} trials x {n_rec} recorded generations x {per_trial} "
                        f"bytes{' x 2 while chunks are joined' if copies == 2 else ''}")
        # a span's stacked observations and their transpose (MAX_SPAN)
        spans = 2 * min(SPAN_BYTES * jax.device_count(), MAX_SPAN * chunk * per_trial)
        chunk_need = chunk * (2 * state_bytes + n_rec * per_trial + extra) + spans
        on_device = chunk_need + records
    inputs = max(2 * _nbytes(xs) + 12 * (generations + 1),
                 INPUT_BYTES_PER_GENERATION * (generations + 1))
    need = records + chunk_need + inputs
    parts = (f"{records_what} = {_gib(records)}; a chunk of {chunk} trials: "
             f"{_gib(chunk_need)}; per-generation inputs: {_gib(inputs)}")
    if limit is not None and need > limit:
        raise ValueError(f"this run needs about {_gib(need)} ({need} bytes) of memory ({parts}), "
                         f"more than the {_gib(limit)} limit ({limit_what}): {WAY_OUT}")
    device = device_memory()  # None on CPU: the host check above covered it
    if device is not None:
        dev_limit, dev_what = ((limit, limit_what) if memory_limit is not None else
                               (device, "the accelerator's memory, memory_stats()['bytes_limit']"))
        n_dev = jax.device_count()
        per_device = math.ceil(on_device / n_dev)
        if per_device > dev_limit:
            raise ValueError(f"this run needs about {_gib(per_device)} ({per_device} bytes) of "
                             f"accelerator memory per device ({parts}; over {n_dev} device(s)), "
                             f"more than the "
                             f"{_gib(dev_limit)} limit ({dev_what}): {WAY_OUT}")


#: XLA options for the chain programs.  XLA:CPU hands a reduction over more than a few thousand
#: elements in all to a YNNPACK kernel whose order of addition differs from its own loop's, so
#: a vmapped fit's ``sum`` over a sample axis rounds differently for other batch sizes (a
#: ``(b, 20)`` row sum: rows differ in their last bit from ``b = 255`` on; KDE and a drawn
#: Gaussian's fit differed over chunk sizes).  Without it a row's sum does not depend on ``b``.
#: XLA:GPU has no such switch: on an H200, 77 of 257 KDE trials differed between 257 and 301
#: trials, and ``xla_gpu_deterministic_ops`` made those equal but not a ``(b, M)`` variance.
BATCH_INVARIANT = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def compiler_options() -> dict:
    """:data:`BATCH_INVARIANT` where this jaxlib knows the option (a probe), else none."""
    try:
        jax.jit(jnp.negative, compiler_options=BATCH_INVARIANT).lower(1.0).compile()
    except Exception:  # an older XLA: no YNNPACK fusion, nothing to turn off
        return {}
    return BATCH_INVARIANT


@functools.lru_cache(maxsize=128)
def _compiled(step, first_step, observe, n_rec: int, summary: int, rows: int):
    """Jitted start and block functions for one chain definition, on one device's trials
    (each device runs them on its own: :meth:`_Plan.chunks`).

    The scan over generations carries the whole chunk's batched state.  With ``summary == 0``
    generation ``g`` writes its observations ``(batch, ...)`` to row ``slot[g]`` of the
    buffer; otherwise it writes (mean, M2, min, max, first ``summary`` values) over the
    chunk's valid trials.  A :class:`BlockStep` draws ``rows`` generations of noise per outer
    scan step and applies them in an inner scan; a plain step with ``rows > 1`` (every
    generation recorded, slots consecutive) runs spans of ``rows`` generations in an inner scan
    and writes their records at once.
    """
    v_first = jax.vmap(first_step, in_axes=(0, 0, None)) if first_step is not None else None
    v_observe = jax.vmap(observe)

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

    def by_trial(o):  # a per-trial record (not a summary) kept trial-major
        return not summary and _by_trial(o.shape[1:], o.dtype)

    def write(buf, state, mask, s):
        # Generations not recorded (slot n_rec) skip the observation and the write.
        def put(buf):
            return jax.tree.map(lambda b, o: b.at[:, s].set(o) if by_trial(o) else b.at[s].set(o),
                                buf, reduce(v_observe(state), mask))

        return jax.lax.cond(s < n_rec, put, lambda buf: buf, buf)

    def start(keys, mask, state0, x1, s0, s1):
        state = jax.tree.map(lambda a: jnp.broadcast_to(a, keys.shape + a.shape), state0)
        rows = reduce(v_observe(state), mask)
        buf = jax.tree.map(lambda o: jnp.zeros((o.shape[0], n_rec) + o.shape[1:] if by_trial(o)
                                               else (n_rec,) + o.shape, o.dtype), rows)
        buf = write(buf, state, mask, s0)
        if v_first is not None:
            state = v_first(rng.fold_in(keys, 1), state, x1)
            buf = write(buf, state, mask, s1)
        return state, buf

    def block(keys, mask, state, buf, g, x, s):
        def body(carry, inp):
            state, buf = carry
            g_i, x_i, s_i = inp
            state = v_step(rng.fold_in(keys, g_i), state, x_i)
            return (state, write(buf, state, mask, s_i)), None

        return jax.lax.scan(body, (state, buf), (g, x, s))[0]

    def by_rows(g, x, s):  # a block's inputs as outer scan steps of `rows` generations
        split = lambda a: a.reshape((-1, rows) + a.shape[1:])
        return split(g), jax.tree.map(split, x), split(s)

    def block_spans(keys, mask, state, buf, g, x, s):  # slots s consecutive, spans of `rows`
        def generation(state, inp):
            state = v_step(rng.fold_in(keys, inp[0]), state, inp[1])
            return state, v_observe(state)

        def put(b, o, s0):  # o: (rows, batch, ...) to slots s0..s0 + rows - 1
            zero = jnp.zeros_like(s0)
            o, at = (jnp.swapaxes(o, 0, 1), (zero, s0)) if by_trial(o[0]) else (o, (s0,))
            return jax.lax.dynamic_update_slice(b, o, at + (zero,) * (b.ndim - len(at)))

        def span(carry, inp):
            state, buf = carry
            g_b, x_b, s_b = inp
            state, obs = jax.lax.scan(generation, state, (g_b, x_b))
            return (state, jax.tree.map(lambda b, o: put(b, o, s_b[0]), buf, obs)), None

        return jax.lax.scan(span, (state, buf), by_rows(g, x, s))[0]

    def block_rows(keys, mask, state, buf, g, x, s):
        seeds = trial_seeds(keys)

        def draws(carry, inp):
            g_b, x_b, s_b = inp
            noise = step.draw(seeds, g_b, x_b)

            def body(carry, row):
                state, buf = carry
                noise_i, x_i, s_i = row
                state = jax.tree.map(lambda new, old: jnp.where(s_i <= n_rec, new, old),
                                     v_apply(state, noise_i, x_i), state)
                return (state, write(buf, state, mask, s_i)), None

            return jax.lax.scan(body, carry, (noise, x_b, s_b))[0], None

        return jax.lax.scan(draws, (state, buf), by_rows(g, x, s))[0]

    jit = functools.partial(jax.jit, compiler_options=compiler_options())
    if isinstance(step, BlockStep):
        v_apply = jax.vmap(step.apply, in_axes=(0, 0, None))
        return jit(start), jit(block_rows, donate_argnums=(2, 3))
    v_step = jax.vmap(step, in_axes=(0, 0, None))
    return jit(start), jit(block if rows == 1 else block_spans, donate_argnums=(2, 3))


def _trial_sharding(n_dev: int):
    """Split the leading (trial) axis over all devices; ``None`` on a single device."""
    if n_dev == 1:
        return None
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("trials",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("trials"))


class _Progress:
    """Paces a run's chunks and blocks of generations: waits for each but the last (so that
    Python, and Ctrl-C, get control between them) and, if ``enabled``, prints a one-line
    progress meter on stderr (no dependency on tqdm)."""

    def __init__(self, label: str, chunks: int, generations: int, enabled: bool):
        self.label, self.chunks, self.generations = label, chunks, generations
        self.enabled, self.t0 = enabled, time.perf_counter()

    def update(self, sync: PyTree, chunk: int, generation: int) -> None:
        """Chunk ``chunk`` (from 0) has run its generations ``1..generation``."""
        last = chunk == self.chunks - 1 and generation == self.generations
        if not last or self.enabled:
            jax.block_until_ready(sync)
        if not self.enabled:
            return
        done = (chunk * self.generations + generation) / max(self.chunks * self.generations, 1)
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done * (1 - done) if done else float("nan")
        where = f", chunk {chunk + 1}/{self.chunks}" if self.chunks > 1 else ""
        sys.stderr.write(f"\r{self.label}: generation {generation}/{self.generations}{where}, "
                         f"{elapsed:.1f}s elapsed, ~{eta:.1f}s left ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def float_dtype():
    """The default float dtype: float64 when ``jax_enable_x64`` is on, else float32."""
    return rng.float_dtype()
