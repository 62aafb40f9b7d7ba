r"""One chain = a model family + a data policy + the engine: every policy, implemented once.

Fit ``g = 1..G`` sees (sizes from :func:`collapse_theory.policies.sizes`, ``M_g`` the schedule):

* a *synthetic* batch of ``syn_g`` draws from model ``g − 1`` (model 0 is D0: ``real`` when
  given, else the family's law at ``params0``);
* a *real* batch of ``real_g`` draws from D0 (``fresh:γ``: ``round(γ M_g)`` new points per fit;
  ``fixed:λ``: ``M_1`` points drawn once, at fit 1, and kept);
* a *pool*: ``accumulate`` fits every batch so far with equal weights, ``N_g = M_1 + … + M_g``
  points; ``accumulate-subsample`` fits a uniform subsample of ``M_g`` of them, drawn without
  replacement (:func:`collapse_theory.rng.subsample`: ``M_g`` integer draws per fit whatever
  ``N_g``).

With the family's exact shortcuts (:class:`~collapse_theory.family.Family` ``stats``/``merge``/
``fit_stats``) batches are sufficient statistics and pools are merged statistics (``O(1)``
memory); otherwise batches are points with weights (a zero weight pads a batch to its static
maximum size) and pools are buffers of points.  ``accumulate-subsample`` always keeps points.

Randomness: the engine gives fit ``g`` of trial ``i`` the key ``k = fold_in(fold_in(key, i), g)``;
the synthetic batch uses ``k`` itself, the real batch ``fold_in(k, 2³² − 1)``, the subsample
``fold_in(k, 2³² − 2)`` and a fit that asks for a key ``fold_in(k, 2³² − 3)``.  A family's
``sample`` may split its key: ``split(k, n)[i]`` is ``fold_in(k, i)`` (JAX's partitionable
Threefry), so the other streams take indices that no split reaches, else a sampler's second
key would be the real batch's and the two batches would share their noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, engine, policies, rng
from . import family as family_mod
from .family import Family

PyTree = Any
#: ``fold_in`` indices of the real batch's, the subsample's and the fit's keys (module doc).
REAL_STREAM, SUBSAMPLE_STREAM, FIT_STREAM = 2**32 - 1, 2**32 - 2, 2**32 - 3


class ChainResult(NamedTuple):
    """Recorded generations of a chain (a pytree).

    Attributes:
      generation: ``(R,)`` recorded generations; 0 is D0, ``g ≥ 1`` the ``g``-th fit.
      params: the family's params pytree (or ``observe(params)``), each leaf
        ``(trials, R, ...)``.  Generation 0 holds ``params0`` (NaN, or 0 for integer leaves,
        when D0 was given only as ``real`` data).
      size: ``(R,)`` points behind each recorded fit (``N_g``; 0 at generation 0).
      first_passage: ``first_passage(params)``'s events, each leaf ``(trials, ...)`` int32: the
        first generation at which the event held (0: at D0), ``−1`` if never by ``G``; ``None``
        unless asked.
      tally: ``tally(params)`` summed over fits ``1..g``, each leaf ``(trials, R, ...)``; ``None``
        unless asked.
    """

    generation: np.ndarray
    params: PyTree
    size: np.ndarray
    first_passage: PyTree = None
    tally: PyTree = None


class _State(NamedTuple):
    params: PyTree  # model g
    pool: PyTree  # merged statistics or (points, weights): accumulate pool, fixed real set
    n: jax.Array  # () int32 points in the pool buffer
    first: PyTree  # first-passage generations (int32, −1: not yet)
    tally: PyTree  # cumulative tallies
    d0: PyTree  # params0, kept for fresh draws from the family's D0 (else None)


class _Record(NamedTuple):
    params: PyTree
    tally: PyTree


class _Spec(NamedTuple):
    """The static configuration of a chain's step (hashable: the compile-cache key)."""

    family: Family
    policy: str
    syn_max: int
    real_max: int
    cap: int  # rows of the pool buffer (points path)
    rows: int  # points a fit sees (points path; 1 on the stats path)
    use_stats: bool
    real: Any  # None (D0 = the family at params0) or a _Real
    fit_keywords: frozenset
    sample_kw: tuple  # (("n_max", bound),) for a sample_stats that takes it, else ()
    first_passage: Callable | None
    tally: Callable | None


