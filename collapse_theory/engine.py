"""The generic chain engine shared by every model family.

A chain is a Markov process over generations ``g = 0, 1, ..., G``: ``state0`` is generation 0
(the original distribution D0) and ``step`` maps generation ``g - 1`` to ``g`` (the ``g``-th fit).
The engine runs ``trials`` independent copies of it:

* one ``lax.scan`` over generations, trials batched with ``vmap``;
* randomness: trial ``i`` uses ``k_i = fold_in(key, i)`` and generation ``g`` uses
  ``fold_in(k_i, g)``, so trial ``i`` depends only on ``(key, i)`` — the same whatever ``trials``,
  ``chunk_size``, the recorded generations or the device count;
* trials run in chunks of ``chunk_size`` (memory stays bounded), each chunk's trial axis is
  split over all visible devices, and generations run in blocks so that long runs can report
  progress;
* only the recorded generations are kept: a buffer of ``R + 1`` rows is carried through the scan
  and generation ``g`` is written to row ``slot[g]`` (``R`` for generations not recorded).
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate

PyTree = Any

#: Generations per block when the run is long enough to report progress.
_MIN_BLOCK = 256
_BLOCKS_FOR_PROGRESS = 20
#: Per-device batches are padded to a multiple of this many trials.
_LANES = 8


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


def trial_keys(key, start: int, count: int):
    """Keys of trials ``start .. start + count - 1``: ``fold_in(key, i)``."""
    idx = jnp.arange(start, start + count, dtype=jnp.uint32)
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(idx)


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
) -> tuple[np.ndarray, PyTree]:
    """Run ``trials`` independent chains and return ``(generation, records)``.

    Args:
      key: a ``jax.random.key``.
      state0: generation 0 (D0), a pytree of arrays shared by every trial.
      step: ``step(key, state, x) -> state``, generation ``g - 1 -> g``, where ``x`` is the
        ``(g-1)``-th slice of ``xs`` (per-generation inputs such as the sample size ``M_g``).
      observe: ``observe(state) -> pytree`` of what is recorded.
      generations: ``G``, the number of fits.
      trials: number of independent chains.
      xs: pytree of arrays with leading axis ``G``.
      record: ``None`` (every generation), ``"log"`` (0 and log-spaced generations, ten per
        decade) or a sequence of generations in ``[0, G]``.
      first_step: a different step for generation 1 (e.g. a fit on non-Gaussian real data).
      chunk_size: trials per chunk (default: all, at most 65536).
      progress: print progress to stderr.

    Compiled code is cached on ``(step, first_step, observe)`` and the shapes, so a family that
    passes the same function objects (e.g. built by an ``lru_cache``'d factory) compiles once.

    Returns:
      ``generation`` (an ``(R,)`` int array) and the records, each leaf of shape
      ``(trials, R, ...)``.
    """
    generations = _validate.integer("generations", generations, minimum=0)
    trials = _validate.integer("trials", trials, minimum=1)
    gens = record_generations(record, generations)
    n_rec = gens.size
    slot = np.full(generations + 1, n_rec, dtype=np.int32)
    slot[gens] = np.arange(n_rec, dtype=np.int32)

    n_dev = jax.device_count()
    if chunk_size is None:
        chunk_size = min(trials, 65536)
    chunk_size = _validate.integer("chunk_size", chunk_size, minimum=1)
    # Each device's batch is a multiple of _LANES: XLA's CPU code for a vmapped step can round
    # differently for other batch sizes, and results must not depend on batch or device count.
    per_device = _LANES * math.ceil(min(chunk_size, trials) / (n_dev * _LANES))
    chunk_size = n_dev * per_device
    n_chunks = math.ceil(trials / chunk_size)

    # Generations 2..G (or 1..G without a first step) run in blocks of equal length.
    if generations == 0:
        first_step = None
    g_start = 1 if first_step is None else 2
    n_scan = max(generations - g_start + 1, 0)
    if progress and n_scan > _MIN_BLOCK * 2:
        block = max(_MIN_BLOCK, math.ceil(n_scan / _BLOCKS_FOR_PROGRESS))
    else:
        block = max(n_scan, 1)
    n_blocks = math.ceil(n_scan / block) if n_scan else 0
    pad = n_blocks * block - n_scan
    xs_np = jax.tree.map(np.asarray, xs)
    # Per-generation inputs of the scanned generations, padded with their last row.
    xs_scan = jax.tree.map(
        lambda a: np.concatenate([a[g_start - 1:], np.repeat(a[-1:], pad, axis=0)])
        if a.shape[0] else a, xs_np)
    x1 = jax.tree.map(lambda a: a[0], xs_np) if first_step is not None else None
    g_scan = np.arange(g_start, g_start + n_blocks * block, dtype=np.uint32)
    slot_scan = np.concatenate([slot[g_start:], np.full(pad, n_rec, np.int32)])

    start_fn, block_fn, shard = _compiled(step, first_step, observe, n_rec, n_dev)
    reporter = _Progress(label, n_chunks * max(n_blocks, 1), enabled=progress)
    outputs = []
    for c in range(n_chunks):
        keys = trial_keys(key, c * chunk_size, chunk_size)
        if shard is not None:
            keys = jax.device_put(keys, shard)
        state, buf = start_fn(keys, state0, x1, slot[0], slot[min(1, generations)])
        for b in range(n_blocks):
            sl = slice(b * block, (b + 1) * block)
            state, buf = block_fn(keys, state, buf, g_scan[sl],
                                  jax.tree.map(lambda a: a[sl], xs_scan), slot_scan[sl])
            reporter.update(buf)
        if n_blocks == 0:
            reporter.update(buf)
        keep = min(chunk_size, trials - c * chunk_size)
        outputs.append(jax.tree.map(lambda a: a[:keep, :n_rec], buf))
    reporter.close()
    records = outputs[0] if n_chunks == 1 else jax.tree.map(
        lambda *a: jnp.concatenate(a, axis=0), *outputs)
    return gens, records


@functools.lru_cache(maxsize=128)
def _compiled(step, first_step, observe, n_rec: int, n_dev: int):
    """Jitted, vmapped start and block functions for one chain definition."""

    def write(buf, state, s):
        return jax.tree.map(lambda b, o: b.at[s].set(o), buf, observe(state))

    def start_one(tkey, state0, x1, s0, s1):
        state = state0
        buf = jax.tree.map(lambda o: jnp.zeros((n_rec + 1,) + o.shape, o.dtype), observe(state))
        buf = write(buf, state, s0)
        if first_step is not None:
            state = first_step(jax.random.fold_in(tkey, 1), state, x1)
            buf = write(buf, state, s1)
        return state, buf

    def block_one(tkey, state, buf, g, x, s):
        def body(carry, inp):
            state, buf = carry
            g_i, x_i, s_i = inp
            state = step(jax.random.fold_in(tkey, g_i), state, x_i)
            return (state, write(buf, state, s_i)), None

        (state, buf), _ = jax.lax.scan(body, (state, buf), (g, x, s))
        return state, buf

    shard = _trial_sharding(n_dev)
    start_fn = jax.jit(jax.vmap(start_one, in_axes=(0, None, None, None, None)),
                       out_shardings=shard)
    block_fn = jax.jit(jax.vmap(block_one, in_axes=(0, 0, 0, None, None, None)),
                       donate_argnums=(1, 2), out_shardings=shard)
    return start_fn, block_fn, shard


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
    return jnp.asarray(0.0).dtype
