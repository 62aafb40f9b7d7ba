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
from .fits import RULES, Bandwidth, parse_bandwidth
from .sources import RealData, real_data

__all__ = ["RULES", "Bandwidth", "KDEResult", "Params", "family", "parse_bandwidth",
           "parse_policy", "simulate"]

#: Data policies the KDE chain supports (every policy of :mod:`collapse_theory.policies`).
POLICIES = policies.POLICIES
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
            live = w > 0
            su = jnp.sort(jnp.where(live, u[:, 0], jnp.inf))
            count = jnp.sum(live).astype(jnp.int32)
            iqr = _quantile(su, count, 0.75) - _quantile(su, count, 0.25)
            sd = jnp.minimum(sd, iqr / 1.34)
        return (factor * sd).reshape(1, 1)
    cov = (u * w[:, None]).T @ u / denom
    return factor * jnp.linalg.cholesky(cov)


def _refit(v, weights, log_s, t, bw: Bandwidth) -> Params:
    """The KDE fitted to the points ``x = s (t + v)`` (``s = e^{log_s}``) with ``weights``."""
    w = weights.astype(v.dtype)
    wsum = jnp.sum(w)
    live = (w > 0)[:, None]
    vbar = jnp.sum(w[:, None] * v, axis=0) / jnp.where(wsum > 0, wsum, 1.0)
    c = jnp.where(live, v - vbar, 0.0)
    var = jnp.sum(w[:, None] * c * c) / (wsum * v.shape[1])
    sigma = jnp.maximum(jnp.sqrt(var), jnp.finfo(v.dtype).tiny)
    u = c / sigma
    log_scale = log_s + jnp.log(sigma)
    return Params(u, w, (t + vbar) / sigma, log_scale, _kernel(u, w, log_scale, bw))


def _draw(key, p: Params, n: int):
    """``n`` draws of the KDE in its own coordinates ``v`` (``x = s (t + v)``): a centre with
    probability ``∝ w_j`` (inverse CDF of the cumulative weights) plus ``B z``."""
    k_idx, k_z = jax.random.split(key)
    cum = jnp.cumsum(p.weights)
    u = jax.random.uniform(k_idx, (n,), cum.dtype) * cum[-1]
    last = jnp.argmax(jnp.where(p.weights > 0, jnp.arange(cum.shape[0]), -1))
    idx = jnp.minimum(jnp.searchsorted(cum, u, side="right"), last)
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
             progress=False) -> KDEResult:
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
      record: ``None`` (all), ``"log"`` or a list of generations (``engine.run_chain``).
      centres: also record the centres (``(trials, R, cap)``: for small runs and figures).
      chunk_size: trials per chunk (default: bounded by the engine's memory budget).
      progress: report progress on stderr.
    """
    key = _validate.key("key", key)
    generations = _validate.integer("generations", generations, minimum=0)
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
    fam = _model_family(1, bw) if in_model else family(1, bw)
    rows = chain.fit_rows(pol, m, generations)
    dtype = engine.float_dtype()
    params0 = Params(jnp.zeros((rows, 1), dtype), jnp.zeros((rows,), dtype),
                     jnp.full((1,), loc0 / std0, dtype), jnp.asarray(math.log(std0), dtype),
                     jnp.zeros((1, 1), dtype))
    res = chain.simulate(key, fam, params0, sample_size=m, generations=generations,
                         trials=trials, policy=pol, real=_real_sampler(source, loc0, std0,
                                                                       in_model),
                         record=record, observe=_observe_centres if centres else _observe,
                         chunk_size=chunk_size, progress=progress)
    log_s, t, b, *pts = res.params
    mean_ = jnp.exp(log_s) * t
    log_var = 2.0 * log_s + jnp.log1p(b * b)
    out = KDEResult(jnp.asarray(res.generation), log_var, 2.0 * log_s,
                    log_s + jnp.log(jnp.abs(b)), mean_, np.concatenate([[0], sizes.fit])[
                        res.generation])
    if centres:
        u, w = pts
        order = jnp.argsort(w <= 0, axis=-1, stable=True)  # live centres first, in order
        x = jnp.exp(log_s)[..., None] * (t[..., None] + u)
        out = out._replace(centres=jnp.take_along_axis(jnp.where(w > 0, x, jnp.nan), order, -1))
    return out


def _observe(p: Params):
    """The 1-D moments: ``(log s, t, b)``."""
    return p.log_scale, p.shift[0], p.kernel[0, 0]


def _observe_centres(p: Params):
    return (*_observe(p), p.centres[:, 0], p.weights)
