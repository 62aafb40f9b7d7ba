r"""Kernel-density-estimation refitting chains (Kazdan et al. 2024, "Collapse or thrive?").

Model ``g`` is the Gaussian KDE ``f_g(x) = Σ_j w_j φ_H(x − x_j) / Σ_j w_j`` on the centres
``x_j`` it was fitted to (weights ``w_j``: 0/1 in the chains), kernel covariance ``H = h² I``
(a fixed ``h``, scikit-learn's unscaled rules) or ``f² Σ̂`` (scipy's rules), recomputed from the
centres at every fit (:class:`collapse_theory.fits.Bandwidth`).  In 1-D, with the default rules:

* ``"scott[:c]"``: ``h = c σ̂ N^{-1/5}`` (``c = 1``: scipy's ``gaussian_kde`` default),
* ``"silverman[:c]"``: ``h = c min(σ̂, IQR/1.34) N^{-1/5}`` (``c = 0.9``),

``σ̂`` the sample standard deviation (ddof 1) and IQR numpy's linearly interpolated quartile
range.  Its mean is the centres' mean and its variance ``V_g = s²_g + h²_g``, ``s²_g`` the
centres' variance with divisor ``N_g``.  Sampling ``M`` points picks centres with probability
``∝ w_j`` and adds ``H^{1/2} z``, ``z ~ N(0, I)``.

:func:`family` is the model family of :mod:`collapse_theory.chain` (any dimension, any data
policy: fit ``g`` sees what the policy gives it, the centres are the points it was fitted to);
:func:`simulate` runs the 1-D chain from D0 ``= mean + std ξ`` and returns :class:`KDEResult`.
Expectations in closed form: :mod:`collapse_theory.theory.kde` (``proofs/kde_variance.py``).

Params are carried standardised (:class:`Params`), ``x_j = s (t + u_j)`` with ``Σ w_j u_j = 0``
and ``s²`` the centres' variance per coordinate, kernel ``H = s² B Bᵀ``.  Under ``replace``,
:func:`simulate` draws its points in the model's own coordinates ``x = s (t + v)`` and refits
``v`` (the fit is equivariant under ``x → s x``), so ``log s`` is a sum of log factors: Scott's
rule makes ``V_g`` grow geometrically and ``log_variance`` stays finite for any chain length in
float32 and float64 (only the recorded ``mean`` and ``centres`` overflow, once ``√V_g`` exceeds
the dtype's range).  The other policies mix in real points, which keeps the scale bounded: their
points are in data units.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, chain, engine, policies
from .family import Family
from .fits import KDE_POLICIES, RULES, Bandwidth, parse_bandwidth
from .sources import RealData, real_data

__all__ = ["RULES", "Bandwidth", "KDEResult", "Params", "family", "parse_bandwidth",
           "parse_policy", "simulate"]

#: Data policies the KDE chain supports (every policy of :mod:`collapse_theory.policies`).
POLICIES = policies.POLICIES
#: Policies with closed forms (:mod:`collapse_theory.theory.kde`).
CLOSED_FORM_POLICIES = KDE_POLICIES
parse_policy = policies.parse


class Params(NamedTuple):
    """A fitted KDE: centres ``x_j = s (t + u_j)`` with weights ``w_j``, kernel covariance
    ``H = s² B Bᵀ``, ``s = exp(log_scale)`` (``s²`` the centres' variance per coordinate)."""

    centres: jax.Array  # (n, d) u_j, weighted mean 0 (0 where w_j = 0)
    weights: jax.Array  # (n,) w_j ≥ 0; 0: no centre
    shift: jax.Array  # (d,) t, the centres' mean in units of s
    log_scale: jax.Array  # () log s
    kernel: jax.Array  # (d, d) B, lower triangular


class KDEResult(NamedTuple):
    """Recorded generations of a 1-D KDE refitting chain (a pytree).

    Attributes:
      generation: ``(R,)`` recorded generations; 0 is D0 (``h_0 = 0``), ``g ≥ 1`` fit ``g``.
      log_variance: ``(trials, R)`` log of the model variance ``V_g = s²_g + h²_g``.
      log_centre_variance: ``(trials, R)`` log ``s²_g`` (centres' variance, divisor ``N_g``;
        D0's variance at generation 0).
      log_bandwidth: ``(trials, R)`` log ``h_g`` (``−inf`` at generation 0 only).
      mean: ``(trials, R)`` the centres' mean (the model's mean; finite while √V_g is).
      size: ``(R,)`` number of centres ``N_g`` (0 at generation 0).
      centres: ``(trials, R, cap)`` the centres, NaN beyond ``size`` (``None`` unless asked).
    """

    generation: jax.Array
    log_variance: jax.Array
    log_centre_variance: jax.Array
    log_bandwidth: jax.Array
    mean: jax.Array
    size: np.ndarray
    centres: jax.Array | None = None

    @property
    def variance(self) -> jax.Array:
        """Model variance ``V_g`` (may overflow where ``log_variance`` does not)."""
        return jnp.exp(self.log_variance)

    @property
    def bandwidth(self) -> jax.Array:
        """Bandwidth ``h_g`` (0 at generation 0)."""
        return jnp.exp(self.log_bandwidth)

    def density(self, x, trial: int = 0) -> np.ndarray:
        """``f_g(x)`` of one trial at every recorded generation, ``(R, len(x))`` (needs the
        centres; rows without centres — generation 0, D0 — are NaN)."""
        if self.centres is None:
            raise ValueError("density needs the centres: simulate(..., centres=True)")
        x = np.asarray(x, dtype=np.float64)
        c = np.asarray(self.centres[trial], np.float64)
        h = np.asarray(self.bandwidth[trial], np.float64)
        out = np.full((c.shape[0], x.size), np.nan)
        for r in range(c.shape[0]):
            pts = c[r, :int(self.size[r])]
            if pts.size and h[r] > 0:
                z = (x[:, None] - pts[None, :]) / h[r]
                out[r] = np.exp(-0.5 * z**2).sum(1) / (pts.size * h[r] * math.sqrt(2 * math.pi))
        return out


# ---------------------------------------------------------------------------------------------
# The fit and the sampler, in the standardised coordinates of Params


def _quantile(sorted_u, n, q):
    """numpy's linearly interpolated ``q``-quantile of the first ``n`` sorted values."""
    pos = q * (n - 1).astype(sorted_u.dtype)
    lo = jnp.floor(pos).astype(jnp.int32)
    hi = jnp.minimum(lo + 1, n - 1)
    frac = pos - lo.astype(sorted_u.dtype)
    return sorted_u[lo] + frac * (sorted_u[hi] - sorted_u[lo])


def _iqr(x, live):
    """numpy's interquartile range of the entries of ``x`` where ``live``."""
    xs = jnp.sort(jnp.where(live, x, jnp.inf))
    count = jnp.sum(live).astype(jnp.int32)
    return _quantile(xs, count, 0.75) - _quantile(xs, count, 0.25)


def _kernel(u, w, log_s, bw: Bandwidth):
    r"""``B`` (kernel ``H = s² B Bᵀ``) of the rule ``bw`` for centres ``u`` (units of ``s``) with
    weights ``w``: ``f Σ̂_u^{1/2}`` for a scaled rule, with ``Σ̂_u = Σ w u uᵀ/(W − W₂/W)`` the
    weighted unbiased covariance (``W = Σw``, ``W₂ = Σw²``, ``N = W²/W₂``), ``(h/s) I`` else."""
    dim = u.shape[1]
    wsum, w2 = jnp.sum(w), jnp.sum(w * w)
    n = wsum * wsum / jnp.where(w2 > 0, w2, 1.0)
    factor = bw.factor(n, dim)
    if not bw.scaled:
        return jnp.exp(jnp.log(factor) - log_s) * jnp.eye(dim, dtype=u.dtype)
    denom = wsum - w2 / wsum
    if dim == 1:
        sd = jnp.sqrt(wsum / denom)  # Σ w u² = W by construction of u
        if bw.rule == "silverman":
            sd = jnp.minimum(sd, _iqr(u[:, 0], w > 0) / 1.34)
        return (factor * sd).reshape(1, 1)
    cov = (u * w[:, None]).T @ u / denom
    return factor * jnp.linalg.cholesky(cov)


def _refit(v, weights, log_s, t, bw: Bandwidth) -> Params:
    """The KDE fitted to the points ``x = s (t + v)`` (``s = e^{log_s}``) with ``weights``."""
    w = weights.astype(v.dtype)
    # 1-D points as a flat vector: XLA:CPU reduces (n, 1) over n ~40x slower than (n,).
    x = v[:, 0] if v.shape[1] == 1 else v
    wx = w if x.ndim == 1 else w[:, None]
    wsum = jnp.sum(w)
    vbar = jnp.sum(wx * x, axis=0) / jnp.where(wsum > 0, wsum, 1.0)
    c = jnp.where(wx > 0, x - vbar, 0.0)
    var = jnp.sum(wx * c * c) / (wsum * v.shape[1])
    sigma = jnp.maximum(jnp.sqrt(var), jnp.finfo(v.dtype).tiny)
    u = (c / sigma).reshape(v.shape)
    log_scale = log_s + jnp.log(sigma)
    shift = (t + vbar.reshape(t.shape)) / sigma
    return Params(u, w, shift, log_scale, _kernel(u, w, log_scale, bw))


def _categorical(key, weights, n: int):
    """``n`` indices drawn with probability ``∝ weights`` (``≥ 0``, some positive), by
    rejection: a row uniform on ``0..last`` (the last positive weight) is kept with probability
    ``w/max w``.  Rounds are repeated until every draw is kept (each draw's rounds use its own
    counters, so the result does not depend on the batch): ``(last + 1) max w / Σw`` rounds on
    average, 1 for equal weights on a prefix of rows (a pool, a padded batch).  This avoids a
    cumulative sum over all rows, which costs ~25 ns a row on XLA:CPU."""
    last = jnp.argmax(jnp.where(weights > 0, jnp.arange(weights.shape[0]), -1))
    top = jnp.max(weights)

    def draw(state):
        i, idx, done = state
        k_row, k_keep = jax.random.split(jax.random.fold_in(key, i))
        row = jax.random.randint(k_row, (n,), 0, last + 1, jnp.int32)
        keep = jax.random.uniform(k_keep, (n,), weights.dtype) * top < weights[row]
        return i + 1, jnp.where(done, idx, row), done | keep

    done0 = jnp.full((n,), ~(top > 0) | ~jnp.isfinite(top))  # no positive weight: index 0
    state = (jnp.zeros((), jnp.uint32), jnp.zeros((n,), jnp.int32), done0)
    return jax.lax.while_loop(lambda s: ~jnp.all(s[2]), draw, state)[1]


def _draw(key, p: Params, n: int):
    """``n`` draws of the KDE in its own coordinates ``v`` (``x = s (t + v)``): a centre with
    probability ``∝ w_j`` (:func:`_categorical`) plus ``B z``."""
    k_idx, k_z = jax.random.split(key)
    idx = _categorical(k_idx, p.weights, n)
    z = jax.random.normal(k_z, (n, p.centres.shape[1]), p.centres.dtype)
    return p.centres[idx] + z @ p.kernel.T


@functools.lru_cache(maxsize=32)
def family(dim: int = 1, bandwidth="scott") -> Family:
    """The Gaussian KDE family in ``dim`` dimensions (params :class:`Params`, points
    ``(n, dim)`` in data units; module docstring): ``fit`` places a centre at every point of
    positive weight, ``sample`` draws from the KDE.  Scaled rules need more than ``dim`` points
    of positive weight; the Silverman IQR rule is 1-D."""
    dim = _validate.integer("dim", dim, minimum=1)
    bw = parse_bandwidth(bandwidth)
    if bw.rule == "silverman" and dim != 1:
        raise ValueError(f"bandwidth 'silverman' (the IQR rule) is 1-D, got dim={dim}; use "
                         "'scipy-silverman' or 'sklearn-silverman'")

    def sample(key, params: Params, n: int):
        return jnp.exp(params.log_scale) * (params.shift + _draw(key, params, n))

    def fit(points, weights) -> Params:
        zero = jnp.zeros((), points.dtype)
        return _refit(points, weights, zero, jnp.zeros_like(points[0]), bw)

    return Family(sample, fit, name=f"kde d={dim} {bw}")


@functools.lru_cache(maxsize=32)
def _model_family(dim: int, bw: Bandwidth) -> Family:
    """:func:`family` with its points in the model's own coordinates ``v``, ``x = s (t + v)``
    (replace: ``fit`` maps the fit of ``v`` by ``previous``, exact in log scale)."""
    def fit(v, weights, *, previous: Params) -> Params:
        return _refit(v, weights, previous.log_scale, previous.shift, bw)

    return Family(_draw, fit, name=f"kde d={dim} {bw}")


class _Pool(NamedTuple):
    """The 1-D KDE of :func:`simulate` under ``accumulate``: the pool's points in data units
    (rows ``0..n−1``), their mean, ``log s`` (``s²`` their variance, divisor ``n``) and
    ``b = h/s``."""

    centres: jax.Array  # (cap,)
    n: jax.Array  # ()
    mean: jax.Array  # ()
    log_scale: jax.Array  # ()
    kernel: jax.Array  # () b


class _PoolStats(NamedTuple):
    """A batch merged into the pool: Chan's ``(n, mean, M2)`` of every point so far and the
    latest batch's points (its first ``count`` rows)."""

    n: jax.Array
    mean: jax.Array
    m2: jax.Array
    batch: jax.Array  # (syn_max,)
    count: jax.Array


@functools.lru_cache(maxsize=32)
def _pool_family(bw: Bandwidth, syn_max: int) -> Family:
    """:func:`family` under ``accumulate`` in ``O(M)`` per fit: the chain's merged statistics
    are the pool's moments (Chan et al.) plus the latest batch, which ``fit_stats`` writes into
    the previous fit's centres (``previous``), so the pool is never re-read (Silverman's IQR
    excepted).  Valid only for the accumulate policy, batches of at most ``syn_max`` points."""
    def stats(points, weights) -> _PoolStats:
        x, w = points[:, 0], weights.astype(points.dtype)
        n = jnp.sum(w)
        mean = jnp.sum(w * x) / jnp.maximum(n, 1.0)
        batch = jnp.zeros((syn_max,), x.dtype).at[:min(x.shape[0], syn_max)].set(x[:syn_max])
        return _PoolStats(n, mean, jnp.sum(w * (x - mean) ** 2), batch, n)

    def merge(a: _PoolStats, b: _PoolStats) -> _PoolStats:
        n = a.n + b.n
        delta = b.mean - a.mean
        frac = b.n / jnp.maximum(n, 1.0)
        return _PoolStats(n, a.mean + delta * frac, a.m2 + b.m2 + delta * delta * a.n * frac,
                          b.batch, b.count)

    def fit_stats(s: _PoolStats, *, previous: _Pool) -> _Pool:
        start = (s.n - s.count).astype(jnp.int32)
        centres = jax.lax.dynamic_update_slice(previous.centres, s.batch, (start,))
        log_s = 0.5 * jnp.log(jnp.maximum(s.m2 / s.n, jnp.finfo(s.m2.dtype).tiny))
        factor = bw.factor(s.n)
        if not bw.scaled:
            return _Pool(centres, s.n, s.mean, log_s, jnp.exp(jnp.log(factor) - log_s))
        sd = jnp.sqrt(s.n / (s.n - 1.0))
        if bw.rule == "silverman":
            live = jnp.arange(centres.shape[0]) < s.n
            sd = jnp.minimum(sd, _iqr(centres, live) * jnp.exp(-log_s) / 1.34)
        return _Pool(centres, s.n, s.mean, log_s, factor * sd)

    def fit(points, weights, *, previous: _Pool) -> _Pool:
        return fit_stats(stats(points, weights), previous=previous)

    def sample(key, p: _Pool, n: int):
        k_idx, k_z = jax.random.split(key)
        idx = jax.random.randint(k_idx, (n,), 0, p.n.astype(jnp.int32))
        z = jax.random.normal(k_z, (n,), p.centres.dtype)
        return (p.centres[idx] + jnp.exp(p.log_scale) * p.kernel * z)[:, None]

    return Family(sample, fit, stats, merge, fit_stats, name=f"kde d=1 {bw} accumulate")


@functools.lru_cache(maxsize=32)
def _real_sampler(source: RealData, mean: float, std: float, standardised: bool):
    """D0 as ``real(key, n)``: ``n`` points ``mean + std ξ`` (``ξ`` itself when
    ``standardised``: the model coordinates of params0)."""
    def real(key, n: int):
        xi = source.sample(key, (n, 1), engine.float_dtype())
        return xi if standardised else mean + std * xi

    return real


def simulate(key, *, sample_size, generations, trials, bandwidth="scott", policy="replace",
             data=None, mean=0.0, std=1.0, record=None, centres=False, chunk_size=None,
             progress=False, memory_limit=None) -> KDEResult:
    """Run ``trials`` independent 1-D KDE refitting chains for ``generations`` fits
    (:func:`collapse_theory.chain.simulate` on :func:`family`).

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      sample_size: ``M`` (int ≥ 2) or a schedule ``(M_1, ..., M_G)``: points drawn per fit.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      bandwidth: ``h > 0`` (fixed), a rule of :data:`RULES` or ``"rule:c"``
        (:class:`~collapse_theory.fits.Bandwidth`).
      policy: any data policy (``"replace"``, ``"accumulate"``, ``"accumulate-subsample"``,
        ``"fresh:γ"``, ``"fixed:λ"``) or a :class:`~collapse_theory.policies.Policy`.
      data: D0's shape: ``None``/``"gaussian"``, another name of :mod:`collapse_theory.sources`
        or a :class:`~collapse_theory.sources.RealData`; D0 is ``mean + std ξ``.
      mean, std: D0's mean and standard deviation.
      record: ``None`` or ``"all"`` (every generation), ``"log"`` or a list of generations
        (``engine.run_chain``).
      centres: also record the centres (``(trials, R, cap)``: for small runs and figures).
      chunk_size: trials per chunk (default: bounded by the engine's memory budget).
      progress: report progress on stderr.
      memory_limit: bytes the run may use (default: this machine's physical memory; see
        :func:`collapse_theory.chain.simulate`): a run estimated to need more is refused with a
        ``ValueError`` before any work.
    """
    key = _validate.key("key", key)
    generations, trials = engine.check_counts(generations, trials, memory_limit)
    engine.check_records(generations, trials, record, memory_limit=memory_limit)
    bw = parse_bandwidth(bandwidth)
    pol = parse_policy(policy)
    source = real_data("gaussian" if data is None else data)
    loc0 = _validate.real("mean", mean)
    std0 = _validate.real("std", std, minimum=0.0, strict_minimum=True)
    if not isinstance(centres, bool):
        raise TypeError(f"centres must be a bool, got {centres!r}")
    m = _validate.schedule("sample_size", sample_size, generations, minimum=2)
    sizes = policies.check_sizes(pol, m, 2)
    in_model = pol.name == "replace"
    rows = chain.fit_rows(pol, m, generations)
    dtype = engine.float_dtype()
    engine.check_state((rows * (1 if pol.name == "accumulate" else 2) + 4)
                       * np.dtype(dtype).itemsize,
                       f"the KDE's {rows} centres per trial", memory_limit)
    zero, log_std0 = jnp.zeros((), dtype), jnp.asarray(math.log(std0), dtype)
    if pol.name == "accumulate":
        fam = _pool_family(bw, int(sizes.synthetic.max()) if generations else 0)
        params0 = _Pool(jnp.zeros((rows,), dtype), zero, jnp.asarray(loc0, dtype), log_std0,
                        zero)
    else:
        fam = _model_family(1, bw) if in_model else family(1, bw)
        params0 = Params(jnp.zeros((rows, 1), dtype), jnp.zeros((rows,), dtype),
                         jnp.full((1,), loc0 / std0, dtype), log_std0, jnp.zeros((1, 1), dtype))
    res = chain.simulate(key, fam, params0, sample_size=m, generations=generations,
                         trials=trials, policy=pol, real=_real_sampler(source, loc0, std0,
                                                                       in_model),
                         record=record, observe=_observer(pol.name == "accumulate", centres),
                         chunk_size=chunk_size, progress=progress, memory_limit=memory_limit)
    log_s, mean_, b, *pts = res.params
    out = KDEResult(jnp.asarray(res.generation), 2.0 * log_s + jnp.log1p(b * b), 2.0 * log_s,
                    log_s + jnp.log(jnp.abs(b)), mean_,
                    np.concatenate([[0], sizes.fit])[res.generation])
    if centres:
        x, live = pts
        order = jnp.argsort(~live, axis=-1, stable=True)  # live centres first, in order
        out = out._replace(centres=jnp.take_along_axis(jnp.where(live, x, jnp.nan), order, -1))
    return out


@functools.lru_cache(maxsize=4)
def _observer(pool: bool, centres: bool):
    """What :func:`simulate` records (one function per configuration: the compile-cache key)."""
    observe = _observe_pool if pool else _observe
    return lambda p: observe(p, centres)


def _observe(p: Params, centres: bool):
    """``(log s, mean, b)`` of a 1-D fit, then (``centres``) its centres and where they are."""
    s = jnp.exp(p.log_scale)
    out = (p.log_scale, s * p.shift[0], p.kernel[0, 0])
    return out + (s * (p.shift[0] + p.centres[:, 0]), p.weights > 0) if centres else out


def _observe_pool(p: _Pool, centres: bool):
    out = (p.log_scale, p.mean, p.kernel)
    return out + (p.centres, jnp.arange(p.centres.shape[0]) < p.n) if centres else out