class _Real:
    """D0 given as data: a sampler ``real(key, n)`` or an array of points (drawn without
    replacement).  Hashed by the sampler or by the points' content, so that the same sampler or
    equal points reuse a chain's compiled code."""

    def __init__(self, real):
        if callable(real):
            self.sampler, self.points = real, None
        else:
            try:
                arr = np.asarray(real)
            except (TypeError, ValueError):
                raise TypeError("real must be None, an array of points or a callable "
                                f"real(key, n), got {type(real).__name__}") from None
            if arr.dtype == object or arr.ndim == 0 or arr.shape[0] == 0:
                raise ValueError(f"real as data must be a non-empty array of points (n, ...), "
                                 f"got shape {arr.shape} and dtype {arr.dtype}")
            if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
                raise ValueError("real must hold finite points; found NaN or inf")
            if arr.dtype == bool:
                raise TypeError("real must hold numbers, got booleans")
            if np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(engine.float_dtype())
            self.sampler, self.points = None, arr
        self.key = self.sampler if self.sampler is not None else engine.Content(self.points)

    def __eq__(self, other):
        return isinstance(other, _Real) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __call__(self, key, n: int):
        if self.sampler is not None:
            return self.sampler(key, n)
        total = self.points.shape[0]
        return jnp.asarray(self.points)[rng.subsample(key, total, n, n, total)]

    def shape(self, dtype_key) -> jax.ShapeDtypeStruct:
        if self.sampler is None:
            return jax.ShapeDtypeStruct((1,) + self.points.shape[1:],
                                        jax.dtypes.canonicalize_dtype(self.points.dtype))
        return engine.shape_of(_one_point(self.sampler), dtype_key)


def simulate(key, family: Family, params0=None, *, sample_size, generations: int, trials: int,
             policy="replace", real=None, record=None, observe=None, first_passage=None,
             tally=None, chunk_size=None, progress=False, memory_limit=None) -> ChainResult:
    """Run ``trials`` independent chains of ``family`` under a data ``policy``.

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)`` (bit for bit, whatever
        ``trials``, ``chunk_size`` or the device count).
      family: a :class:`~collapse_theory.family.Family`.
      params0: D0 as the family's params (model 0), or ``None`` when ``real`` gives D0.
      sample_size: ``M`` (int ≥ 1) or a schedule ``(M_1, ..., M_G)``.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      policy: ``"replace"``, ``"accumulate"``, ``"accumulate-subsample"``, ``"fresh:γ"``,
        ``"fixed:λ"`` or a :class:`~collapse_theory.policies.Policy` (module docstring).
      real: D0 as data, when it is not the family's own law: an array of points ``(n, *event)``
        (batches are drawn from it without replacement) or a sampler ``real(key, n)``.  Fit 1,
        ``fresh`` and ``fixed`` draw their real points from it.
      record: ``None`` or ``"all"`` (every generation), ``"log"`` or a list of generations.
      observe: ``observe(params) -> pytree`` recorded in place of the params (e.g. a KDE's
        moments without its centres); default: the params.
      first_passage: ``first_passage(params) -> pytree of bool``; records the first generation
        each event holds (e.g. a category's extinction).
      tally: ``tally(params) -> pytree of numbers`` summed over fits (e.g. degenerate fits).
      chunk_size: trials per chunk (default: bounded by the engine's memory budget).
      progress: report progress on stderr.
      memory_limit: bytes the run may use (default: this machine's physical memory, and an
        accelerator's own memory for what lives on it).  A run whose estimated memory (records,
        a chunk, per-generation inputs; from shapes alone) exceeds it is refused with a
        ``ValueError`` before any work (:func:`collapse_theory.engine.check_memory`).
    """
    if observe is not None and not callable(observe):
        raise TypeError(f"observe must be callable or None, got {observe!r}")
    chain, spec, sizes = _setup(key, family, params0, sample_size, generations, trials, policy,
                                real, record, first_passage, tally, chunk_size, progress,
                                memory_limit, _recorder(observe), 0)
    run = engine.run_chain(key, observe=_recorder(observe),
                           final=_final if first_passage else None, **chain)
    rec = run.records
    size = np.concatenate([[0], sizes.fit])[run.generation]
    return ChainResult(run.generation, rec.params, size, run.final, rec.tally)


