r"""Discrete resampling chains: a categorical law refitted to ``M`` samples of itself.

Fit ``g`` draws ``c_g ~ Multinomial(M_g, q_{g−1})`` and refits ``q_g = c_g / M_g`` exactly
(Shumailov et al., "discrete distributions with exact approximation"; the neutral haploid
Wright–Fisher model with population ``M``), with ``q_0 = p_0``.  States with ``q ≲ 1/M`` vanish
first (early collapse: the tails), every extinct category stays extinct, and the chain is absorbed
in a delta, at category ``i`` with probability ``p_0(i)`` (late collapse).

*Smoothed fits* (the mutation analogue, no absorbing state): ``pseudocount=α`` adds α to every
count and ``mix=ε`` mixes with the uniform law,
``q_g = (1 − ε)(c_g + α)/(M_g + Kα) + ε/K``.

The categorical law is a :class:`~collapse_theory.family.Family` (:func:`family`), run by the
generic chain :func:`collapse_theory.chain.simulate` under every data policy.  Its sufficient
statistic is the count vector: counts are sampled exactly by conditional binomials
(:func:`collapse_theory.samplers.multinomial`) and kept as integers: int32 (``M ≤ 2^24``) or,
with ``jax_enable_x64``, int64 (``M`` up to ``10^9`` and beyond).  ``method="samples"`` draws the
labels one by one instead (the family without its shortcuts: the chain's points path).  Exact
references: :mod:`collapse_theory.theory.discrete`.

Recording: generation 0 is ``p_0`` itself (``DiscreteResult.probs0``) and has no counts, so
recorded generations lie in ``[1, G]`` and ``generation`` never contains 0.  Extinction and
fixation generations are the chain's first passages of :func:`events`, tracked at every
generation whatever is recorded.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, chain, engine, policies
from .family import Family
from .fits import fitted_probs as _fitted
from .samplers import multinomial
from .theory import discrete as theory

#: Largest exact sample size without x64 (counts carried as float32 integers).
MAX_SIZE_32 = 2**24
#: How counts are drawn: multinomial counts in law, or labels one by one.
METHODS = ("exact", "samples")


class DiscreteResult(NamedTuple):
    """Recorded fits of a discrete resampling chain.

    Attributes:
      generation: ``(R,)`` recorded generations, all in ``[1, G]`` (fit ``g``).
      counts: ``(trials, R, K)`` integer counts of the ``M_g`` samples behind fit ``g``
        (each row sums to ``M_g``).
      probs0: ``(K,)`` float64 ``p_0`` (generation 0).
      sample_size: ``(G,)`` int64 ``M_1..M_G``.
      extinction: ``(trials, K)`` int32, the first fit ``g ≥ 1`` with ``c_g(i) = 0``; ``0`` where
        ``p_0(i) = 0``; ``−1`` if the category was sampled at every fit up to ``G``.  In the plain
        chain extinction is absorbing; with smoothing it is a first passage.
      fixation: ``(trials,)`` int32, the first fit with one category holding all ``M_g`` samples;
        ``0`` if ``p_0`` is a delta; ``−1`` if none by ``G``.
      pseudocount, mix: the smoothing ``α`` and ``ε`` (0 for the plain chain).
    """

    generation: np.ndarray
    counts: jax.Array
    probs0: np.ndarray
    sample_size: np.ndarray
    extinction: jax.Array
    fixation: jax.Array
    pseudocount: float = 0.0
    mix: float = 0.0

    @property
    def fit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(M_g, a_g, b_g)`` at the recorded generations: ``q_g = a_g c_g/M_g + b_g``."""
        m = self.sample_size[self.generation - 1]
        a, b = theory.smoothing(m, self.probs0.size, self.pseudocount, self.mix)
        return m, a, b

    @property
    def probs(self) -> jax.Array:
        """``(trials, R, K)`` fitted distributions ``q_g`` (float; prefer the summaries)."""
        m, a, b = self.fit
        dtype = engine.float_dtype()
        return _fitted(self.counts, *(jnp.asarray(v, dtype)[:, None] for v in (m, a, b)))


