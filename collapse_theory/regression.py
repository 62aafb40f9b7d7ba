r"""Linear regression refitted on its own labels (Dohmatob, Feng & Kempe 2024; Gerstgrasser et
al. 2024; Kazdan et al. 2024), as a :class:`~collapse_theory.family.Family`.

Generation 0 is the true weight vector ``w*``.  A batch of ``T`` points is a design ``X`` with
i.i.d. ``N(0, 1)`` entries and labels ``y = X ŵ + ε``, ``ε ~ N(0, σ² I_T)`` (``noise`` is
``σ²``), ``ŵ`` the model it is drawn from; a fit is weighted least squares,
``ŵ = (XᵀWX)⁺ XᵀWy`` — the minimum-norm solution (Moore–Penrose pseudo-inverse), so fits on
``T ≤ d`` rows (rank-deficient ``XᵀX``, Kazdan et al.'s sweeps) are defined too.  Every data
policy comes from :mod:`collapse_theory.chain` (``replace``: ``ŵ_g`` on ``(X_g, y_g)``;
``accumulate``: on every batch so far; ``fresh:γ``/``fixed:λ``: real batches are labelled by
``w*`` on fresh designs; ``accumulate-subsample``: on ``T`` rows of the pool).

Designs: ``design="fresh"`` draws ``X`` anew for every batch.  ``design="fixed"`` gives each
trial one design: ``w*`` (generation 0) has none, so fit 1 sees a fresh one and *stores* it in
its params (:class:`Model`), and every later model labels that same design (the model carries
it forward through ``previous``).  A fixed design is a batch of the model's own size, so it is
meant for the policies whose synthetic batches are the whole design (replace and the
accumulate policies).

Exact shortcuts (``method="exact"``): least squares only needs ``S = (XᵀWX, XᵀWy, Σw)`` and
pools add them, so memory is ``O(d²)`` per trial.  They are drawn in law in ``O(d³)`` whatever
``T``: for ``T ≥ d`` ``XᵀX = A Aᵀ`` with ``A`` the Bartlett factor of ``Wishart_d(T, I)``
(:func:`collapse_theory.samplers.bartlett`), for ``T < d`` ``A = X̃ᵀ`` with ``X̃`` ``T`` rows of
a ``d × d`` Gaussian matrix (``O(d³)`` too), and ``Xᵀε = σ A ξ`` given ``XᵀX`` (``ξ ~ N(0, I_d)``:
``Xᵀε ~ N(0, σ² XᵀX)``).  A fixed design is then stored as its factor ``R`` (``R Rᵀ = XᵀX``).
``method="samples"`` draws ``X`` and ``ε`` (``accumulate-subsample`` always does).  Closed
forms for ``T ≥ d + 2``: :func:`collapse_theory.theory.policies.regression_error`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate, chain, engine, policies, samplers
from .family import Family

DESIGNS = ("fresh", "fixed")
METHODS = ("exact", "samples")


class RegressionResult(NamedTuple):
    """Recorded generations of a regression chain.

    Attributes:
      generation: ``(R,)`` recorded generations (0 is ``w*``).
      weights: ``(trials, R, d)`` fitted ``ŵ_g``.
      error: ``(trials, R)`` ``‖ŵ_g − w*‖²``.
    """

    generation: jax.Array
    weights: jax.Array
    error: jax.Array


class Model(NamedTuple):
    """A regression model (the family's params).

    Attributes:
      w: ``(d,)`` weights ``ŵ``.
      design: the trial's fixed design once fit 1 stored it: ``(d, d)`` factor ``R`` of its
        Gram matrix (``method="exact"``) or ``(T, d)`` rows (``"samples"``); ``(0, d)`` for
        ``design="fresh"``.
      fixed: ``()`` bool, whether ``design`` holds a stored design (False at ``w*``).
    """

    w: jax.Array
    design: jax.Array
    fixed: jax.Array


class Stats(NamedTuple):
    """Sufficient statistics of weighted rows: ``gram = XᵀWX``, ``h = XᵀWy``, ``n = Σw`` and
    ``root`` (fixed design, exact method) a factor of the first non-empty batch's Gram matrix."""

    gram: jax.Array
    h: jax.Array
    n: jax.Array
    root: jax.Array


def _solver(dim: int, rows: int):
    """Least squares from ``(XᵀWX, XᵀWy)``: a Cholesky solve when every fit sees ``≥ d + 2``
    rows (``XᵀX`` is then positive definite almost surely, as in the closed forms), else the
    minimum-norm solution by an eigendecomposition: eigenvalues below ``d ε λ_max`` (``ε`` the
    dtype's epsilon: the rounding of ``λ`` in a symmetric eigensolver) count as zero."""
    if rows >= dim + 2:
        return lambda gram, h: jax.scipy.linalg.solve(gram, h, assume_a="pos")

    def pinv_solve(gram, h):
        lam, v = jnp.linalg.eigh(gram)
        keep = lam > dim * jnp.finfo(gram.dtype).eps * jnp.maximum(lam[-1], 0.0)
        inv = jnp.where(keep, 1.0 / jnp.where(keep, lam, 1.0), 0.0)
        return v @ (inv * (v.T @ h))

    return pinv_solve


def _gram_root(gram):
    """``R`` with ``R Rᵀ = gram`` (symmetric PSD, possibly singular): ``V √max(λ, 0)``."""
    lam, v = jnp.linalg.eigh(gram)
    return v * jnp.sqrt(jnp.maximum(lam, 0.0))


@functools.lru_cache(maxsize=64)
def family(dim: int, rows: int, noise: float = 1.0, design: str = "fresh",
           method: str = "exact") -> Family:
    """The regression family (module docstring) with ``d = dim`` features and label noise
    variance ``σ² = noise``; points are pytrees ``(x (n, d), y (n,))``.

    ``rows`` is ``T``, the rows of a design (a fixed design's size) and the fewest points a fit
    sees (``≥ d + 2``: Cholesky solves; else the pseudo-inverse).  ``method="exact"`` gives the
    exact shortcuts (stats path); ``"samples"`` only ``sample``/``fit`` (points path).
    """
    dim = _validate.integer("dim", dim, minimum=1)
    rows = _validate.integer("rows", rows, minimum=1)
    noise = _validate.real("noise", noise, minimum=0.0)
    design = _validate.choice("design", design, DESIGNS)
    method = _validate.choice("method", method, METHODS)
    sigma = float(np.sqrt(noise))
    fixed = design == "fixed"
    exact = method == "exact"
    solve = _solver(dim, rows)

    def stored(previous: Model, seen):
        """The fixed design after a fit: the previous model's, else the one ``seen`` now."""
        if not fixed:
            return previous.design, previous.fixed
        keep = previous.fixed
        return jnp.where(keep, previous.design, seen), jnp.ones_like(keep)

    def sample(key, params: Model, n: int):
        k_x, k_e, k_h = jax.random.split(key, 3)
        dtype = params.w.dtype
        x = jax.random.normal(k_x, (n, dim), dtype)
        if fixed and exact:
            # Rows with Gram R Rᵀ: X = H Rᵀ, H the first n rows of a Haar frame (Gaussian
            # designs are X = H (XᵀX)^{1/2} with H Haar, independent of XᵀX); exact for n ≥ d.
            frame = jnp.linalg.qr(jax.random.normal(k_h, (max(n, dim), dim), dtype))[0][:n]
            x = jnp.where(params.fixed, frame @ params.design.T, x)
        elif fixed:  # the stored rows (cycled when n ≠ T)
            x = jnp.where(params.fixed, params.design[np.arange(n) % rows], x)
        y = x @ params.w + sigma * jax.random.normal(k_e, (n,), dtype)
        return x, y

    def stats(points, weights) -> Stats:
        x, y = points
        xw = x * weights[:, None]
        gram = xw.T @ x
        root = _gram_root(gram) if fixed else jnp.zeros((0, dim), x.dtype)
        return Stats(gram, xw.T @ y, jnp.sum(weights), root)

    def merge(a: Stats, b: Stats) -> Stats:
        return Stats(a.gram + b.gram, a.h + b.h, a.n + b.n,
                     jnp.where(a.n > 0, a.root, b.root))

    def fit_stats(s: Stats, *, previous: Model) -> Model:
        return Model(solve(s.gram, s.h), *stored(previous, s.root))

    def sample_stats(key, params: Model, n) -> Stats:
        k_x, k_e = jax.random.split(key)
        dtype = params.w.dtype

        def bartlett(k):
            log_diag, lower = samplers.bartlett(k, jnp.maximum(n, dim), dim, dtype)
            return lower + jnp.diag(jnp.exp(log_diag))

        def direct(k):  # n < d rows: R = Xᵀ from n rows of a d × d Gaussian matrix
            z = jax.random.normal(k, (dim, dim), dtype)
            return (z * (jnp.arange(dim) < n)[:, None].astype(dtype)).T

        r = jax.lax.cond(n >= dim, bartlett, direct, k_x)
        if fixed:
            r = jnp.where(params.fixed, params.design, r)
        gram = r @ r.T
        h = gram @ params.w + sigma * (r @ jax.random.normal(k_e, (dim,), dtype))
        return Stats(gram, h, jnp.asarray(n, dtype), r if fixed else jnp.zeros((0, dim), dtype))

    def fit(points, weights, *, previous: Model) -> Model:
        x, y = points
        if fixed and not exact and x.shape[0] < rows:
            raise ValueError(f"a fixed design of rows={rows} needs fits of at least {rows} "
                             f"points, got {x.shape[0]}")
        xw = x * weights[:, None]
        gram = xw.T @ x
        w = solve(gram, xw.T @ y)
        if exact:
            return Model(w, *stored(previous, _gram_root(gram)))
        return Model(w, *stored(previous, x[:rows] if fixed else previous.design))

    name = f"regression d={dim} T={rows} {design} {method}"
    if not exact:
        return Family(sample, fit, name=name)
    return Family(sample, fit, stats, merge, fit_stats, sample_stats, name=name)


def model(w, dim: int, rows: int, design: str = "fresh", method: str = "exact") -> Model:
    """The model ``w`` with no stored design (generation 0 of :func:`family`'s chains)."""
    dtype = engine.float_dtype()
    shape = (dim, dim) if method == "exact" else (rows, dim)
    return Model(jnp.asarray(w, dtype), jnp.zeros(shape if design == "fixed" else (0, dim), dtype),
                 jnp.asarray(False))


def simulate(key, *, rows, dim, generations, trials, noise=1.0, weights=None, design="fresh",
             policy="replace", method="exact", record=None, chunk_size=None,
             progress=False, memory_limit=None) -> RegressionResult:
    """Run ``trials`` independent regression chains for ``generations`` fits (module docstring),
    through :func:`collapse_theory.chain.simulate`.

    Args:
      key: ``jax.random.key``; trial ``i`` depends only on ``(key, i)``.
      rows: ``T ≥ 1`` rows per batch (``T ≤ d + 1``: minimum-norm fits; the closed forms need
        ``T ≥ d + 2``, ``E tr (XᵀX)^{-1} = d/(T − d − 1)``).
      dim: ``d`` features.
      generations: number of fits ``G ≥ 0``.
      trials: number of independent chains.
      noise: label noise variance ``σ² ≥ 0``.
      weights: ``w*`` (default ``(1, …, 1)/√d``).
      design: ``"fresh"`` or ``"fixed"`` (replace and the accumulate policies only).
      policy: any policy of :mod:`collapse_theory.policies` (``sample_size`` is ``T``); real
        batches are labelled by ``w*`` on fresh designs.
      method: ``"exact"`` (sufficient statistics in law) or ``"samples"`` (draw ``X`` and
        ``ε``; always used by ``accumulate-subsample`` and by a fixed design of ``T < d`` rows).
      record: ``None`` or ``"all"`` (every generation), ``"log"`` or a list of generations
        (``engine.run_chain``).
      chunk_size: trials per chunk (default: the engine's memory budget).
      progress: report progress on stderr.
      memory_limit: bytes the run may use (default: this machine's physical memory; see
        :func:`collapse_theory.chain.simulate`): a run estimated to need more is refused with a
        ``ValueError`` before any work.
    """
    generations, trials = engine.check_counts(generations, trials, memory_limit)
    engine.check_records(generations, trials, record, memory_limit=memory_limit)
    dim = _validate.integer("dim", dim, minimum=1)
    rows = _validate.integer("rows", rows, minimum=1)
    noise = _validate.real("noise", noise, minimum=0.0)
    design = _validate.choice("design", design, DESIGNS)
    method = _validate.choice("method", method, METHODS)
    pol = policies.parse(policy)
    if design == "fixed" and pol.name in ("fresh", "fixed"):
        raise ValueError(f"design='fixed' needs synthetic batches of the whole design (policy "
                         f"replace, accumulate or accumulate-subsample), got policy {str(pol)!r}")
    w_star = np.full(dim, dim ** -0.5) if weights is None else \
        _validate.vector("weights", weights, dim)
    if pol.name == "accumulate-subsample" or (design == "fixed" and rows < dim):
        method = "samples"
    fam = family(dim, rows, noise, design, method)
    res = chain.simulate(key, fam, model(w_star, dim, rows, design, method), sample_size=rows,
                         generations=generations, trials=trials, policy=pol, record=record,
                         chunk_size=chunk_size, progress=progress, memory_limit=memory_limit)
    w = res.params.w
    err = jnp.sum((w - jnp.asarray(w_star, w.dtype)) ** 2, axis=-1)
    return RegressionResult(jnp.asarray(res.generation), w, err)
