r"""Kernel-density-estimation refitting chains (Kazdan et al. 2024, "Collapse or thrive?").

Model ``g`` is the 1-D Gaussian KDE ``f_g(x) = (1/N_g) Σ_j φ_h(x − x_j)`` on the ``N_g`` centres
it was fitted to, with bandwidth ``h_g`` fixed or a rule of thumb computed from those centres:

* ``"scott[:c]"``: ``h = c σ̂ N^{-1/5}`` (``c = 1``: scipy's ``gaussian_kde`` default),
* ``"silverman[:c]"``: ``h = c min(σ̂, IQR/1.34) N^{-1/5}`` (``c = 0.9``),

``σ̂`` the sample standard deviation (ddof 1) and IQR numpy's linearly interpolated quartile
range.  Its mean is the centres' mean and its variance ``V_g = s²_g + h²_g``, ``s²_g`` the
centres' variance with divisor ``N_g``.  Sampling ``M`` points from ``f_g`` picks centres
uniformly with replacement and adds ``h_g z``, ``z ~ N(0, 1)``.  Fit 1 sees ``M_1`` points of
D0; later fits see (:mod:`collapse_theory.policies`):

* ``"replace"``: the ``M_g`` samples of model ``g − 1`` (``N_g = M_g``);
* ``"accumulate"``: every batch so far, real batch first (``N_g = M_1 + … + M_g``);
* ``"fresh:γ"``: ``round(γ M_g)`` fresh points of D0 and ``M_g − round(γ M_g)`` samples.

Expectations in closed form: :mod:`collapse_theory.theory.kde` (derived in
``proofs/kde_variance.py``).

The centres are carried standardised, ``x_j = s (t + u_j)`` with ``Σ u_j = 0`` and
``Σ u_j² = N``, together with ``log s``, ``t`` (the mean in units of ``s``) and ``b = h/s``
(constant for Scott's rule).  Each refit multiplies ``s`` by a factor, so ``log s`` is a sum
of log factors: Scott's rule under replace makes ``V_g`` grow geometrically and a tiny fixed
``h`` keeps it small, and ``log_variance`` stays finite for any chain length in float32 and
float64 (only the recorded ``mean`` and ``centres`` overflow, once ``√V_g`` exceeds the
dtype's range).  Accumulate's pool keeps the real batch and neither collapses nor explodes:
its points stay in units of D0 and each batch's mean and scatter are merged into the pool's
(Chan et al.), O(M) arithmetic per fit.  Randomness: centre indices are 32-bit Threefry words
mod ``N`` (relative bias < ``N/2³²``), normals the inverse CDF of Threefry uniforms
(:mod:`.rng`).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, engine, fits, policies, rng
from .sources import RealData, real_data

#: Bandwidth rules of thumb and their default constants ``c`` (:mod:`collapse_theory.fits`).
RULES = fits.RULES
#: Data policies the KDE chain supports (see :mod:`collapse_theory.policies`).
POLICIES = fits.KDE_POLICIES
#: Bytes of point buffers one chunk of trials may hold.
_CHUNK_BYTES = 1 << 28

Bandwidth = fits.Bandwidth
parse_bandwidth = fits.parse_bandwidth
parse_policy = fits.kde_policy


class KDEResult(NamedTuple):
    """Recorded generations of a KDE refitting chain (a pytree).

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


class _State(NamedTuple):
    u: jax.Array  # (cap,) centres: standardised, or (accumulate) (x − μ0)/σ0; 0 beyond n
    n: jax.Array  # () int32 number of centres N_g
    log_s: jax.Array  # () log s_g, s² the centres' variance (divisor N_g)
    t: jax.Array  # () centres' mean / s_g
    b: jax.Array  # () h_g / s_g
    loc0: jax.Array  # () D0's mean
    log_std0: jax.Array  # () log of D0's standard deviation
    pmean: jax.Array  # () accumulate: mean of u over the pool
    pm2: jax.Array  # () accumulate: Σ (u − pmean)² over the pool