class Params(NamedTuple):
    """A fitted categorical law (the family's params).

    Attributes:
      probs: ``(K,)`` float ``q_g = a c/N + b`` (smoothing ``(a, b)`` of
        :func:`collapse_theory.theory.discrete.smoothing`; ``c/N`` exactly when ``α = ε = 0``).
      counts: ``(K,)`` integer counts ``c`` of the ``N = Σ c`` points fit ``g`` used.  Model 0
        has no data: :func:`initial` puts the support indicator ``1{p_0 > 0}`` there.
    """

    probs: jax.Array
    counts: jax.Array


def initial(probs) -> Params:
    """Model 0 as :class:`Params`: ``p_0`` (:func:`check_probs`) and counts ``1{p_0 > 0}``, so
    that :func:`events` hold at generation 0 exactly where ``p_0(i) = 0`` / ``p_0`` is a delta."""
    p0 = check_probs(probs)
    return Params(jnp.asarray(p0, engine.float_dtype()), jnp.asarray(p0 > 0, _int_dtype()))


def events(params: Params):
    """First-passage events for :func:`collapse_theory.chain.simulate`: ``(extinct, fixed)``,
    ``c(i) = 0`` per category and ``#{i: c(i) > 0} = 1`` (one category holds every point)."""
    counts = params.counts
    return counts == 0, jnp.sum(counts > 0, axis=-1) == 1


def family(categories: int, pseudocount: float = 0.0, mix: float = 0.0, *,
           method: str = "exact") -> Family:
    """The categorical family on ``K = categories`` labels ``0..K−1`` (cached: the same
    arguments give the same object, so compiled chains are reused).

    ``fit`` is the smoothed maximum-likelihood fit ``q = (1 − ε)(c + α)/(N + Kα) + ε/K`` of the
    weighted label counts ``c`` (weights are integer multiplicities: 0 absent, 1 a point).  With
    ``method="exact"`` the count vector is the sufficient statistic (merge: add) and a batch of
    ``n`` draws is ``Multinomial(n, q)`` in law; ``"samples"`` leaves the shortcuts out, so a
    chain draws and pools the labels themselves.
    """
    categories = _validate.integer("categories", categories, minimum=1)
    pseudocount = _validate.real("pseudocount", pseudocount, minimum=0.0)
    mix = _validate.real("mix", mix, minimum=0.0, maximum=1.0)
    method = _validate.choice("method", method, METHODS)
    return _family(categories, pseudocount, mix, method)


@functools.lru_cache(maxsize=64)
def _family(k_cat: int, alpha: float, eps: float, method: str) -> Family:
    def sample(key, params, n):
        return jax.random.categorical(key, jnp.log(params.probs), shape=(n,)).astype(jnp.int32)

    def stats(points, weights):
        c = jax.ops.segment_sum(weights, points, num_segments=k_cat)
        return jnp.round(c).astype(_int_dtype())

    def fit_stats(counts):
        """``q = a c/N + b``, ``(a, b)`` of :func:`theory.smoothing` at ``N = Σ c``, in-graph."""
        ftype = engine.float_dtype()
        n = jnp.sum(counts).astype(ftype)
        if alpha == 0.0 and eps == 0.0:  # c/N exactly: zeros stay zeros
            return Params(counts.astype(ftype) / n, counts)
        denom = n + k_cat * alpha
        a, b = (1.0 - eps) * n / denom, (1.0 - eps) * alpha / denom + eps / k_cat
        return Params(_fitted(counts, n, a, b), counts)

    def fit(points, weights):
        return fit_stats(stats(points, weights))

    def sample_stats(key, params, n, *, n_max=None):
        return multinomial(key, n, params.probs, dtype=params.counts.dtype, n_max=n_max)

    name = f"discrete K={k_cat}"
    if method == "samples":
        return Family(sample, fit, name=name + " samples")
    return Family(sample, fit, stats, jnp.add, fit_stats, sample_stats, name=name)


def _int_dtype():
    """int64 with ``jax_enable_x64``, else int32 (the counts' dtype)."""
    return jnp.asarray(0).dtype


