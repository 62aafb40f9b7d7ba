r"""Exact references for the discrete resampling chain (neutral haploid Wright–Fisher).

Fit ``g`` draws counts ``c_g ~ Multinomial(M_g, q_{g−1})`` and the next distribution is
``q_g = a_g c_g / M_g + b_g`` with ``q_0 = p_0`` (Shumailov et al., "discrete distributions with
exact approximation").  The plain chain has ``a = 1, b = 0``; the smoothed fits of
:mod:`collapse_theory.discrete` are affine too (``a_g + K b_g = 1``, see :func:`smoothing`).
Each category's count is then a Markov chain of its own,

.. math:: X_g \mid X_{g-1} \sim \mathrm{Bin}\bigl(M_g,\ a_g X_{g-1}/M_{g-1} + b_g\bigr),
          \qquad X_1 \sim \mathrm{Bin}(M_1, p),

so its law is exact by propagating the ``(M+1)``-state distribution, and absorption of the plain
chain (``X ∈ {0, M}``) is exact from the fundamental matrix ``N = (I − Q)^{-1}`` (solved, never
inverted).  Everything here is float64 numpy/scipy; derivations live in ``proofs/discrete_*.py``.

Conventions: ``n`` counts fits; generation 0 is ``p_0`` itself, so "extinct/fixed at generation 0"
means ``p ∈ {0, 1}``.  Transition rows keep the binomial mass within ``20 σ + 60`` of the mean;
by Bernstein's inequality the mass dropped per row is below ``2 e^{-90} ≈ 10^{-39}``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg
from scipy import special, stats

from .. import _validate

# ---------------------------------------------------------------------------------------------
# Argument handling


def _frequency(name: str, p) -> np.ndarray:
    arr = np.asarray(p, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{name} must lie in [0, 1], got {np.asarray(p).tolist()}")
    return arr


def _distribution(name: str, probs) -> np.ndarray:
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {arr.tolist()}")
    total = float(arr.sum())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{name} must sum to 1, got sum {total!r}")
    return arr / total


def _sizes(sample_size, generations: int) -> np.ndarray:
    return _validate.schedule("sample_size", sample_size, generations, minimum=1)


def _constant_size(sample_size) -> int:
    return _validate.integer("sample_size", sample_size, minimum=1)


def smoothing(sample_size, categories: int, pseudocount: float = 0.0, mix: float = 0.0):
    r"""``(a, b)`` of the smoothed fit ``q = a c/M + b`` (arrays shaped like ``sample_size``).

    Add-α then mixing with the uniform law:
    ``q = (1 − ε)(c + α)/(M + Kα) + ε/K``, so ``a = (1 − ε) M/(M + Kα)`` and
    ``b = (1 − ε) α/(M + Kα) + ε/K``; ``a + K b = 1``.  ``α = ε = 0`` is the plain chain.
    """
    m = np.asarray(sample_size, dtype=np.float64)
    alpha, eps = float(pseudocount), float(mix)
    denom = m + categories * alpha
    return (1.0 - eps) * m / denom, (1.0 - eps) * alpha / denom + eps / categories


# ---------------------------------------------------------------------------------------------
# Transition matrices and propagation


@functools.lru_cache(maxsize=16)
def _transition(m_from: int, m_to: int, slope: float = 1.0, offset: float = 0.0):
    """CSR ``T[x, y] = Bin(m_to, slope·x/m_from + offset)(y)``, ``x ≤ m_from``, ``y ≤ m_to``."""
    x = np.arange(m_from + 1)
    p = np.clip(slope * x / m_from + offset, 0.0, 1.0)
    half = 20.0 * np.sqrt(m_to * p * (1.0 - p)) + 60.0
    lo = np.maximum(np.floor(m_to * p - half), 0).astype(np.int64)
    hi = np.minimum(np.ceil(m_to * p + half), m_to).astype(np.int64)
    length = hi - lo + 1
    indptr = np.concatenate([[0], np.cumsum(length)])
    rows = np.repeat(x, length)
    cols = lo[rows] + np.arange(indptr[-1]) - indptr[rows]
    data = stats.binom.pmf(cols, m_to, p[rows])
    mat = sparse.csr_matrix((data, cols, indptr), shape=(m_from + 1, m_to + 1))
    mat.data.flags.writeable = False
    return mat


def transition_matrix(sample_size: int):
    """The plain chain's ``(M+1)×(M+1)`` transition matrix ``T[x, y] = Bin(M, x/M)(y)`` (CSR)."""
    m = _constant_size(sample_size)
    return _transition(m, m)