def summarize(key, family: Family, params0=None, *, statistics: Callable, sample_size,
              generations: int, trials: int, policy="replace", real=None, record="log",
              keep: int = 4096, chunk_size=None, progress=False,
              memory_limit=None) -> engine.Summary:
    """Streaming summaries of ``statistics(params) -> {name: array}`` over trials (memory
    independent of ``trials``); the same chains, keys and arguments (``memory_limit``
    included) as :func:`simulate`.  See :class:`~collapse_theory.engine.Summary`."""
    if not callable(statistics):
        raise TypeError(f"statistics must be callable, got {statistics!r}")
    keep = _validate.integer("keep", keep, minimum=1)
    chain, _, _ = _setup(key, family, params0, sample_size, generations, trials, policy, real,
                         record, None, None, chunk_size, progress, memory_limit,
                         _statistics_observe(statistics), keep)
    return engine.summarize_chain(key, observe=_statistics_observe(statistics), keep=keep,
                                  **chain)


def _setup(key, family, params0, sample_size, generations, trials, policy, real, record,
           first_passage, tally, chunk_size, progress, memory_limit, observe, keep):
    """Validate at the Python boundary; return the engine's arguments, the spec and sizes.

    The run's memory is checked (``engine.check_run``, ``observe`` and ``keep`` as the engine
    will get them) on the shapes of generation 0 and of the per-generation inputs, before
    either is built: a refusal costs no allocation and no compiled operation."""
    key = _validate.key("key", key)
    family = family_mod.check(family)
    pol = policies.parse(policy)
    generations, trials = engine.check_counts(generations, trials, memory_limit)
    engine.check_records(generations, trials, record, keep, memory_limit)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=1)
    for name, fn in (("first_passage", first_passage), ("tally", tally)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None, got {fn!r}")
    if params0 is None and real is None:
        raise ValueError("give D0 as params0 (the family's params) or as real= data")
    real = None if real is None else _Real(real)
    sizes = policies.check_sizes(pol, m, 1)
    syn_max = int(sizes.synthetic.max()) if generations else 0
    real_max = int(sizes.real.max()) if generations else 0
    if real is not None and real.points is not None:
        need = max(real_max, syn_max if generations else 0)
        if need > real.points.shape[0]:
            raise ValueError(f"real holds {real.points.shape[0]} points but a batch draws {need} "
                             "of them without replacement; lower sample_size or give more data")
    use_stats = family.has_stats and pol.name != "accumulate-subsample"
    cap = 0
    if not use_stats and pol.name in ("accumulate", "accumulate-subsample"):
        cap = int(sizes.pool.max()) + syn_max if generations else 0
    rows = 1 if use_stats else _fit_rows(pol.name, syn_max, real_max, cap)
    fit_kw = family_mod.keywords(family.fit_stats if use_stats else family.fit)
    sample_kw = ()
    if use_stats and family.sample_stats is not None and family_mod.keywords(
            family.sample_stats, family_mod.SAMPLE_KEYWORDS):
        # Two compiled steps at most, whatever the sizes: n ≤ N_MAX_LIMIT, or no bound.
        small = max(syn_max, real_max if real is None else 0) <= family_mod.N_MAX_LIMIT
        sample_kw = (("n_max", family_mod.N_MAX_LIMIT if small else None),)
    if use_stats and family.sample_stats is not None and real is None:
        # Batches are drawn in law with traced sizes: key the compiled step on whether there
        # are batches, not on their sizes (one compilation for every sample size, or for
        # every sample_kw above).
        syn_max, real_max = min(syn_max, 1), min(real_max, 1)
    spec = _Spec(family, pol.name, syn_max, real_max, cap, rows, use_stats, real, fit_kw,
                 sample_kw, first_passage, tally)
    shape0 = jax.eval_shape(lambda: _state0(spec, key, params0))
    itype = jnp.asarray(0).dtype  # int64 with x64: batches beyond 2**31 − 1 points
    point_bytes = _point_bytes(spec, key, shape0.params)
    trial_bytes = 4 * (syn_max + real_max + cap) * point_bytes
    xs_shape = (jax.ShapeDtypeStruct((generations,), jnp.int32),
                jax.ShapeDtypeStruct((generations,), itype),
                jax.ShapeDtypeStruct((generations,), itype))
    engine.check_run(generations=generations, trials=trials, record=record,
                     chunk_size=chunk_size, state0=shape0, observe=observe, xs=xs_shape,
                     keep=keep, trial_bytes=trial_bytes, memory_limit=memory_limit)
    state0 = _state0(spec, key, params0)
    xs = (jnp.arange(1, generations + 1, dtype=jnp.int32),
          jnp.asarray(sizes.synthetic, itype), jnp.asarray(sizes.real, itype))
    step, first = _steps(spec)
    chain = dict(state0=state0, step=step, first_step=first, generations=generations,
                 trials=trials, record=record, xs=xs, chunk_size=chunk_size, progress=progress,
                 trial_bytes=trial_bytes,
                 label=f"{family.name} {pol}", memory_limit=memory_limit)
    return chain, spec, sizes


def fit_rows(policy, sample_size, generations: int) -> int:
    """The number of points ``fit`` receives on the points path (valid or zero-weight): ``M``
    (replace, accumulate-subsample), the real plus the synthetic batch (fresh, fixed), the pool
    buffer (accumulate).  A family whose params hold the points they were fitted to (a KDE's
    centres) shapes its ``params0`` with it."""
    pol = policies.parse(policy)
    generations = _validate.integer("generations", generations, minimum=0)
    sizes = policies.sizes(pol, _validate.schedule("sample_size", sample_size, generations,
                                                   minimum=1))
    if not generations:
        return 0
    syn_max, real_max = int(sizes.synthetic.max()), int(sizes.real.max())
    cap = int(sizes.pool.max()) + syn_max
    return _fit_rows(pol.name, syn_max, real_max, cap)


def _fit_rows(policy: str, syn_max: int, real_max: int, cap: int) -> int:
    if policy == "accumulate":
        return cap
    if policy in ("fresh", "fixed"):
        return real_max + syn_max
    return syn_max


def _point_bytes(spec: _Spec, key, params) -> int:
    return sum(int(math.prod(a.shape[1:])) * a.dtype.itemsize
               for a in jax.tree.leaves(_event(spec, key, params)))


def _rows(tree, n: int):
    """Shapes of ``n`` points shaped like ``tree``'s (leaves ``(1, *event)``)."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct((n,) + a.shape[1:], a.dtype), tree)


def _event(spec: _Spec, key, params):
    """Shapes and dtypes of one drawn point, each leaf ``(1, *event)`` (points may be a pytree
    whose leaves share the leading axis)."""
    if spec.real is not None:
        return spec.real.shape(key)
    return engine.shape_of(_one_point(spec.family.sample), key, params)


@functools.lru_cache(maxsize=128)
def _one_point(sample: Callable) -> Callable:
    """``sample(..., 1)``: one point of a family's ``sample(key, params, n)`` or of a real
    sampler ``real(key, n)``, as one long-lived function per sampler (``engine.shape_of``)."""
    return lambda *args: sample(*args, 1)


def _placeholder(tree):
    return jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype)
                        if jnp.issubdtype(s.dtype, jnp.inexact) else jnp.zeros(s.shape, s.dtype),
                        tree)


def _state0(spec: _Spec, key, params0) -> _State:
    """Generation 0: ``params0`` (or a placeholder shaped like fit 1's output), empty pools."""
    dtype = engine.float_dtype()
    if params0 is not None:
        params0 = jax.tree.map(lambda a: jnp.asarray(a, dtype) if isinstance(a, float)
                               else jnp.asarray(a), params0)
    fam = spec.family
    if params0 is None:
        n = max(spec.rows, 1)
        pts = _rows(spec.real.shape(key), n)
        w = jax.ShapeDtypeStruct((n,), dtype)
        if spec.use_stats:
            shape = jax.eval_shape(lambda p, w: _fit_call(spec, fam.stats(p, w), key, None),
                                   pts, w)
        else:
            shape = jax.eval_shape(lambda p, w: _fit_call(spec, (p, w), key, None), pts, w)
        params = _placeholder(shape)
    else:
        params = params0
        if spec.rows and not spec.use_stats:
            _check_params0(spec, key, params0)
    pool = ()
    if spec.use_stats and spec.policy in ("accumulate", "fixed"):
        pts = _event(spec, key, params)
        shape = jax.eval_shape(lambda p: fam.stats(p, jnp.ones((1,), dtype)), pts)
        pool = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shape)
    elif not spec.use_stats and spec.policy in ("accumulate", "accumulate-subsample", "fixed"):
        rows = spec.cap if spec.policy != "fixed" else spec.real_max
        pts = _rows(_event(spec, key, params), rows)
        pool = (jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), pts),
                jnp.zeros((rows,), dtype))
    first = tally = None
    if spec.first_passage is not None:
        if params0 is None:
            ev = jax.eval_shape(spec.first_passage, params)
            first = jax.tree.map(lambda s: jnp.full(s.shape, -1, jnp.int32), ev)
        else:
            first = jax.tree.map(lambda e: jnp.where(e, 0, -1).astype(jnp.int32),
                                 spec.first_passage(params))
    if spec.tally is not None:
        shape = jax.eval_shape(spec.tally, params)
        tally = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shape)
    d0 = params if spec.policy == "fresh" and spec.real is None else None
    return _State(params, pool, jnp.zeros((), jnp.int32), first, tally, d0)


