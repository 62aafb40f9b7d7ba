r"""Closed forms of the Gaussian refitting chain (Shumailov et al. 2024, Theorem 3.1 and SI).

Fit ``i`` (``i = 1..n``) draws ``M_i`` points from ``N(μ_{i−1}, Σ_{i−1})``; ``μ_i`` is their mean
and ``Σ_i = S / c_i`` with ``S ~ Wishart_d(M_i − 1, Σ_{i−1})`` independent of ``μ_i`` and
``c_i = M_i − 1`` (``estimator="unbiased"``) or ``c_i = M_i`` (``"mle"``).  By the Bartlett
decomposition ``det S = det Σ_{i−1} Π_{j=1}^{d} χ²_{M_i−j}`` with independent factors, so every
quantity below is a sum (log scale) or product of per-fit factors, whatever the schedule.

Conventions: ``n`` is a number of fits (an int or an integer numpy array; the result has its
shape; ``n = 0`` gives the D0 value); ``sample_size`` is an int ``M`` or a schedule
``(M_1, ..., M_G)`` with ``G ≥ max(n)``, ``M_i ≥ dim + 1``.  ψ is the digamma function, ψ₁ the
trigamma function.  Derivations: ``proofs/gaussian_*.py`` (sympy); the formulas are the targets of
docs/theory.md §3.  Everything is computed in log space with cancellation-free
expansions, so that long chains and large ``M`` neither overflow nor lose precision.

D0 is Gaussian except for :func:`expected_mean_sq_dev`, which only needs D0's covariance (fit 1
may use any real data).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np
from scipy import special

from .. import _validate

ESTIMATORS = ("unbiased", "mle")

# Bernoulli numbers B_2, B_4, ..., B_14 of the Stirling series (used for arguments >= _ASYMPTOTIC).
_BERNOULLI = np.array([1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6])
_ASYMPTOTIC = 10.0


# --------------------------------------------------------------------------------------------
# Public closed forms
# --------------------------------------------------------------------------------------------

def expected_log_det(n, sample_size, dim=1, estimator="unbiased", log_det0=0.0):
    r"""``E log det Σ_n = log det Σ_0 + Σ_{i≤n} Σ_{j=1}^{d} [ψ((M_i − j)/2) + log(2/c_i)]``.

    ``c_i = M_i − 1`` (unbiased) or ``M_i`` (MLE).  From ``E log χ²_ν = ψ(ν/2) + log 2`` and
    Bartlett's ``det S = det Σ Π_j χ²_{M−j}``; docs/theory.md §3 ("Gaussian, d-dim"), proof
    ``proofs/gaussian_log_det.py``.  In 1-D this is ``E log σ²_n``.
    """
    dim, off = _dim(dim), _offset(estimator)
    log_det0 = _validate.real("log_det0", log_det0)

    def per_fit(m):
        j = np.arange(1, dim + 1)[:, None]
        a = (m - j) / 2.0
        # ψ(a) + log 2 − log c = [ψ(a) − log a] + log((M − j)/c), each part free of cancellation.
        return np.sum(_digamma_minus_log(a) + np.log1p((off - j) / (m - off)), axis=0)

    return log_det0 + _accumulate(n, sample_size, dim, per_fit)


def var_log_det(n, sample_size, dim=1):
    r"""``Var log det Σ_n = Σ_{i≤n} Σ_{j=1}^{d} ψ₁((M_i − j)/2)`` (both estimators).

    ``Var log χ²_ν = ψ₁(ν/2)``, independent factors, and the estimator only shifts by the constant
    ``−d log c_i``.  Theory README §2; proof ``proofs/gaussian_log_det.py``.
    """
    dim = _dim(dim)

    def per_fit(m):
        j = np.arange(1, dim + 1)[:, None]
        return np.sum(special.polygamma(1, (m - j) / 2.0), axis=0)

    return _accumulate(n, sample_size, dim, per_fit)


def expected_variance_power(n, sample_size, k, estimator="unbiased", var0=1.0):
    r"""``E σ_n^{2k} = σ_0^{2k} Π_{i≤n} E Q_i^k``, ``E Q^k = (2/c)^k Γ((M−1)/2 + k)/Γ((M−1)/2)``.

    1-D, ``Q_i = χ²_{M_i−1}/c_i``; real ``k > −(M_i − 1)/2`` (the Mellin transform of χ² exists).
    ``k = 1``: ``σ_0²`` (unbiased), ``σ_0² Π (M_i−1)/M_i`` (MLE).  Theory README §2; proof
    ``proofs/gaussian_moments.py``.  May be ``inf`` when the exact value exceeds float64 (σ²_n is
    heavy-tailed: ``E σ_n⁴ = σ_0⁴ (1 + 2/(M−1))^n`` unbiased).
    """
    off = _offset(estimator)
    k = _validate.real("k", k)
    var0 = _validate.real("var0", var0, minimum=0.0, strict_minimum=True)
    n_max = int(_generations(n)[0].max(initial=0))
    m = _sizes(sample_size, n_max, 1)
    m_min = m if isinstance(m, int) else int(m[:n_max].min(initial=np.iinfo(np.int64).max))
    if k <= -(m_min - 1) / 2:
        raise ValueError(f"k must be > -(M - 1)/2 = {-(m_min - 1) / 2} for sample_size "
                         f"M = {m_min}, got {k}")
    log_value = k * np.log(var0) + _log_power(n, sample_size, k, off)
    with np.errstate(over="ignore"):
        return np.exp(log_value)


def expected_std(n, sample_size, estimator="unbiased", var0=1.0):
    r"""``E σ_n = σ_0 Π_{i≤n} c(M_i)`` with ``c(M) = √(2/c) Γ(M/2)/Γ((M−1)/2)``.

    ``c = M − 1`` (unbiased: the paper's ``c(M)``, so ``E σ_n = σ_0 c(M)^n`` for constant ``M``)
    or ``c = M`` (MLE).  The case ``k = 1/2`` of :func:`expected_variance_power`; docs/theory.md §3;
    proof ``proofs/gaussian_moments.py``.
    """
    return expected_variance_power(n, sample_size, 0.5, estimator=estimator, var0=var0)


def std_factor(sample_size, estimator="unbiased"):
    r"""``c(M) = E √(χ²_{M−1}/c) = √(2/c) Γ(M/2)/Γ((M−1)/2)`` for one fit (``c`` as above).

    ``c(M) = 1 − 1/(4M) + O(M⁻²)`` (unbiased); proof ``proofs/gaussian_w2.py``.
    """
    m = _validate.integer("sample_size", sample_size, minimum=2)
    return float(np.exp(_log_moment(np.array([m]), 0.5, _offset(estimator))[0]))


def expected_det(n, sample_size, dim=1, estimator="unbiased", det0=1.0):
    r"""``E det Σ_n = det Σ_0 Π_{i≤n} Π_{j=1}^{d} (M_i − j)/c_i``.

    ``E χ²_ν = ν`` and Bartlett.  Unbiased 1-D: ``det Σ_0``; MLE: ``det Σ_0 [Π_j (M−j)/M]^n``
    (docs/theory.md §3).  Proof ``proofs/gaussian_moments.py``.
    """
    dim, off = _dim(dim), _offset(estimator)
    det0 = _validate.real("det0", det0, minimum=0.0, strict_minimum=True)

    def per_fit(m):
        j = np.arange(1, dim + 1)[:, None]
        return np.sum(np.log1p((off - j) / (m - off)), axis=0)

    return np.exp(np.log(det0) + _accumulate(n, sample_size, dim, per_fit))


def expected_mean_sq_dev(n, sample_size, dim=1, estimator="unbiased", trace0=1.0):
    r"""``E|μ_n − μ_0|² = tr Σ_0 Σ_{i≤n} (1/M_i) Π_{k<i} (M_k − 1)/c_k``.

    Unbiased: ``tr Σ_0 Σ_{i≤n} 1/M_i``; MLE: the sum telescopes to
    ``tr Σ_0 (1 − Π_{i≤n} (M_i − 1)/M_i)``.  Tower property: the increments are orthogonal
    (martingale) with ``E|μ_i − μ_{i−1}|² = E tr Σ_{i−1} / M_i``.  Only the first two moments of
    D0 enter, so this holds for any D0 with covariance trace ``trace0`` (e.g. Student-t data for
    the first fit).  Theory README §2; proof ``proofs/gaussian_schedules.py``.
    """
    dim, off = _dim(dim), _offset(estimator)
    trace0 = _validate.real("trace0", trace0, minimum=0.0, strict_minimum=True)
    if off == 1:
        return trace0 * _accumulate(n, sample_size, dim, lambda m: 1.0 / m)
    return -trace0 * np.expm1(_accumulate(n, sample_size, dim, lambda m: np.log1p(-1.0 / m)))


def expected_w2_squared(n, sample_size, estimator="unbiased", var0=1.0):
    r"""Exact 1-D ``E W2²(N(μ_n, σ_n²), N(μ_0, σ_0²)) = E(μ_n−μ_0)² + σ_0² + E σ_n² − 2 σ_0 E σ_n``.

    ``W2²`` between 1-D Gaussians is ``(Δμ)² + (Δσ)²`` (quantile coupling).  Unbiased:
    ``σ_0² (Σ_{i≤n} 1/M_i + 2 − 2 Π c(M_i))``, i.e. ``σ_0² (n/M + 2 − 2 c(M)^n)`` for constant ``M``
    (docs/theory.md §3).  MLE: ``2 σ_0² (1 − Π c_mle(M_i)) ≤ 2 σ_0²`` (the mean part and ``E σ_n²``
    add up to ``σ_0²``).  Gaussian D0.  Proofs ``proofs/gaussian_w2.py``, ``gaussian_schedules.py``.
    """
    var0 = _validate.real("var0", var0, minimum=0.0, strict_minimum=True)
    mean_part = expected_mean_sq_dev(n, sample_size, 1, estimator, trace0=var0)
    off = _offset(estimator)
    log_var, log_std = _log_power(n, sample_size, 1.0, off), _log_power(n, sample_size, 0.5, off)
    # σ_0² (1 + e^A − 2 e^B) = σ_0² (expm1 A − 2 expm1 B): no cancellation for small n / M.
    return mean_part + var0 * (np.expm1(log_var) - 2.0 * np.expm1(log_std))


def paper_w2_squared(n, sample_size, var0=1.0):
    r"""The paper's approximation ``E W2² ≈ (3/2) σ_0² Σ_{i≤n} 1/M_i`` (Nature SI, second order).

    From ``c(M) = 1 − 1/(4M) + O(M⁻²)``: ``2 − 2 Π c(M_i) ≈ (1/2) Σ 1/M_i`` plus the mean part
    ``Σ 1/M_i`` (unbiased): exact to first order in ``1/M_i``.  For constant ``M`` the exact value
    is ``σ_0² [3n/(2M) + (n/2 − n²/16)/M² + O(M⁻³)]``, so it is accurate only while ``n ≪ M``.
    Proof ``proofs/gaussian_w2.py``.
    """
    var0 = _validate.real("var0", var0, minimum=0.0, strict_minimum=True)
    return 1.5 * var0 * _accumulate(n, sample_size, 1, lambda m: 1.0 / m)


def w2_lower_bound(n, sample_size, trace0=1.0, dim=1):
    r"""``E W2² ≥ tr Σ_0 Σ_{i≤n} 1/M_i`` (arXiv 2305.17493 appendix; unbiased covariance).

    Gelbrich: ``W2² ≥ |μ_n − μ_0|² + Bures² ≥ |μ_n − μ_0|²``, whose mean is the unbiased
    :func:`expected_mean_sq_dev`.  Bounded in ``n`` iff ``Σ 1/M_i < ∞``.  Not a bound for the
    MLE chain, whose ``E W2² ≤ 2 σ_0²`` (its mean steps shrink with ``E Σ_i``).  Proof
    ``proofs/gaussian_schedules.py``.
    """
    trace0 = _validate.real("trace0", trace0, minimum=0.0, strict_minimum=True)
    return trace0 * _accumulate(n, sample_size, _dim(dim), lambda m: 1.0 / m)


# --------------------------------------------------------------------------------------------
# Argument handling and accumulation over fits
# --------------------------------------------------------------------------------------------

def _dim(dim) -> int:
    return _validate.integer("dim", dim, minimum=1)


def _offset(estimator) -> int:
    """``M − c``: 1 for the unbiased estimator (``c = M − 1``), 0 for the MLE (``c = M``)."""
    return 1 if _validate.choice("estimator", estimator, ESTIMATORS) == "unbiased" else 0


def _generations(n) -> tuple[np.ndarray, bool]:
    """``n`` as an int64 array and whether it was a scalar."""
    if isinstance(n, numbers.Integral) and not isinstance(n, bool):
        return np.asarray(_validate.integer("n", n, minimum=0), dtype=np.int64), True
    arr = np.asarray(n)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"n must be an integer or an integer array of generations, got {n!r} "
                        f"({arr.dtype})")
    if arr.size and arr.min() < 0:
        raise ValueError(f"n must be >= 0, got {int(arr.min())}")
    return arr.astype(np.int64), arr.ndim == 0


def _sizes(sample_size, n_max: int, dim: int) -> int | np.ndarray:
    """An int ``M`` or the int64 schedule ``(M_1, ..., M_G)``, ``G ≥ n_max``, ``M_i ≥ dim + 1``."""
    if isinstance(sample_size, numbers.Integral) and not isinstance(sample_size, bool):
        return _validate.integer("sample_size", sample_size, minimum=dim + 1)
    is_seq = (isinstance(sample_size, (Sequence, np.ndarray))
              and not isinstance(sample_size, (str, bytes)))
    length = np.shape(sample_size)[0] if is_seq and np.ndim(sample_size) == 1 else n_max
    sched = _validate.schedule("sample_size", sample_size, length, minimum=dim + 1)
    if length < n_max:
        raise ValueError(f"sample_size as a schedule must have length >= max(n) = {n_max}, "
                         f"got length {length}")
    return sched


def _accumulate(n, sample_size, dim: int, per_fit: Callable[[np.ndarray], np.ndarray]):
    """``Σ_{i≤n} per_fit(M_i)`` for every entry of ``n`` (a float or a float64 array)."""
    n_arr, scalar = _generations(n)
    n_max = int(n_arr.max(initial=0))
    m = _sizes(sample_size, n_max, dim)
    if isinstance(m, int):
        out = n_arr * per_fit(np.array([m], dtype=np.float64))[0]
    else:
        terms = per_fit(m[:n_max].astype(np.float64))
        out = np.concatenate([[0.0], np.cumsum(terms)])[n_arr]
    out = np.asarray(out, dtype=np.float64)
    return float(out) if scalar else out


# --------------------------------------------------------------------------------------------
# Special functions without cancellation
# --------------------------------------------------------------------------------------------

def _log_power(n, sample_size, k: float, off: int):
    """``log E σ_n^{2k} − k log σ_0² = Σ_{i≤n} log E Q_i^k`` (1-D)."""
    return _accumulate(n, sample_size, 1, lambda m: _log_moment(m, k, off))


def _log_moment(m, k: float, off: int):
    r"""``log E Q^k = k log(2/c) + log Γ(a + k) − log Γ(a)``, ``a = (M − 1)/2``, ``c = M − off``.

    Written ``k log((M−1)/c) + [log Γ(a+k) − log Γ(a) − k log a]``: both parts are ``O(1/M)``.
    """
    return k * np.log1p((off - 1.0) / (m - off)) + _log_gamma_ratio((m - 1.0) / 2.0, k)


def _log1p_minus_x(x):
    """``log(1 + x) − x`` accurately for small ``|x|`` (series) and directly otherwise."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < 0.1
    xs = np.where(small, x, 0.0)
    series = np.zeros_like(xs)
    for p in range(17, 1, -1):  # −x²/2 + x³/3 − ...: 16 terms reach 1e-17 for |x| < 0.1
        series = series + (-1) ** (p + 1) * xs ** p / p
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log1p(x) - x
    return np.where(small, series, direct)


def _stirling_tail(z):
    """``Σ_m B_{2m} / (2m (2m−1) z^{2m−1})`` with ``z^{-p}`` supplied as a function of ``p``."""
    return sum(b / ((2 * i + 2) * (2 * i + 1)) * z(2 * i + 1) for i, b in enumerate(_BERNOULLI))


def _log_gamma_ratio(a, k: float):
    r"""``log Γ(a + k) − log Γ(a) − k log a`` (``a > 0``, ``a + k > 0``).

    For ``a, a + k ≥ 10`` from Stirling's series,
    ``(a + k − ½) log(1 + x) − k + S(a + k) − S(a)`` with ``x = k/a``, rearranged as
    ``a (log(1+x) − x) + (k − ½) log(1+x) + a^{-p}((1+x)^{-p} − 1)`` terms, which keeps full
    relative precision when ``k ≪ a``; otherwise ``gammaln`` directly.
    """
    a = np.asarray(a, dtype=np.float64)
    big = (a >= _ASYMPTOTIC) & (a + k >= _ASYMPTOTIC)
    ab = np.where(big, a, _ASYMPTOTIC)
    x = k / ab
    l1p = np.log1p(x)
    tail = _stirling_tail(lambda p: ab ** -p * np.expm1(-p * l1p))
    asym = ab * _log1p_minus_x(x) + (k - 0.5) * l1p + tail
    small_a = np.where(big, 1.0, a)
    direct = special.gammaln(small_a + k) - special.gammaln(small_a) - k * np.log(small_a)
    return np.where(big, asym, direct)


def _digamma_minus_log(a):
    r"""``ψ(a) − log a``: ``−1/(2a) − Σ_m B_{2m}/(2m a^{2m})`` for ``a ≥ 10``, else directly."""
    a = np.asarray(a, dtype=np.float64)
    big = a >= _ASYMPTOTIC
    ab = np.where(big, a, _ASYMPTOTIC)
    asym = -0.5 / ab - sum(b / (2 * i + 2) * ab ** -(2 * i + 2) for i, b in enumerate(_BERNOULLI))
    small_a = np.where(big, 1.0, a)
    return np.where(big, asym, special.digamma(small_a) - np.log(small_a))
