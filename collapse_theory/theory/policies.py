r"""Closed forms of the chains under data policies (:mod:`collapse_theory.policies`).

Conventions as in :mod:`collapse_theory.policies`: fit ``g`` draws ``M_g`` synthetic points from
model ``g − 1`` (model 0 is D0, so batch 1 is the real data); ``c_N = 1/N`` (MLE) or
``1/(N − 1)`` (unbiased) for a fit on ``N`` points.  D0 is ``N(μ_0, σ_0²)`` (in ``d`` dimensions
every expectation below is the same scalar times Σ_0) or the categorical law ``p_0``.  Each
function returns the values at fits ``n = 0..G`` (index ``n``; ``n = 0`` is D0).
Derivations (sympy): ``proofs/policy_accumulate.py``, ``proofs/policy_fresh_fixed.py``,
``proofs/policy_regression.py``.
"""

from __future__ import annotations

import numpy as np

from .. import _validate

ESTIMATORS = ("unbiased", "mle")


def _sched(sample_size, generations, minimum=1):
    generations = _validate.integer("generations", generations, minimum=0)
    return _validate.schedule("sample_size", sample_size, generations, minimum=minimum
                              ).astype(np.float64)


def _off(estimator) -> int:
    return 1 if _validate.choice("estimator", estimator, ESTIMATORS) == "unbiased" else 0


# ---------------------------------------------------------------------------------------------
# Accumulate (equal weights; fit n sees N_n = M_1 + … + M_n points).


def accumulate_variance_factor(sample_size, generations: int, estimator="mle") -> np.ndarray:
    r"""``E σ²_n / σ²_0 = (M_1 − 1) c_{N_1} Π_{2≤k≤n} (N_k − o − M_k/N_k) c_{N_k}`` under
    accumulate, ``o = 1`` (unbiased) or ``0`` (MLE).

    Pooling batch ``k`` (mean ``b``, scatter ``W``) into the pool of ``N_{k−1}`` points adds
    ``W + (N_{k−1} M_k/N_k)(b − x̄)²`` to the scatter, with conditional mean
    ``σ²_{k−1}(M_k − 1 + N_{k−1}/N_k)``, and ``S_{k−1} = σ²_{k−1}(N_{k−1} − o)`` for ``k ≥ 2``
    (the pool is empty before batch 1).  MLE, constant ``M``: every factor is
    ``1 − 1/(M k²)``, so ``E σ²_n = σ²_0 Π_{k≤n}(1 − 1/(M k²))`` → ``sin(π/√M)/(π/√M)``
    (:func:`accumulate_variance_limit`).
    """
    m = _sched(sample_size, generations, minimum=2)
    n = np.cumsum(m)
    off = _off(estimator)
    factor = (n - off - m / n) / (n - off)
    if m.size:
        factor[0] = (m[0] - 1.0) / (m[0] - off)
    return np.concatenate([[1.0], np.cumprod(factor)])


def accumulate_variance_limit(sample_size) -> float:
    r"""``lim_n E σ²_n/σ²_0 = Π_{k≥1}(1 − 1/(M k²)) = sin(π/√M)/(π/√M)`` (MLE, constant ``M``;
    Euler's product for the sine)."""
    m = _validate.integer("sample_size", sample_size, minimum=2)
    x = np.pi / np.sqrt(m)
    return float(np.sin(x) / x)


def accumulate_gini_simpson_factor(sample_size, generations: int) -> np.ndarray:
    r"""``E H_n / H_0 = Π_{k≤n}(1 − M_k/N_k²)`` for the discrete chain under accumulate
    (pooled counts ``C_n``, ``q_n = C_n/N_n``, ``H = 1 − Σ q²``); constant ``M``:
    ``Π(1 − 1/(M k²))`` → ``sin(π/√M)/(π/√M)``, the Gaussian MLE product."""
    m = _sched(sample_size, generations)
    n = np.cumsum(m)
    return np.concatenate([[1.0], np.cumprod(1.0 - m / n**2)])


# ---------------------------------------------------------------------------------------------
# Fresh real data (fraction γ of every generation from D0: an island model with migration).