def zipf(categories: int, exponent: float) -> np.ndarray:
    """Zipf's law ``p_i ∝ i^{−s}``, ``i = 1..K`` (float64, sums to 1)."""
    categories = _validate.integer("categories", categories, minimum=1)
    exponent = _validate.real("exponent", exponent, minimum=0.0)
    w = np.arange(1, categories + 1, dtype=np.float64) ** -exponent
    return w / w.sum()


def check_probs(probs, *, normalize: bool = False) -> np.ndarray:
    """``probs`` as a float64 probability vector, or ``ValueError`` naming ``probs``.

    Rejects booleans (``TypeError``: ``[True, False]`` is no law), non-1-D or empty input,
    NaN/inf, negative entries and an all-zero vector.  A sum off 1 by more than ``1e-6`` is
    rejected (the message gives the sum) unless ``normalize=True``; within that tolerance the
    vector is rescaled to sum to 1 exactly.
    """
    raw = probs if hasattr(probs, "dtype") else np.asarray(probs, dtype=object)
    if raw.dtype == bool or (raw.dtype == object and any(
            isinstance(v, (bool, np.bool_)) for v in np.ravel(raw))):
        raise TypeError(f"probs must hold numbers (probabilities), not booleans, got {probs!r}")
    try:
        arr = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"probs must be a 1-D vector of numbers, got {probs!r}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"probs must be a non-empty 1-D vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"probs must be finite, got {arr.tolist()}")
    if np.any(arr < 0):
        raise ValueError(f"probs must be >= 0, got {arr.min()} at index {int(np.argmin(arr))}")
    total = float(arr.sum())
    if total <= 0:
        raise ValueError("probs must have a positive sum, got all zeros")
    if abs(total - 1.0) > 1e-6 and not normalize:
        raise ValueError(f"probs must sum to 1, got sum {total!r} "
                         "(pass normalize=True, or --normalize, to rescale)")
    return arr / total


def _record(record, generations: int) -> np.ndarray:
    """Recorded fits: all of ``1..G`` (None or ``"all"``), log-spaced (``"log"``) or a list in
    ``[1, G]``."""
    if isinstance(record, str):
        gens = engine.record_generations(record, generations)
        return gens[gens >= 1]
    if record is None:
        return np.arange(1, generations + 1)
    gens = engine.record_generations(record, generations)
    if gens[0] < 1:
        raise ValueError(f"record generations must lie in [1, generations={generations}] "
                         f"(generation 0 is probs0 and has no counts), got {record!r}")
    return gens


def _passages_at_d0(params: Params):
    """Shapes of what a 0-generation run returns per trial (its extinct and fixed passages)."""
    return jnp.zeros(params.probs.shape, jnp.int32), jnp.zeros((), jnp.int32)


