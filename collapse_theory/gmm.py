r"""The Gaussian-mixture refitting chain of Shumailov et al. (2024), trials in parallel.

Generation 0 is the original mixture D0; under ``replace`` fit ``g`` draws ``M_g`` points from
generation ``g − 1`` (other data policies: :mod:`collapse_theory.chain`, on the
:func:`family`) and fits a ``K``-component, full-covariance Gaussian mixture to them by EM (the paper:
``K = 2``, 2-D, ``M = 1000``, 2000 generations; its single run's component std fell 0.90 → 0.010).

EM (:func:`fit`) follows scikit-learn's ``GaussianMixture`` so that one fit can be checked
against it: responsibilities by log-sum-exp, M-step ``a_k = N_k/M``, ``μ_k = Σ r x/N_k``,
``Σ_k = Σ r (x − μ_k)(x − μ_k)ᵀ/N_k + reg_covar·I`` (weighted points: ``r → w r``,
``M → Σ w``; a zero weight is an absent point), stopping once the mean log-likelihood
(computed at each E-step) changes by less than ``tol`` or after ``em_steps`` iterations.
Under ``vmap`` the ``lax.while_loop`` runs until the slowest trial stops; a stopped trial's
state is frozen (JAX's batching of ``while_loop`` selects the old carry where the predicate is
false), so each trial's fit is the one it would get alone.

Diagnostics, never silent:

* the covariance floor ``reg_covar`` (sklearn's default 1e-6) is always added; a fit counts as
  *floored* when ``reg_covar`` is at least :data:`FLOOR_SHARE` of the smallest eigenvalue of a
  component's regularised covariance (the floor then shapes that component);
* a component whose responsibility mass ``N_k`` falls below :data:`EMPTY_MASS` points is
  *empty*: it keeps its previous mean and covariance and gets weight ``N_k/M`` (finite, ~0);
* a covariance whose Cholesky factorisation fails (not finite) is *singular*: the previous
  factor is kept.

Each fit's :class:`Fit` carries them; :func:`simulate` counts them per trial, cumulatively up to
every recorded generation (the chain's ``tally=``, :func:`tally`), with the fits that stopped
at ``em_steps`` without meeting ``tol``.

The floor is not negligible in long chains: a component refitted on ``N`` of its own points has
``E Σ' = Σ (N − 1)/N + reg_covar·I``, whose fixed point is ``Σ = N·reg_covar·I``, so collapse
stops near std ``√(N reg_covar)`` (≈ 0.03 at ``N = 1000`` with 1e-6) instead of going to 0;
``floored_fits`` says when a trial got there.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from . import _validate, chain, engine, policies
from .family import Family
from .mixture import Mixture, component_log_pdf, paper_mixture

INITS = ("warm", "kmeans++")
#: A fit is floored when reg_covar ≥ FLOOR_SHARE × the smallest eigenvalue of a covariance.
FLOOR_SHARE = 0.01
#: A component with less responsibility mass than this many points is empty.
EMPTY_MASS = 1e-3
#: Lloyd iterations after k-means++ seeding (``init="kmeans++"``).
LLOYD_STEPS = 10


class Fit(NamedTuple):
    """One EM fit: the mixture and its diagnostics (see the module docstring)."""

    mixture: Mixture
    iterations: jax.Array  # int32: EM iterations run (E-step + M-step pairs)
    converged: jax.Array  # bool: |Δ mean log-likelihood| < tol before em_steps ran out
    log_likelihood: jax.Array  # mean log-likelihood at the last E-step
    floored: jax.Array  # bool: the covariance floor shaped a component of the final fit
    empty: jax.Array  # int32: components empty at some iteration
    singular: jax.Array  # int32: components whose Cholesky failed at some iteration


class GMMResult(NamedTuple):
    """Recorded generations of the GMM chain (a pytree); ``T`` trials, ``R`` records.

    Attributes:
      generation: ``(R,)``; 0 is D0, ``g ≥ 1`` the ``g``-th fit.
      weights, means, chol: ``(T, R, K)``, ``(T, R, K, d)``, ``(T, R, K, d, d)`` — fit ``g``.
      em_iterations: ``(T, R)`` EM iterations fit ``g`` ran (0 at generation 0).
      converged: ``(T, R)`` fit ``g`` met ``tol`` within ``em_steps`` (True at generation 0).
      log_likelihood: ``(T, R)`` fit ``g``'s mean log-likelihood on its data at its last
        E-step (0 at generation 0).
      floored_fits, empty_events, singular_events, unconverged_fits: ``(T, R)`` cumulative
        counts over fits ``1..g``: fits shaped by the covariance floor, (fit, component) pairs
        with an empty component, (fit, component) pairs whose Cholesky failed, fits that hit
        ``em_steps``.

    An empty component keeps its last mean and covariance with weight ≈ 0: select live
    components by weight (e.g. ``weights · M ≥ 1``) before reading their std.
    """

    generation: jax.Array
    weights: jax.Array
    means: jax.Array
    chol: jax.Array
    em_iterations: jax.Array
    converged: jax.Array
    log_likelihood: jax.Array
    floored_fits: jax.Array
    empty_events: jax.Array
    singular_events: jax.Array
    unconverged_fits: jax.Array

    @property
    def mixture(self) -> Mixture:
        """The fitted mixtures, batched ``(T, R)``."""
        return Mixture(self.weights, self.means, self.chol)


# ---------------------------------------------------------------------------------------------
# EM


def _m_step(x, resp, prev: Mixture, n_points, reg_covar):
    """sklearn's M-step with empty/singular components kept at ``prev`` (module docstring)."""
    d = x.shape[-1]
    nk = jnp.sum(resp, axis=0)
    empty = nk < EMPTY_MASS
    safe = jnp.where(empty, 1.0, nk)
    means = (resp.T @ x) / safe[:, None]
    diff = x[:, None, :] - means[None]  # (n, K, d)
    raw = jnp.einsum("nk,nki,nkj->kij", resp, diff, diff) / safe[:, None, None]
    chol = jnp.linalg.cholesky(raw + reg_covar * jnp.eye(d, dtype=x.dtype))
    singular = ~jnp.all(jnp.isfinite(chol), axis=(-2, -1)) & ~empty
    means = jnp.where(empty[:, None], prev.means, means)
    chol = jnp.where((empty | singular)[:, None, None], prev.chol, chol)
    return Mixture(nk / n_points, means, chol), raw, empty, singular