def _split(sample_size: int, gamma: float):
    m = _validate.integer("sample_size", sample_size, minimum=2)
    gamma = _validate.real("gamma", gamma, minimum=0.0, maximum=1.0)
    real = float(np.round(gamma * m))
    return float(m), real, m - real


def fresh_gaussian_moments(sample_size: int, gamma: float, generations: int, estimator="mle"):
    r"""``(E σ²_n, E(μ_n − μ_0)²)/σ²_0`` under ``fresh:γ`` (``R = round(γM)`` fresh real points,
    ``S = M − R`` from model ``n − 1``), ``n = 0..G``:

    ``v' = (S/M)² v + (R + S s)/M²`` and ``s' = c_M [R + S(s + v) − M v']`` (scatter about μ_0
    minus the mean's deviation).  Linear; the fixed point is :func:`fresh_gaussian_stationary`.
    """
    m, r, s_ = _split(sample_size, gamma)
    generations = _validate.integer("generations", generations, minimum=0)
    c = 1.0 / (m - _off(estimator))
    s, v = np.empty(generations + 1), np.empty(generations + 1)
    s[0], v[0] = 1.0, 0.0
    for i in range(generations):
        v[i + 1] = (s_ / m) ** 2 * v[i] + (r + s_ * s[i]) / m**2
        s[i + 1] = c * (r + s_ * (s[i] + v[i]) - m * v[i + 1])
    return s, v


def fresh_gaussian_stationary(sample_size: int, gamma: float, estimator="mle"):
    r"""Fixed point ``(s*, v*)`` of :func:`fresh_gaussian_moments` (``γM ≥ 1``: no collapse).

    The two recursions are affine in ``(v, s)``; their fixed point solves a 2×2 linear system
    (derived in ``proofs/policy_fresh_fixed.py``).
    """
    m, r, s_ = _split(sample_size, gamma)
    c = 1.0 / (m - _off(estimator))
    # v = a_vv v + a_vs s + b_v ;  s = c[R + S s + S v − M v_new]
    a_vv, a_vs, b_v = (s_ / m) ** 2, s_ / m**2, r / m**2
    a = np.array([[1.0 - a_vv, -a_vs],
                  [-c * (s_ - m * a_vv), 1.0 - c * (s_ - m * a_vs)]])
    b = np.array([b_v, c * (r - m * b_v)])
    v, s = np.linalg.solve(a, b)
    return float(s), float(v)


def fresh_gini_simpson(probs, sample_size: int, gamma: float, generations: int) -> np.ndarray:
    r"""``E H_n`` (Gini–Simpson) of the discrete chain under ``fresh:γ``:
    ``F' = [R(1 − F_0) + S(1 − F) + R² F_0 + 2RS F_0 + S² F]/M²`` for ``F = E Σ q²``
    (``E q_n = p_0``, so ``E Σ p_0 q = F_0 = Σ p_0²``)."""
    p = np.asarray(probs, dtype=np.float64)
    m, r, s_ = _split(sample_size, gamma)
    generations = _validate.integer("generations", generations, minimum=0)
    f0 = float(np.sum(p**2))
    f = np.empty(generations + 1)
    f[0] = f0
    for i in range(generations):
        f[i + 1] = (r * (1 - f0) + s_ * (1 - f[i]) + r * r * f0 + 2 * r * s_ * f0
                    + s_ * s_ * f[i]) / m**2
    return 1.0 - f


def fresh_gini_simpson_stationary(probs, sample_size: int, gamma: float) -> float:
    r"""``lim E H_n = 1 − F*``, ``F* = [R(1 − F_0) + S + R² F_0 + 2RS F_0]/(M² − S² + S)``."""
    p = np.asarray(probs, dtype=np.float64)
    m, r, s_ = _split(sample_size, gamma)
    f0 = float(np.sum(p**2))
    f = (r * (1 - f0) + s_ + r * r * f0 + 2 * r * s_ * f0) / (m**2 - s_**2 + s_)
    return 1.0 - f


# ---------------------------------------------------------------------------------------------
# Fixed real set (R = M_1 points drawn once) plus round(λM) synthetic points (Bertrand et al.).