def simulate(key, probs, *, sample_size, generations, trials, record=None, normalize=False,
             pseudocount=0.0, mix=0.0, chunk_size=None, progress=False,
             policy="replace", method="exact", memory_limit=None) -> DiscreteResult:
    """Run ``trials`` independent discrete resampling chains for ``generations`` fits.

    ``chain.simulate`` on :func:`family` from :func:`initial` ``(p_0)``, with :func:`events`
    as first passages; under ``replace`` fit ``g`` draws ``Multinomial(M_g, q_{g−1})`` with the
    generation key itself.

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      probs: ``p_0``, shape ``(K,)`` (see :func:`check_probs`; :func:`zipf` builds a Zipf law).
      sample_size: ``M`` (int) or a schedule ``(M_1, ..., M_G)``; ``M_g ≥ 1``, and
        ``M_g ≤ 2^24`` unless ``jax_enable_x64`` is on.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      record: ``None`` or ``"all"`` (every fit ``1..G``), ``"log"`` or a list of fits in
        ``[1, G]``.
      normalize: rescale ``probs`` that do not sum to 1 instead of rejecting them.
      pseudocount: add-α smoothing, ``α ≥ 0``.
      mix: weight ``ε ∈ [0, 1]`` of the uniform law in the fit.
      chunk_size: trials per chunk (default: the engine's memory budget).
      progress: report progress on stderr.
      policy: which data each fit sees (:mod:`collapse_theory.policies`): ``"replace"``
        (default), ``"accumulate"``, ``"accumulate-subsample"``, ``"fresh:γ"`` or ``"fixed:λ"``.
        Under a policy ``counts`` are the counts of the data fit ``g`` used and
        ``sample_size`` holds their totals ``N_g`` (e.g. ``M_1 + … + M_g`` under accumulate).
      method: ``"exact"`` (multinomial counts) or ``"samples"`` (labels drawn one by one; the
        same law, ``O(M K)`` work per fit).  ``accumulate-subsample`` always draws labels.
      memory_limit: bytes the run may use (default: this machine's physical memory; see
        :func:`collapse_theory.chain.simulate`): a run estimated to need more is refused with a
        ``ValueError`` before any work.
    """
    key = _validate.key("key", key)
    generations, trials = engine.check_counts(generations, trials, memory_limit)
    engine.check_records(generations, trials, record, memory_limit=memory_limit, first=1)
    p0, m, pol, sizes, alpha, eps, method = _checked(probs, normalize, sample_size, generations,
                                                    pseudocount, mix, policy, method)
    gens = _record(record, generations)
    params0 = initial(p0)
    if generations == 0:  # no chain: only (trials, K) first passages, checked like records
        engine.check_run(generations=0, trials=trials, record=None, chunk_size=chunk_size,
                         state0=params0, observe=_passages_at_d0, xs=(),
                         memory_limit=memory_limit)
        extinct, fixed = (np.asarray(e, np.int32) - 1 for e in events(params0))  # 0 or −1
        return DiscreteResult(gens, jnp.zeros((trials, 0, p0.size), _int_dtype()), p0, m,
                              jnp.broadcast_to(jnp.asarray(extinct), (trials, p0.size)),
                              jnp.full((trials,), fixed), alpha, eps)
    res = chain.simulate(key, family(p0.size, alpha, eps, method=method), params0,
                         sample_size=m, generations=generations, trials=trials, policy=pol,
                         record=gens, observe=_counts, first_passage=events,
                         chunk_size=chunk_size, progress=progress, memory_limit=memory_limit)
    extinct, fixed = res.first_passage
    return DiscreteResult(gens, res.params, p0, sizes.fit, extinct, fixed, alpha, eps)


def _counts(params: Params):
    """What a chain records: the counts (the fit ``q`` follows from them, α and ε)."""
    return params.counts


def _checked(probs, normalize, sample_size, generations, pseudocount, mix, policy, method):
    """The validated ``(p_0, M schedule, policy, its sizes, α, ε, method)`` of a run."""
    pol = policies.parse(policy)
    p0 = check_probs(probs, normalize=normalize)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=1)
    alpha = _validate.real("pseudocount", pseudocount, minimum=0.0)
    eps = _validate.real("mix", mix, minimum=0.0, maximum=1.0)
    method = _validate.choice("method", method, METHODS)
    x64 = jax.config.jax_enable_x64
    if m.size and m.max() > MAX_SIZE_32 and not x64:
        raise ValueError(f"sample_size must be <= 2**24 = {MAX_SIZE_32} without 64-bit JAX, got "
                         f"{int(m.max())}; enable x64 (jax.config.update('jax_enable_x64', True) "
                         f"or --x64) for larger sample sizes")
    sizes = policies.check_sizes(pol, m, 1)
    if sizes.pool.size and sizes.pool.max() > MAX_SIZE_32 and not x64:
        raise ValueError(f"policy {str(pol)!r}: the pool reaches {int(sizes.pool.max())} points, "
                         f"more than 2**24 without 64-bit JAX; enable x64 or shorten the run")
    return p0, m, pol, sizes, alpha, eps, method


#: Statistics :func:`simulate_summary` streams, functions of the fit ``q_g``.
SUMMARY_STATISTICS = ("support", "gini_simpson", "entropy", "total_variation", "lost_mass")