def _smallest_eigenvalue(cov):
    """Smallest eigenvalue of symmetric ``(..., d, d)`` (closed form for d ≤ 2)."""
    d = cov.shape[-1]
    if d == 1:
        return cov[..., 0, 0]
    if d == 2:
        a, b, c = cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 1]
        return 0.5 * (a + c) - jnp.sqrt(0.25 * (a - c) ** 2 + b * b)
    return jnp.linalg.eigvalsh(cov)[..., 0]


def _em(x, weights, init: Mixture, em_steps: int, tol: float, reg_covar: float) -> Fit:
    """EM from ``init`` on the points ``x`` with ``weights`` ``(n,)`` (``≥ 0``; zero: absent):
    the weighted log-likelihood ``Σ w log p(x)/Σ w``, responsibilities ``r w`` in the M-step."""
    dtype = x.dtype
    k = init.weights.shape[-1]
    n_points = jnp.sum(weights)
    d = x.shape[-1]

    def body(c):
        mix, ll_prev, it, _, _, empty_any, singular_any = c
        logp = component_log_pdf(mix, x)
        lse = logsumexp(logp, axis=-1)
        ll = jnp.sum(jnp.where(weights > 0, weights * lse, 0.0)) / n_points
        resp = jnp.exp(logp - lse[:, None]) * weights[:, None]
        new, raw, empty, singular = _m_step(x, resp, mix, n_points, reg_covar)
        return (new, ll, it + 1, jnp.abs(ll - ll_prev) < tol, raw, empty_any | empty,
                singular_any | singular)

    def cond(c):
        return (c[2] < em_steps) & ~c[3]

    # Under vmap the loop runs while any trial's cond holds and JAX's batching rule selects
    # the old carry for trials whose cond is false: a stopped trial is frozen.
    start = (init, jnp.asarray(-jnp.inf, dtype), jnp.int32(0), jnp.asarray(False),
             jnp.zeros((k, d, d), dtype), jnp.zeros(k, bool), jnp.zeros(k, bool))
    mix, ll, it, done, raw, empty_any, singular_any = jax.lax.while_loop(cond, body, start)
    lam = _smallest_eigenvalue(raw) + reg_covar
    floored = (reg_covar > 0) & jnp.any(reg_covar >= FLOOR_SHARE * lam)
    return Fit(mix, it, done, ll, floored, jnp.sum(empty_any, dtype=jnp.int32),
               jnp.sum(singular_any, dtype=jnp.int32))