def _step_params(m: np.ndarray, categories, pseudocount, mix):
    if pseudocount == 0.0 and mix == 0.0:
        return np.ones(m.size), np.zeros(m.size)
    if categories is None:
        raise ValueError("categories (K) is required when pseudocount or mix is non-zero")
    _validate.integer("categories", categories, minimum=1)
    _validate.real("pseudocount", pseudocount, minimum=0.0)
    _validate.real("mix", mix, minimum=0.0, maximum=1.0)
    return smoothing(m, categories, pseudocount, mix)


def _laws(p: np.ndarray, m: np.ndarray, slope: np.ndarray, offset: np.ndarray):
    """Yield the laws of ``X_n`` (one row per entry of ``p``) for ``n = 1 .. len(m)``."""
    law = stats.binom.pmf(np.arange(m[0] + 1)[None, :], m[0], p[:, None])
    yield law
    for g in range(1, m.size):
        # q_{g} uses the fit of generation g (slope[g-1], offset[g-1]); X_{g+1} ~ Bin(M_{g+1}, q_g).
        mat = _transition(int(m[g - 1]), int(m[g]), float(slope[g - 1]), float(offset[g - 1]))
        law = np.asarray((mat.T @ law.T).T)
        yield law


def count_law(p, sample_size, generations: int, *, categories=None, pseudocount=0.0, mix=0.0):
    r"""Exact law of a category's count ``X_n`` after ``n = generations`` fits (``n ≥ 1``).

    ``p`` is the category's probability under ``p_0`` (scalar or array; rows follow its
    flattened order).  Returns ``(M_n + 1,)`` (or ``(len(p), M_n + 1)``) probabilities of
    ``X_n = 0..M_n``.  With smoothing, pass ``categories=K`` as well (the fit depends on K).
    """
    generations = _validate.integer("generations", generations, minimum=1)
    m = _sizes(sample_size, generations)
    arr = _frequency("p", p)
    slope, offset = _step_params(m, categories, float(pseudocount), float(mix))
    for law in _laws(np.atleast_1d(arr).ravel(), m, slope, offset):
        pass
    return law[0] if arr.ndim == 0 else law


def _absorbed_path(p: np.ndarray, m: np.ndarray, generations: int):
    """``(P(X_n = 0), P(X_n = M_n))`` for n = 0..G, each ``(G+1, len(p))``."""
    lost = np.zeros((generations + 1, p.size))
    fixed = np.zeros((generations + 1, p.size))
    lost[0], fixed[0] = p == 0.0, p == 1.0
    if generations:
        ones, zeros = np.ones(m.size), np.zeros(m.size)
        for n, law in enumerate(_laws(p, m, ones, zeros), start=1):
            lost[n], fixed[n] = law[:, 0], law[:, -1]
    return lost, fixed


def extinction_probability(p, sample_size, generations: int) -> np.ndarray:
    """``P(X_n = 0)`` for ``n = 0..G``: the category is extinct by fit ``n`` (absorbing).

    Shape ``(G+1,)`` for scalar ``p``, ``(G+1, len(p))`` otherwise.
    """
    generations = _validate.integer("generations", generations, minimum=0)
    m = _sizes(sample_size, generations)
    arr = _frequency("p", p)
    lost, _ = _absorbed_path(np.atleast_1d(arr).ravel(), m, generations)
    return lost[:, 0] if arr.ndim == 0 else lost


def fixation_probability(p, sample_size, generations: int | None = None) -> np.ndarray:
    """``P(X_n = M_n)`` for ``n = 0..G``; with ``generations=None`` the limit ``n → ∞``.

    The limit is the absorption probability at ``M`` from the fundamental matrix,
    ``h = N R_{·M}`` (constant ``M``); the theory says ``h = p`` (``X/M`` is a martingale).
    """
    arr = _frequency("p", p)
    flat = np.atleast_1d(arr).ravel()
    if generations is None:
        m = _constant_size(sample_size)
        h = _absorbing(m).fixation
        out = _first_step_mean(flat, m, h)
        out = np.where(flat == 1.0, 1.0, np.where(flat == 0.0, 0.0, out))
        return out[0] if arr.ndim == 0 else out.reshape(arr.shape)
    generations = _validate.integer("generations", generations, minimum=0)
    _, fixed = _absorbed_path(flat, _sizes(sample_size, generations), generations)
    return fixed[:, 0] if arr.ndim == 0 else fixed