def simulate_summary(key, probs, *, sample_size, generations, trials,
                     statistics=("support", "gini_simpson"), keep=4096, record="log",
                     normalize=False, pseudocount=0.0, mix=0.0, chunk_size=None, progress=False,
                     policy="replace", method="exact", memory_limit=None) -> engine.Summary:
    """Streaming summaries instead of per-trial counts (:func:`collapse_theory.chain.summarize`):
    the same chains and keys as :func:`simulate`, memory independent of ``trials`` (no
    ``(trials, R, K)`` counts are kept).  Statistics (a dict in each
    :class:`~collapse_theory.engine.Summary` field), of the fit ``q_g``: ``"support"``
    ``#{i: q_g(i) > 0}``, ``"gini_simpson"`` ``1 − Σ q_g²``, ``"entropy"`` ``−Σ q_g log q_g``,
    ``"total_variation"`` ``½ Σ |q_g − p_0|``, ``"lost_mass"`` ``Σ_{i: q_g(i) = 0} p_0(i)`` (the
    KL to ``p_0`` is ``+inf`` once any of it is lost: a mean over trials says nothing, so it
    is not streamed; :func:`kl_divergence` on records).  ``record`` is ``"log"``, ``"all"`` or a list of generations
    in ``[0, G]`` (0 is ``p_0``); the other arguments as in :func:`simulate`.
    """
    key = _validate.key("key", key)
    names = _validate.choices("statistics", statistics, SUMMARY_STATISTICS)
    generations = _validate.integer("generations", generations, minimum=1)
    p0, m, pol, _, alpha, eps, method = _checked(probs, normalize, sample_size, generations,
                                                 pseudocount, mix, policy, method)
    return chain.summarize(key, family(p0.size, alpha, eps, method=method), initial(p0),
                           statistics=_summary_observe(names, tuple(p0.tolist())),
                           sample_size=m, generations=generations, trials=trials, policy=pol,
                           record=record, keep=keep, chunk_size=chunk_size, progress=progress,
                           memory_limit=memory_limit)


@functools.lru_cache(maxsize=32)
def _summary_observe(names: tuple, probs0: tuple):
    """The statistics of :func:`simulate_summary` (cached: the same names and ``p_0`` give the
    same function, so compiled chains are reused)."""
    p0 = np.asarray(probs0)

    def observe(params: Params):
        q = params.probs
        p = jnp.asarray(p0, q.dtype)
        xlogy = jax.scipy.special.xlogy
        stats = {"support": lambda: jnp.sum(q > 0, axis=-1),
                 "gini_simpson": lambda: 1.0 - jnp.sum(q ** 2, axis=-1),
                 "entropy": lambda: -jnp.sum(xlogy(q, q), axis=-1),
                 "total_variation": lambda: 0.5 * jnp.sum(jnp.abs(q - p), axis=-1),
                 "lost_mass": lambda: jnp.sum(jnp.where(q == 0, p, 0.0), axis=-1)}
        return {name: stats[name]() for name in names}

    return observe


# ---------------------------------------------------------------------------------------------
# Summaries: reductions over the categories, fused with the fit q = a c/M + b (never stored).


def _args(res: DiscreteResult):
    m, a, b = res.fit
    dtype = engine.float_dtype()
    col = lambda v: jnp.asarray(v, dtype)[:, None]  # noqa: E731  (R, 1) against (…, R, K)
    return res.counts, col(m), col(a), col(b)


@jax.jit
def _support(counts, m, a, b):
    return jnp.sum(_fitted(counts, m, a, b) > 0, axis=-1)


@jax.jit
def _gini_simpson(counts, m, a, b):
    return 1.0 - jnp.sum(_fitted(counts, m, a, b) ** 2, axis=-1)


@jax.jit
def _entropy(counts, m, a, b):
    q = _fitted(counts, m, a, b)
    return -jnp.sum(jax.scipy.special.xlogy(q, q), axis=-1)


@jax.jit
def _total_variation(counts, m, a, b, p0):
    return 0.5 * jnp.sum(jnp.abs(_fitted(counts, m, a, b) - p0), axis=-1)


@jax.jit
def _kl(counts, m, a, b, p0):
    q = _fitted(counts, m, a, b)
    xlogy = jax.scipy.special.xlogy
    return jnp.sum(xlogy(p0, p0) - xlogy(p0, q), axis=-1)


@jax.jit
def _tail_lost(counts, p0, tail):
    return jnp.sum(jnp.where(tail & (counts == 0), p0, 0.0), axis=-1)