def simulate(key, *, sample_size, generations, trials, bandwidth="scott", policy="replace",
             data=None, mean=0.0, std=1.0, record=None, centres=False, chunk_size=None,
             progress=False) -> KDEResult:
    """Run ``trials`` independent KDE refitting chains for ``generations`` fits.

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      sample_size: ``M`` (int ≥ 2) or a schedule ``(M_1, ..., M_G)``: points drawn per fit.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      bandwidth: ``h > 0`` (fixed), ``"scott"``, ``"silverman"`` or ``"rule:c"`` (module doc).
      policy: ``"replace"``, ``"accumulate"`` or ``"fresh:γ"`` (or a ``policies.Policy``).
      data: D0's shape: ``None``/``"gaussian"``, another name of :mod:`collapse_theory.sources`
        or a :class:`~collapse_theory.sources.RealData`; D0 is ``mean + std ξ``.
      mean, std: D0's mean and standard deviation.
      record: ``None`` (all), ``"log"`` or a list of generations (``engine.run_chain``).
      centres: also record the centres (``(trials, R, cap)``: for small runs and figures).
      chunk_size: trials per chunk (default: bounded by buffer memory).
      progress: report progress on stderr.
    """
    key = _validate.key("key", key)
    generations = _validate.integer("generations", generations, minimum=0)
    trials = _validate.integer("trials", trials, minimum=1)
    bw = parse_bandwidth(bandwidth)
    pol = parse_policy(policy)
    source = real_data("gaussian" if data is None else data)
    loc0 = _validate.real("mean", mean)
    std0 = _validate.real("std", std, minimum=0.0, strict_minimum=True)
    if not isinstance(centres, bool):
        raise TypeError(f"centres must be a bool, got {centres!r}")
    m = _validate.schedule("sample_size", sample_size, generations, minimum=2)
    sz = policies.check_sizes(pol, m, 2)
    dtype = engine.float_dtype()

    syn_max = int(sz.synthetic.max()) if generations else 0
    real_max = int(sz.real.max()) if generations else 0
    m1 = int(m[0]) if generations else 0
    if pol.name == "accumulate":
        cap = int(sz.synthetic.sum()) + syn_max
    elif pol.name == "fresh":
        cap = real_max + syn_max
    else:
        cap = syn_max
    cap = max(cap, m1, 1)

    n_fit = sz.fit.astype(np.float64)
    corr = np.sqrt(n_fit / np.maximum(n_fit - 1.0, 1.0))  # σ̂ (ddof 1) / s
    factor = np.full(generations, bw.value) if bw.rule == "fixed" else bw.value * n_fit ** -0.2
    if bw.rule == "scott":
        factor = factor * corr
    xs = (jnp.asarray(sz.synthetic, jnp.int32), jnp.asarray(sz.real, jnp.int32),
          jnp.asarray(sz.fit, jnp.int32), jnp.asarray(factor, dtype), jnp.asarray(corr, dtype))
    state0 = _State(jnp.zeros(cap, dtype), jnp.zeros((), jnp.int32),
                    jnp.asarray(math.log(std0), dtype), jnp.asarray(loc0 / std0, dtype),
                    jnp.zeros((), dtype), jnp.asarray(loc0, dtype),
                    jnp.asarray(math.log(std0), dtype), jnp.zeros((), dtype),
                    jnp.zeros((), dtype))
    step, first = _steps(pol.name, bw.rule, syn_max, real_max, m1, cap, source,
                         np.dtype(dtype).name)
    if chunk_size is None:
        per_trial = (8 + (len(engine.record_generations(record, generations)) if centres else 0)
                     ) * cap * np.dtype(dtype).itemsize
        chunk_size = max(1, min(trials, _CHUNK_BYTES // per_trial))
    gens, rec, _ = engine.run_chain(
        key, state0=state0, step=step, first_step=first,
        observe=(_observe_pool_centres if pol.name == "accumulate" else _observe_centres)
        if centres else _observe, generations=generations,
        trials=trials, xs=xs, record=record, chunk_size=chunk_size, progress=progress,
        label=f"kde {bw} {pol}")
    size = np.concatenate([[0], sz.fit])[gens]
    return KDEResult(jnp.asarray(gens), *rec[:4], size, rec[4] if centres else None)


def _observe(s: _State):
    return (2.0 * s.log_s + jnp.log1p(s.b * s.b), 2.0 * s.log_s, s.log_s + jnp.log(s.b),
            s.t * jnp.exp(s.log_s))


def _observe_centres(s: _State):
    valid = jnp.arange(s.u.shape[0]) < s.n
    return (*_observe(s), jnp.where(valid, jnp.exp(s.log_s) * (s.t + s.u), jnp.nan))


def _observe_pool_centres(s: _State):
    valid = jnp.arange(s.u.shape[0]) < s.n
    return (*_observe(s), jnp.where(valid, s.loc0 + jnp.exp(s.log_std0) * s.u, jnp.nan))


def _quantile(sorted_u, n, q):
    """numpy's linearly interpolated ``q``-quantile of the first ``n`` sorted values."""
    pos = q * (n - 1).astype(sorted_u.dtype)
    lo = jnp.floor(pos).astype(jnp.int32)
    hi = jnp.minimum(lo + 1, n - 1)
    frac = pos - lo.astype(sorted_u.dtype)
    return sorted_u[lo] + frac * (sorted_u[hi] - sorted_u[lo])


@functools.lru_cache(maxsize=64)
def _steps(policy: str, rule: str, syn_max: int, real_max: int, m1: int, cap: int,
           source: RealData, dtype: str):
    """The chain's step and its first step (fit 1 on ``M_1`` points of D0); cached on the
    static configuration so that repeated runs reuse the engine's compiled code."""
    dtype = jnp.dtype(dtype)
    tiny = jnp.finfo(dtype).tiny

    def ratio(log_s, n, factor, corr, pts, mask, scale):
        """``b = h/s`` of the rule for centres ``pts`` whose standard deviation is ``scale``."""
        if rule == "fixed":
            return factor * jnp.exp(-log_s)
        if rule == "scott":
            return factor
        su = jnp.sort(jnp.where(mask, pts, jnp.inf))  # silverman: IQR/s from the sorted pool
        iqr = _quantile(su, n, 0.75) - _quantile(su, n, 0.25)
        return factor * jnp.minimum(corr, iqr / (1.34 * scale))

    def refit(s, v, n, factor, corr):
        """Fit the KDE to the first ``n`` entries of ``v`` (coordinates ``x/s − t``)."""
        mask = jnp.arange(cap) < n
        nf = n.astype(dtype)
        vbar = jnp.sum(jnp.where(mask, v, 0.0)) / nf
        c = jnp.where(mask, v - vbar, 0.0)
        sigma = jnp.maximum(jnp.sqrt(jnp.sum(c * c) / nf), tiny)
        u = c / sigma
        log_s = s.log_s + jnp.log(sigma)
        b = ratio(log_s, n, factor, corr, u, mask, 1.0)
        return s._replace(u=u, n=n, log_s=log_s, t=(s.t + vbar) / sigma, b=b)

    def pool(s, w, count, factor, corr):
        """Accumulate: append ``count`` points ``w`` (units of D0) and merge the pool's mean
        and scatter (Chan et al.), O(M) per fit; the pool keeps D0's bounded scale."""
        mask_w = jnp.arange(w.shape[0]) < count
        nb = count.astype(dtype)
        mb = jnp.sum(jnp.where(mask_w, w, 0.0)) / nb
        m2b = jnp.sum(jnp.where(mask_w, (w - mb) ** 2, 0.0))
        n_old = s.n.astype(dtype)
        n = s.n + count
        nf = n.astype(dtype)
        delta = mb - s.pmean
        pmean = s.pmean + delta * nb / nf
        pm2 = s.pm2 + m2b + delta * delta * n_old * nb / nf
        u = jax.lax.dynamic_update_slice(s.u, w, (s.n,))
        sd = jnp.maximum(jnp.sqrt(pm2 / nf), tiny)
        log_s = s.log_std0 + jnp.log(sd)
        b = ratio(log_s, n, factor, corr, u, jnp.arange(cap) < n, sd)
        t = (s.loc0 * jnp.exp(-s.log_std0) + pmean) / sd
        return s._replace(u=u, n=n, log_s=log_s, t=t, b=b, pmean=pmean, pm2=pm2)

    def normals(seed, stream, count):
        return rng.to_normal(rng.uniform(seed, stream, (count,), dtype))

    def standard_d0(k, seed, count):
        """``count`` draws of ξ, D0 = μ0 + σ0 ξ."""
        return (normals(seed, 2, count) if source.is_gaussian
                else source.sample(jax.random.fold_in(k, 2), (count,), dtype))

    def d0_points(k, seed, s, count):
        """``count`` points of D0 in the state's coordinates ``x/s − t``."""
        return ((s.loc0 * jnp.exp(-s.log_s) - s.t)
                + jnp.exp(s.log_std0 - s.log_s) * standard_d0(k, seed, count))

    def first(k, s, x):
        _, _, n, factor, corr = x
        seed = rng.seed(k)
        if policy == "accumulate":
            return pool(s, standard_d0(k, seed, m1), n, factor, corr)
        v = jnp.zeros(cap, dtype).at[:m1].set(d0_points(k, seed, s, m1))
        return refit(s, v, n, factor, corr)

    def step(k, s, x):
        syn, real, n, factor, corr = x
        seed = rng.seed(k)
        # centre J uniform on 0..n−1 (a 32-bit word mod n: relative bias < n/2³²), z ~ N(0, 1)
        word, _ = rng.words(seed, 0, jnp.arange(syn_max, dtype=jnp.uint32))
        idx = (word % jnp.maximum(s.n, 1).astype(jnp.uint32)).astype(jnp.int32)
        z = normals(seed, 1, syn_max)
        if policy == "accumulate":  # h in units of D0's σ0: b s/σ0
            return pool(s, s.u[idx] + s.b * jnp.exp(s.log_s - s.log_std0) * z, syn, factor,
                        corr)
        w = s.u[idx] + s.b * z
        if policy == "replace":
            v = jnp.zeros(cap, dtype).at[:syn_max].set(w)
        else:  # fresh: real points first, then the synthetic ones
            v = jnp.zeros(cap, dtype).at[:real_max].set(d0_points(k, seed, s, real_max))
            v = jax.lax.dynamic_update_slice(v, w, (real,))
        return refit(s, v, n, factor, corr)

    return step, first