def expected_support(probs, sample_size, generations: int) -> np.ndarray:
    """``E[#categories with X_n > 0] = Σ_i (1 − P(X_n^i = 0))`` for ``n = 0..G``."""
    probs = _distribution("probs", probs)
    lost = extinction_probability(probs, sample_size, generations)
    return (1.0 - lost).sum(axis=1)


# ---------------------------------------------------------------------------------------------
# Absorption of the plain chain (constant M)


class _Absorbing(NamedTuple):
    """Fundamental-matrix solutions on ``x = 0..M`` (boundary values at 0 and M: 0, except
    ``fixation[M] = 1``)."""

    time: np.ndarray  # t = N 1: E[T | X_0 = x]
    time2: np.ndarray  # E[T² | x] = (2N − I) t
    fixation: np.ndarray  # h = N R_{·M}: P(absorbed at M | x)
    fixed_time: np.ndarray  # u = N h: E[T 1{absorbed at M} | x]


@functools.lru_cache(maxsize=8)
def _absorbing(m: int) -> _Absorbing:
    full = np.zeros((4, m + 1))
    full[2, m] = 1.0
    if m >= 2:
        mat = _transition(m, m).tocsc()
        q = mat[1:m, 1:m]
        lu = sparse_linalg.splu((sparse.identity(m - 1, format="csc") - q).tocsc())
        t = lu.solve(np.ones(m - 1))
        w = lu.solve(t)
        h = lu.solve(mat[1:m, m].toarray().ravel())
        u = lu.solve(h)
        full[:, 1:m] = t, 2.0 * w - t, h, u
    full.flags.writeable = False
    return _Absorbing(*full)


def _first_step_mean(p: np.ndarray, m: int, values: np.ndarray) -> np.ndarray:
    """``E[values(X_1)]`` with ``X_1 ~ Bin(M, p)``."""
    law = stats.binom.pmf(np.arange(m + 1)[None, :], m, p[:, None])
    return law @ values


def _check_p(p):
    arr = _frequency("p", p)
    return arr, np.atleast_1d(arr).ravel()


def absorption_time_mean(p, sample_size: int) -> np.ndarray:
    r"""Exact ``E T``, ``T = min{n : X_n ∈ {0, M}}`` (loss or fixation of the category).

    ``t = N 1`` on the transient states; for any ``p``, ``E T = 1 + E t(X_1)`` (``0`` when
    ``p ∈ {0, 1}``).  Compare :func:`kimura_absorption_time`.
    """
    m = _constant_size(sample_size)
    arr, flat = _check_p(p)
    ab = _absorbing(m)
    out = 1.0 + _first_step_mean(flat, m, ab.time)
    out = np.where((flat == 0.0) | (flat == 1.0), 0.0, out)
    return out[0] if arr.ndim == 0 else out.reshape(arr.shape)


def absorption_time_variance(p, sample_size: int) -> np.ndarray:
    """Exact ``Var T`` from ``E[T²|x] = ((2N − I) t)(x)``; ``T = 1 + T'(X_1)`` for general ``p``."""
    m = _constant_size(sample_size)
    arr, flat = _check_p(p)
    ab = _absorbing(m)
    t1 = _first_step_mean(flat, m, ab.time)
    second = 1.0 + 2.0 * t1 + _first_step_mean(flat, m, ab.time2)
    var = second - (1.0 + t1) ** 2
    var = np.where((flat == 0.0) | (flat == 1.0), 0.0, var)
    return var[0] if arr.ndim == 0 else var.reshape(arr.shape)