def _kmeans(key, x, weights, prev: Mixture, reg_covar: float) -> Mixture:
    """Weighted k-means++ seeding (Arthur & Vassilvitskii 2007: first centre ∝ w, next ∝ w D²),
    :data:`LLOYD_STEPS` Lloyd iterations, then one M-step on the hard assignment (as
    sklearn's ``init_params="kmeans"``, whose k-means also adds greedy local seeding trials)."""
    k = prev.weights.shape[-1]
    live = weights > 0
    log_w = jnp.where(live, jnp.log(jnp.where(live, weights, 1.0)), -jnp.inf)
    keys = jax.random.split(key, k)
    centres = [x[jax.random.categorical(keys[0], log_w)]]
    d2 = jnp.sum((x - centres[0]) ** 2, axis=-1)
    for j in range(1, k):
        logits = log_w + jnp.log(d2)
        c = x[jax.random.categorical(keys[j], logits)]
        centres.append(c)
        d2 = jnp.minimum(d2, jnp.sum((x - c) ** 2, axis=-1))

    def assign(centres):
        dist = jnp.sum((x[:, None, :] - centres[None]) ** 2, axis=-1)
        return jax.nn.one_hot(jnp.argmin(dist, axis=-1), k, dtype=x.dtype) * weights[:, None]

    def lloyd(_, centres):
        resp = assign(centres)
        nk = jnp.sum(resp, axis=0)
        new = (resp.T @ x) / jnp.maximum(nk, 1.0)[:, None]
        return jnp.where((nk > 0)[:, None], new, centres)

    centres = jax.lax.fori_loop(0, LLOYD_STEPS, lloyd, jnp.stack(centres))
    seeded = Mixture(prev.weights, centres, prev.chol)
    return _m_step(x, assign(centres), seeded, jnp.sum(weights), reg_covar)[0]


def _em_controls(em_steps, tol, reg_covar) -> tuple[int, float, float]:
    """EM's validated controls: an iteration cap ``≥ 1``, a tolerance and a covariance floor
    ``≥ 0``."""
    return (_validate.integer("em_steps", em_steps, minimum=1),
            _validate.real("tol", tol, minimum=0.0),
            _validate.real("reg_covar", reg_covar, minimum=0.0))


def fit(x, init: Mixture, *, em_steps: int = 100, tol: float = 1e-3,
        reg_covar: float = 1e-6) -> Fit:
    """Fit a mixture to the points ``x (n, d)`` by EM from ``init`` (sklearn's algorithm).

    Matches ``sklearn.mixture.GaussianMixture(covariance_type="full", tol=tol,
    reg_covar=reg_covar, max_iter=em_steps)`` with ``weights_init``, ``means_init`` and
    ``precisions_init`` set from ``init`` (see the module docstring for the diagnostics).
    """
    em_steps, tol, reg_covar = _em_controls(em_steps, tol, reg_covar)
    x = jnp.asarray(x)
    if x.ndim != 2 or x.shape[1] != init.means.shape[-1]:
        raise ValueError(f"x must have shape (n, {init.means.shape[-1]}), got {x.shape}")
    init = jax.tree.map(lambda a: jnp.asarray(a, x.dtype), init)
    return _fit_jit(x, init, jnp.int32(em_steps), jnp.asarray(tol, x.dtype),
                    jnp.asarray(reg_covar, x.dtype))