def support_size(res: DiscreteResult) -> jax.Array:
    """``(trials, R)`` number of categories with ``q_g(i) > 0`` (always ``K`` when smoothed)."""
    return _support(*_args(res))


def gini_simpson(res: DiscreteResult) -> jax.Array:
    """``(trials, R)`` Gini–Simpson index ``H = 1 − Σ_i q_g(i)²``; ``E H_n = H_0(1 − 1/M)^n``."""
    return _gini_simpson(*_args(res))


def entropy(res: DiscreteResult) -> jax.Array:
    """``(trials, R)`` Shannon entropy ``−Σ q log q`` of the fit (nats)."""
    return _entropy(*_args(res))


def total_variation(res: DiscreteResult) -> jax.Array:
    """``(trials, R)`` total variation ``½ Σ_i |q_g(i) − p_0(i)|``."""
    return _total_variation(*_args(res), jnp.asarray(res.probs0, engine.float_dtype()))


def kl_divergence(res: DiscreteResult) -> jax.Array:
    """``(trials, R)`` ``KL(p_0 ‖ q_g) = Σ p_0 log(p_0/q_g)`` (nats).

    ``+inf`` (never NaN) once a category with ``p_0(i) > 0`` has ``q_g(i) = 0``: in the plain chain
    this happens at the first extinction and is permanent.
    """
    return _kl(*_args(res), jnp.asarray(res.probs0, engine.float_dtype()))


def tail_mass_lost(res: DiscreteResult, threshold: float) -> jax.Array:
    """``(trials, R)`` ``Σ p_0(i)`` over the tail ``p_0(i) < threshold`` with ``c_g(i) = 0``.

    The original probability of the tail categories that received no sample at fit ``g``
    (extinct, in the plain chain); at most ``Σ_{p_0 < threshold} p_0``.
    """
    threshold = _validate.real("threshold", threshold, minimum=0.0)
    p0 = jnp.asarray(res.probs0, engine.float_dtype())
    return _tail_lost(res.counts, p0, jnp.asarray(res.probs0 < threshold))


def absorption_generation(res: DiscreteResult) -> jax.Array:
    """``(trials, K)`` first fit at which category ``i`` is lost or holds all samples; ``−1`` if
    neither by ``G`` (plain chain: the absorption time ``T_i`` of
    :func:`collapse_theory.theory.discrete.absorption_time_pmf`).

    The category that fixes is the one never extinct; its absorption is the fixation generation.
    """
    fix = jnp.asarray(res.fixation)[:, None]
    ext = jnp.asarray(res.extinction)
    return jnp.where(ext >= 0, ext, jnp.where(fix >= 0, fix, -1))


class Summary(NamedTuple):
    """Per recorded fit, over trials (each ``(R,)``)."""

    generation: np.ndarray
    support: np.ndarray  # mean support size
    gini_simpson: np.ndarray  # mean H
    entropy: np.ndarray  # mean entropy (nats)
    total_variation: np.ndarray  # mean TV to p_0
    kl_infinite: np.ndarray  # fraction of trials with KL(p_0 ‖ q_g) = +inf
    tail_mass_lost: np.ndarray  # mean p_0-mass of the lost tail (p_0 < threshold)
    fixed: np.ndarray  # fraction of trials fixed (one category) by fit g


def summarize(res: DiscreteResult, tail_threshold: float | None = None) -> Summary:
    """Trial means of the summaries at each recorded fit (tail threshold default ``1/M_1``)."""
    if tail_threshold is None:
        tail_threshold = 1.0 / res.sample_size[0] if res.sample_size.size else 0.0
    mean = lambda a: np.asarray(jnp.mean(jnp.asarray(a, engine.float_dtype()), axis=0))  # noqa: E731
    kl = kl_divergence(res)
    fix = np.asarray(res.fixation)[:, None]
    fixed = np.mean((fix >= 0) & (fix <= res.generation[None, :]), axis=0)
    return Summary(res.generation, mean(support_size(res)), mean(gini_simpson(res)),
                   mean(entropy(res)), mean(total_variation(res)), mean(jnp.isinf(kl)),
                   mean(tail_mass_lost(res, tail_threshold)), fixed)