def _check_params0(spec: _Spec, key, params0) -> None:
    """``params0`` is the chain's state at generation 0: it must have the shapes of ``fit``'s
    output on :func:`fit_rows` points (``ValueError`` otherwise)."""
    pts = _rows(_event(spec, key, params0), spec.rows)
    w = jax.ShapeDtypeStruct((spec.rows,), engine.float_dtype())
    want = jax.eval_shape(lambda p, w: _fit_call(spec, (p, w), key, params0), pts, w)
    want = jax.tree.map(lambda s: s.shape, want)
    got = jax.tree.map(jnp.shape, params0)
    if jax.tree.structure(want) != jax.tree.structure(got) or want != got:
        raise ValueError(f"params0 must have the shapes of the family's fit output on "
                         f"{spec.rows} points (chain.fit_rows), {want}; got {got}")


def _fit_call(spec: _Spec, data, key, previous):
    """The family's fit on ``data`` (statistics, or ``(points, weights)``)."""
    kw = {}
    if "key" in spec.fit_keywords:
        kw["key"] = key
    if "previous" in spec.fit_keywords:
        kw["previous"] = previous
    if spec.use_stats:
        return spec.family.fit_stats(data, **kw)
    return spec.family.fit(*data, **kw)


def _mask(n_max: int, n, dtype):
    return (jnp.arange(n_max) < n).astype(dtype)