@jax.jit
def _fit_jit(x, init, em_steps, tol, reg_covar):
    return _em(x, jnp.ones(x.shape[0], x.dtype), init, em_steps, tol, reg_covar)


# ---------------------------------------------------------------------------------------------
# The chain


def _labels(u, weights):
    """Component of each uniform ``u`` under ``weights`` (inverse CDF on the cumulative sum)."""
    cdf = jnp.cumsum(weights) / jnp.sum(weights)
    return jnp.sum(u[:, None] >= cdf[None, :-1], axis=-1)


def _draw(key, mix: Mixture, n: int):
    """``n`` points of ``mix``: a component by inverse CDF, then ``μ + L z``."""
    k_u, k_z = jax.random.split(key)
    dtype = mix.means.dtype
    lab = _labels(jax.random.uniform(k_u, (n,), dtype), mix.weights)
    z = jax.random.normal(k_z, (n, mix.means.shape[-1]), dtype)
    return mix.means[lab] + jnp.einsum("nij,nj->ni", mix.chol[lab], z)


def _settings(components, dim, init, em_steps, tol, reg_covar) -> tuple:
    """:func:`family`'s validated arguments."""
    return (_validate.integer("components", components, minimum=1),
            _validate.integer("dim", dim, minimum=1), _validate.choice("init", init, INITS),
            *_em_controls(em_steps, tol, reg_covar))


@functools.lru_cache(maxsize=64)
def family(components: int, dim: int, init: str = "warm", em_steps: int = 100,
           tol: float = 1e-3, reg_covar: float = 1e-6) -> Family:
    """The GMM family: params a :class:`Fit` (the mixture and its diagnostics), points
    ``(n, d)``; ``fit(points, weights, *, key, previous)`` runs weighted EM (:func:`_em`) from
    ``previous``'s mixture (``init="warm"``) or from k-means++ seeded with ``key``."""
    components, dim, init, em_steps, tol, reg_covar = _settings(
        components, dim, init, em_steps, tol, reg_covar)

    def sample(key, params: Fit, n: int):
        return _draw(key, params.mixture, n)

    def fit(points, weights, *, key, previous: Fit) -> Fit:
        start = previous.mixture if init == "warm" else _kmeans(
            key, points, weights, previous.mixture, reg_covar)
        return _em(points, weights, start, em_steps, tol, reg_covar)

    return Family(sample, fit, name=f"gmm K={components} d={dim} {init}")


def start(mix: Mixture) -> Fit:
    """``mix`` as generation 0 of the chain: no EM run, converged, no events."""
    dtype = engine.float_dtype()
    zero = jnp.zeros((), jnp.int32)
    return Fit(jax.tree.map(lambda a: jnp.asarray(a, dtype), mix), zero, jnp.asarray(True),
               jnp.zeros((), dtype), jnp.asarray(False), zero, zero)


def tally(params: Fit):
    """Per-fit events counted by the chain's ``tally``: floored, empty (components), singular
    (components) and unconverged."""
    return (params.floored.astype(jnp.int32), params.empty, params.singular,
            (~params.converged).astype(jnp.int32))