def absorption_time_pmf(p, sample_size, generations: int) -> np.ndarray:
    """``P(T = n)`` for ``n = 0..G`` (``T`` of :func:`absorption_time_mean`); the mass beyond
    ``G`` is ``1 − sum``.  Shape ``(G+1,)`` or ``(G+1, len(p))``."""
    generations = _validate.integer("generations", generations, minimum=0)
    m = _sizes(sample_size, generations)
    arr, flat = _check_p(p)
    lost, fixed = _absorbed_path(flat, m, generations)
    cdf = lost + fixed
    pmf = np.diff(cdf, axis=0, prepend=0.0)
    return pmf[:, 0] if arr.ndim == 0 else pmf


def fixation_time_pmf(probs, sample_size, generations: int) -> np.ndarray:
    r"""``P(T_fix = n)``, ``n = 0..G``, ``T_fix`` the first fit with one category left.

    Exact for any ``K``: fixation by ``n`` is the disjoint union of ``{X_n^i = M_n}``, so
    ``P(T_fix ≤ n) = Σ_i P(X_n^i = M_n)`` — marginal chains only.
    """
    probs = _distribution("probs", probs)
    generations = _validate.integer("generations", generations, minimum=0)
    _, fixed = _absorbed_path(probs, _sizes(sample_size, generations), generations)
    return np.diff(fixed.sum(axis=1), prepend=0.0)


def fixation_time_mean(probs, sample_size: int) -> float:
    r"""Exact ``E T_fix = Σ_i E[T_i 1\{i \text{ fixes}\}]`` (``T_i`` category ``i``'s absorption time).

    From ``E T_fix = Σ_n P(T_fix > n) = Σ_i Σ_n (p_i − P(X_n^i = M))`` and
    ``u = N h`` with ``h`` the fixation probabilities; for a grid-free ``p``,
    ``E[T 1_fix] = E[h(X_1) + u(X_1)]``.  For ``K = 2`` it is :func:`absorption_time_mean`.
    """
    probs = _distribution("probs", probs)
    m = _constant_size(sample_size)
    ab = _absorbing(m)
    per = _first_step_mean(probs, m, ab.fixation + ab.fixed_time)
    per = np.where((probs == 0.0) | (probs == 1.0), 0.0, per)
    return float(per.sum())


# ---------------------------------------------------------------------------------------------
# Diffusion approximations and their error against the exact chain


def kimura_absorption_time(p, sample_size) -> np.ndarray:
    r"""Kimura's diffusion time ``−2M[p ln p + (1−p) ln(1−p)]`` (haploid, ``M`` gene copies).

    Solves ``(1/2M) x(1−x) t'' = −1``, ``t(0) = t(1) = 0`` (``proofs/discrete_absorption.py``);
    an approximation to :func:`absorption_time_mean`, not the exact chain.
    """
    arr = _frequency("p", p)
    m = float(_constant_size(sample_size))
    return -2.0 * m * (special.xlogy(arr, arr) + special.xlogy(1.0 - arr, 1.0 - arr))


def littler_fixation_time(probs, sample_size) -> float:
    r"""Littler's (1975) time to one category, ``−2M Σ_i (1 − p_i) ln(1 − p_i)``.

    Solves ``L f = −1`` for the ``K``-allele Wright–Fisher diffusion with ``f = 0`` at the
    vertices; each term is the diffusion value of ``E[T_i 1\{i\ fixes\}]``.  Equals
    :func:`kimura_absorption_time` for ``K = 2``.  An approximation to :func:`fixation_time_mean`.
    """
    probs = _distribution("probs", probs)
    m = float(_constant_size(sample_size))
    return float(-2.0 * m * np.sum(special.xlogy(1.0 - probs, 1.0 - probs)))


class DiffusionComparison(NamedTuple):
    """Diffusion approximations next to the exact chain (relative error = approx/exact − 1)."""

    exact_marginal: np.ndarray  # (K,) exact E T_i (loss or fixation of category i)
    kimura: np.ndarray  # (K,) Kimura's approximation of it
    exact_fixation: float  # exact E T_fix (one category left)
    littler: float  # Littler's approximation of it

    @property
    def kimura_relative_error(self) -> np.ndarray:
        return self.kimura / self.exact_marginal - 1.0

    @property
    def littler_relative_error(self) -> float:
        return self.littler / self.exact_fixation - 1.0