@functools.lru_cache(maxsize=128)
def _steps(spec: _Spec):
    """The chain's step and its first step (fit 1, whose model ``g − 1`` is D0; ``None`` where
    the step is fit 1 at ``g = 1``); cached on the static spec so that the engine's compiled
    code is reused."""
    fam = spec.family
    dtype = engine.float_dtype()

    def from_model(k, params, n, n_max):
        """A batch of ``n`` draws of a model: statistics, or ``(points, weights)``."""
        if spec.use_stats and fam.sample_stats is not None:
            return fam.sample_stats(k, params, n, **dict(spec.sample_kw))
        batch = (fam.sample(k, params, n_max), _mask(n_max, n, dtype))
        return fam.stats(*batch) if spec.use_stats else batch

    def from_d0(k, params0, n, n_max):
        if spec.real is None:
            return from_model(k, params0, n, n_max)
        batch = (spec.real(k, n_max), _mask(n_max, n, dtype))
        return fam.stats(*batch) if spec.use_stats else batch

    def combine(a, b):
        if spec.use_stats:
            return fam.merge(a, b)
        return jax.tree.map(lambda x, y: jnp.concatenate([x, y]), a, b)

    def append(pool, n, batch):
        """Write a batch of points at row ``n`` of the pool buffer."""
        put = lambda buf, new: jax.lax.dynamic_update_slice(  # noqa: E731
            buf, new.astype(buf.dtype), (n,) + (jnp.zeros_like(n),) * (buf.ndim - 1))
        return jax.tree.map(put, pool, batch)

    def advance(k, s: _State, x, params0, first):
        """``first``: True for fit 1 compiled apart, False for g ≥ 2, or a traced ``g == 1``."""
        g, syn, real = x
        traced = not isinstance(first, bool)
        batch = None
        if spec.syn_max:
            batch = (from_d0(k, params0, syn, spec.syn_max) if first is True
                     else from_model(k, s.params, syn, spec.syn_max))
        k_real = rng.fold_in(k, REAL_STREAM)
        pool, n = s.pool, s.n
        if spec.policy == "replace":
            data = batch
        elif spec.policy == "fresh":
            fresh = from_d0(k_real, params0, real, spec.real_max) if spec.real_max else None
            data = batch if fresh is None else fresh if batch is None else combine(fresh, batch)
        elif spec.policy == "fixed":
            if first is True:
                pool = from_d0(k_real, params0, real, spec.real_max)
            elif traced:  # draw the real set at g = 1, then keep it
                pool = jax.lax.cond(first, lambda: from_d0(k_real, params0, real,
                                                           spec.real_max), lambda: pool)
            data = pool if batch is None else combine(pool, batch)
        elif spec.use_stats:  # accumulate
            pool = batch if first is True else fam.merge(pool, batch)
            if traced:  # the pool at g = 1 is the first batch
                pool = jax.tree.map(lambda b, p: jnp.where(first, b, p), batch, pool)
            data = pool
        else:  # accumulate, accumulate-subsample: a buffer of points
            pool, n = append(pool, n, batch), n + syn.astype(n.dtype)
            data = pool
            if spec.policy == "accumulate-subsample":
                k_sub = rng.fold_in(k, SUBSAMPLE_STREAM)
                pick = rng.subsample(k_sub, n, syn, spec.syn_max, spec.cap)
                data = (jax.tree.map(lambda a: a[pick], pool[0]), _mask(spec.syn_max, syn, dtype))
        params = _fit_call(spec, data, rng.fold_in(k, FIT_STREAM), s.params)
        first_ = s.first
        if spec.first_passage is not None:
            first_ = jax.tree.map(lambda f, e: jnp.where((f < 0) & e, g, f), s.first,
                                  spec.first_passage(params))
        tally = s.tally
        if spec.tally is not None:
            tally = jax.tree.map(lambda t, v: t + v, s.tally, spec.tally(params))
        return s._replace(params=params, pool=pool, n=n, first=first_, tally=tally)

    # Model 0 (D0) is the state's params at generation 0: fit 1 reads it from there.  Fit 1
    # is compiled apart only where its code differs from the step's (D0 as real data, a fixed
    # set of points); with statistics, accumulate and fixed run it as the step at g = 1 (one
    # compilation of the sampler and the fit, not two).
    separate = spec.real is not None or (spec.policy == "fixed" and not spec.use_stats)
    at_g1 = spec.real is None and spec.use_stats and spec.policy in ("accumulate", "fixed")

    def first_step(k, s, x):
        return advance(k, s, x, s.params, True)

    def step(k, s, x):
        if at_g1:
            return advance(k, s, x, s.params, x[0] == 1)
        return advance(k, s, x, s.d0, False)

    return step, first_step if separate else None


@functools.lru_cache(maxsize=128)
def _recorder(observe: Callable | None):
    """What the engine records: the params (or ``observe(params)``) and the tallies."""
    def record(s: _State) -> _Record:
        return _Record(s.params if observe is None else observe(s.params), s.tally)

    return record


def _final(s: _State):
    return s.first


@functools.lru_cache(maxsize=128)
def _statistics_observe(statistics: Callable):
    def observe(s: _State):
        return statistics(s.params)

    return observe