def _original(original, components: int, dim: int) -> Mixture:
    if original is None:
        if components != 2:
            raise ValueError(f"components={components} needs an original mixture with "
                             f"{components} components; the default (paper_mixture) has 2")
        if dim != 2:
            raise ValueError(f"dim={dim} needs an original mixture; the default "
                             "(paper_mixture) is 2-D")
        return paper_mixture()
    if not isinstance(original, Mixture):
        raise TypeError(f"original must be a mixture.Mixture (see mixture.from_cov), got "
                        f"{type(original).__name__}")
    w, mu, chol = (np.asarray(a, np.float64) for a in original)
    if w.shape != (components,):
        raise ValueError(f"original must have components={components} weights, got shape "
                         f"{w.shape}")
    if mu.shape != (components, dim) or chol.shape != (components, dim, dim):
        raise ValueError(f"original must have means ({components}, {dim}) and chol "
                         f"({components}, {dim}, {dim}) for dim={dim}, got {mu.shape} and "
                         f"{chol.shape}")
    if not all(np.all(np.isfinite(a)) for a in (w, mu, chol)):
        raise ValueError("original must be finite")
    if w.min() < 0 or abs(w.sum() - 1.0) > 1e-6:
        raise ValueError(f"original.weights must be non-negative and sum to 1, got {w.tolist()}")
    diag = np.diagonal(chol, axis1=-2, axis2=-1)
    if diag.min() <= 0 or np.any(np.triu(chol, 1) != 0):
        raise ValueError("original.chol must be lower triangular with a positive diagonal")
    return original


def simulate(key, *, components=2, sample_size=1000, generations, trials, dim=2, original=None,
             init="warm", em_steps=100, tol=1e-3, reg_covar=1e-6, policy="replace",
             record=None, chunk_size=None, progress=False, memory_limit=None) -> GMMResult:
    """Run ``trials`` independent GMM refitting chains for ``generations`` fits: the chain of
    :func:`family` through :func:`collapse_theory.chain.simulate`, counters by its ``tally``.

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      components: ``K`` (must equal the original mixture's).
      sample_size: ``M`` (int) or a schedule ``(M_1, ..., M_G)``; each fit needs ``≥ K + 1``.
      generations, trials: fits ``G ≥ 0`` and independent chains.
      dim: dimension ``d``.
      original: D0 as a :class:`~collapse_theory.mixture.Mixture` (default
        :func:`~collapse_theory.mixture.paper_mixture`, ``K = 2``, ``d = 2``).
      init: ``"warm"`` (EM starts from the previous generation's fit; fit 1 from D0) or
        ``"kmeans++"`` (seeded on each generation's data, see :func:`_kmeans`).
      em_steps: cap on EM iterations per fit; tol: stop when the mean log-likelihood changes
        by less (sklearn's rule); reg_covar: covariance floor added to every diagonal.
      policy: ``"replace"`` (the paper), ``"fresh:γ"``, ``"fixed:λ"``, ``"accumulate"`` or
        ``"accumulate-subsample"`` (:mod:`collapse_theory.chain`; the accumulate policies hold
        a buffer of all ``Σ M_g`` past points per trial, within the engine's memory budget).
      record: ``None`` or ``"all"`` (every generation), ``"log"`` or a list of generations
        (``engine.run_chain``).
      chunk_size: trials per chunk (default: the engine's memory budget).
      progress: report progress on stderr.
      memory_limit: bytes the run may use (default: this machine's physical memory; see
        :func:`collapse_theory.chain.simulate`): a run estimated to need more is refused with a
        ``ValueError`` before any work.
    """
    key = _validate.key("key", key)
    generations, trials = engine.check_counts(generations, trials, memory_limit)
    engine.check_records(generations, trials, record, memory_limit=memory_limit)
    settings = _settings(components, dim, init, em_steps, tol, reg_covar)
    components, dim = settings[:2]
    pol = policies.parse(policy)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=components + 1)
    policies.check_sizes(pol, m, components + 1)
    d0 = _original(original, components, dim)
    res = chain.simulate(key, family(*settings), start(d0),
                         sample_size=sample_size, generations=generations, trials=trials, policy=pol,
                         record=record, tally=tally, chunk_size=chunk_size, progress=progress,
                         memory_limit=memory_limit)
    f = res.params
    return GMMResult(jnp.asarray(res.generation), f.mixture.weights, f.mixture.means,
                     f.mixture.chol, f.iterations, f.converged, f.log_likelihood, *res.tally)