def _fixed(sample_size, lam):
    m = _validate.integer("sample_size", sample_size, minimum=2)
    lam = _validate.real("lam", lam, minimum=0.0)
    syn = float(np.round(lam * m))
    return float(m), syn, m + syn


def fixed_gaussian_variance(sample_size: int, lam: float, generations: int, estimator="mle"):
    r"""``E σ²_n/σ²_0`` under ``fixed:λ``, ``n = 0..G`` (expectation over the real set too).

    Given the real set (mean r̄, scatter S_R) and ``u = μ − r̄``, ``v = E u²``, ``s = E σ²``:
    ``v' = (L/N)²(v + s/L)``, ``s' = c_N[S_R + (L − 1)s + (R L/N)(v + s/L)]`` with ``R = M``,
    ``L = round(λM)``, ``N = R + L``; linear, so the unconditional moments follow from
    ``E S_R = (R − 1)σ²_0``, ``v_0 = σ²_0/R``.
    """
    r, l, n = _fixed(sample_size, lam)
    generations = _validate.integer("generations", generations, minimum=0)
    c = 1.0 / (n - _off(estimator))
    s, v = np.empty(generations + 1), np.empty(generations + 1)
    s[0], v[0] = 1.0, 1.0 / r
    for i in range(generations):
        e = v[i] + (s[i] / l if l else 0.0)
        v[i + 1] = (l / n) ** 2 * e
        s[i + 1] = c * ((r - 1.0) + max(l - 1.0, 0.0) * s[i] + (r * l / n) * e)
    return s


def fixed_gaussian_stationary(sample_size: int, lam: float, estimator="mle") -> float:
    r"""``lim E σ²_n/σ²_0`` under ``fixed:λ``: positive for every ``λ ≥ 0`` (no collapse).

    Fixed point of :func:`fixed_gaussian_variance`: with ``L ≥ 1``,
    ``v* = L s*/(N² − L²)`` and ``s* = c(R − 1)/(1 − c[(L − 1) + (R L/N)(v*/s* + 1/L)])``.
    """
    r, l, n = _fixed(sample_size, lam)
    c = 1.0 / (n - _off(estimator))
    if l == 0:
        return float(c * (r - 1.0))
    k = l / (n**2 - l**2)  # v* = k s*
    return float(c * (r - 1.0) / (1.0 - c * ((l - 1.0) + (r * l / n) * (k + 1.0 / l))))


# ---------------------------------------------------------------------------------------------
# Linear regression refitted on its own labels (Dohmatob, Feng & Kempe 2024; Gerstgrasser 2024).


def regression_error(generations: int, rows: int, dim: int, noise: float = 1.0,
                     policy="replace") -> np.ndarray:
    r"""``E‖ŵ_n − w*‖²``, ``n = 0..G``, OLS on ``T × d`` designs with i.i.d. ``N(0, 1)`` entries
    and label noise variance ``σ²`` (``noise``):

    * replace (fresh or fixed design): ``σ² d/(T − d − 1) · n``
      (``E tr (XᵀX)^{-1} = d/(T − d − 1)``, inverse-Wishart mean; errors add as a martingale);
    * accumulate with a *fixed* design and equal weights: ``ŵ_n − w* = Σ_{i≤n} Eε_i/i`` with
      ``E = (XᵀX)^{-1}Xᵀ``, so ``σ² d/(T − d − 1) · Σ_{i≤n} 1/i² ≤ σ² d/(T − d − 1) · π²/6``.
    """
    generations = _validate.integer("generations", generations, minimum=0)
    dim = _validate.integer("dim", dim, minimum=1)
    rows = _validate.integer("rows", rows, minimum=dim + 2)
    noise = _validate.real("noise", noise, minimum=0.0)
    _validate.choice("policy", policy, ("replace", "accumulate"))
    base = noise * dim / (rows - dim - 1.0)
    n = np.arange(generations + 1, dtype=np.float64)
    if policy == "replace":
        return base * n
    return base * np.concatenate([[0.0], np.cumsum(1.0 / n[1:] ** 2)])