def compare_diffusion(probs, sample_size: int) -> DiffusionComparison:
    """Kimura's and Littler's times against the exact chain for ``p_0 = probs`` and ``M``."""
    probs = _distribution("probs", probs)
    m = _constant_size(sample_size)
    return DiffusionComparison(absorption_time_mean(probs, m), kimura_absorption_time(probs, m),
                               fixation_time_mean(probs, m), littler_fixation_time(probs, m))


# ---------------------------------------------------------------------------------------------
# Moments


def gini_simpson_factor(sample_size, generations: int) -> np.ndarray:
    r"""``E H_n / H_0 = Π_{g ≤ n}(1 − 1/M_g)`` for ``n = 0..G`` (plain chain)."""
    generations = _validate.integer("generations", generations, minimum=0)
    m = _sizes(sample_size, generations).astype(np.float64)
    return np.concatenate([[1.0], np.cumprod(1.0 - 1.0 / m)])


def expected_gini_simpson(probs, sample_size, generations: int) -> np.ndarray:
    r"""``E H_n = H_0 Π_{g≤n}(1 − 1/M_g)``, ``H = 1 − Σ p²`` (``H_0 (1 − 1/M)^n``, constant M)."""
    probs = _distribution("probs", probs)
    return (1.0 - np.sum(probs**2)) * gini_simpson_factor(sample_size, generations)


def prob_variance(probs, sample_size, generations: int) -> np.ndarray:
    r"""``Var p_n(i) = p_i(1 − p_i)(1 − Π_{g≤n}(1 − 1/M_g))``, shape ``(G+1, K)``.

    (``E p_n = p_0``: the fitted probabilities are martingales.)
    """
    probs = _distribution("probs", probs)
    factor = gini_simpson_factor(sample_size, generations)
    return (probs * (1.0 - probs))[None, :] * (1.0 - factor)[:, None]


class Moments(NamedTuple):
    """First two moments of the fitted probabilities ``q_n``, ``n = 0..G``."""

    mean: np.ndarray  # (G+1, K) E q_n(i)
    variance: np.ndarray  # (G+1, K) Var q_n(i)
    gini_simpson: np.ndarray  # (G+1,) E H_n = 1 − Σ_i E q_n(i)²


def moments(probs, sample_size, generations: int, *, pseudocount=0.0, mix=0.0) -> Moments:
    r"""Moments of the (smoothed) chain by the exact one-step recursion.

    With ``q' = a c/M + b`` and ``c | q ~ Mult(M, q)``:
    ``E q' = a E q + b`` and
    ``E q'² = a²[(1 − 1/M) E q² + E q/M] + 2ab E q + b²`` (per category).
    For ``a = 1, b = 0`` this is :func:`prob_variance` / :func:`expected_gini_simpson`.
    """
    probs = _distribution("probs", probs)
    generations = _validate.integer("generations", generations, minimum=0)
    m = _sizes(sample_size, generations).astype(np.float64)
    _validate.real("pseudocount", pseudocount, minimum=0.0)
    _validate.real("mix", mix, minimum=0.0, maximum=1.0)
    slope, offset = smoothing(m, probs.size, pseudocount, mix)
    mean = np.empty((generations + 1, probs.size))
    second = np.empty_like(mean)
    mean[0], second[0] = probs, probs**2
    for g in range(generations):
        a, b, mg = slope[g], offset[g], m[g]
        second[g + 1] = (a * a * ((1.0 - 1.0 / mg) * second[g] + mean[g] / mg)
                         + 2.0 * a * b * mean[g] + b * b)
        mean[g + 1] = a * mean[g] + b
    return Moments(mean, second - mean**2, 1.0 - second.sum(axis=1))


# ---------------------------------------------------------------------------------------------
# One-step facts


def no_sample_probability(q, sample_size) -> np.ndarray:
    """``(1 − q)^M``: a category of probability ``q`` gets none of the ``M`` samples."""
    arr = _frequency("q", q)
    m = float(_constant_size(sample_size))
    with np.errstate(divide="ignore"):
        return np.exp(m * np.log1p(-arr))


def one_step_expected_support(probs, sample_size) -> float:
    """``Σ_i [1 − (1 − p_i)^M]``: expected number of categories seen in one sample of size ``M``."""
    probs = _distribution("probs", probs)
    m = float(_constant_size(sample_size))
    with np.errstate(divide="ignore"):
        return float(np.sum(-np.expm1(m * np.log1p(-probs))))
