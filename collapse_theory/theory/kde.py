r"""Closed forms of the KDE refitting chain (:mod:`collapse_theory.kde`).

Notation: ``s²_g`` the centres' variance (divisor ``N_g``), ``V_g = s²_g + h²_g`` the model
variance, ``d_g`` the centres' mean minus D0's mean; D0 has variance ``σ0²`` (any law: only
its variance enters) and generation 0 is D0 (``V_0 = σ0²``, ``d_0 = 0``).  A bandwidth
``h² = κ_N s² + η`` *linear in s²* makes every recursion below exactly linear:

* fixed ``h``: ``κ = 0``, ``η = h²``; scikit-learn's unscaled rules ``h = f_N``: ``η_N = f_N²``;
* Scott ``h = c σ̂ N^{-1/5}`` with ``σ̂² = N s²/(N − 1)``: ``κ_N = c² N^{3/5}/(N − 1)``, ``η = 0``
  (scipy's Silverman factor ``c (3N/4)^{-1/5}`` likewise).

Silverman's ``min(σ̂, IQR/1.34)`` is not a quadratic statistic of the centres: ``E h²`` is not a
function of ``E s²`` and no exact recursion exists (only the bound ``h_silverman ≤ Scott's`` at
the same ``c``).  One conditional-expectation step (``proofs/kde_variance.py``), with
``V = (1 + κ) s² + η`` of the previous fit and ``M`` points drawn:

* replace: ``E[s²' | ·] = (M − 1)V/M``, ``E[d'² | ·] = d² + V/M``;
* accumulate (pool ``N → N' = N + M``): ``E[s²' | ·] = [N s² + M(1 − 1/N')V]/N'``,
  ``E[d'² | ·] = d² + M V/N'²``;
* fresh (``R`` points of D0, ``S`` samples, ``M = R + S``):
  ``E[s²' | ·] = [(R σ0² + S V)(M − 1)/M + (R S/M) d²]/M``,
  ``E[d'² | ·] = (R σ0² + S V)/M² + (S/M)² d²``.

Under replace the second moments close too: with the KDE's ``μ4 = m4 + 6 s² h² + 3 h⁴`` and
the sample moments of ``M`` i.i.d. draws, ``(E s², E s⁴, E m4)`` follows an exact linear
recursion (:func:`replace_second_moments`): the exact ``Var V_n``.

Replace, constant ``M``: fixed ``h`` gives ``E V_n = M h² + (σ0² − M h²)((M − 1)/M)^n`` (fixed
point ``E s²_∞ = (M − 1)h²``: no collapse, but the centres forget D0); Scott gives
``E V_n = σ0² ρ^n`` with ``ρ = (M − 1)/M + c² M^{-2/5} > 1``: the variance *explodes*.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _validate, fits, policies


class KDESecondMoments(NamedTuple):
    """Replace-chain moments at ``n = 0..G``, each ``(G + 1,)`` (generation 0: D0's)."""

    centre_variance: np.ndarray  # E s²_n
    centre_variance_sq: np.ndarray  # E s⁴_n
    centre_fourth: np.ndarray  # E m4_n, m4 the centres' fourth central moment (divisor N)
    variance_var: np.ndarray  # Var V_n = (1 + κ)² Var s²_n


class KDEMoments(NamedTuple):
    """Expectations at generations ``n = 0..G`` (index ``n``), each ``(G + 1,)``."""

    centre_variance: np.ndarray  # E s²_n (σ0² at n = 0)
    variance: np.ndarray  # E V_n
    mean_sq_dev: np.ndarray  # E d²_n


def _bandwidth(bandwidth):
    bw = fits.parse_bandwidth(bandwidth)
    if bw.rule == "silverman":
        raise ValueError("bandwidth 'silverman' has no closed form (E h² is not a function of "
                         "E s²: the IQR is not quadratic in the centres); use a fixed h or "
                         "'scott[:c]'")
    return bw


def kappa_eta(bandwidth, n_points, dim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(κ_N, η_N)`` with ``tr H = κ_N tr S + η_N`` for a fit on ``N`` points in ``dim``
    dimensions (``S`` the centres' covariance, divisor ``N``; in 1-D ``h² = κ_N s² + η_N``, module
    doc): a scaled rule (scott, scipy-silverman) has ``κ_N = f_N² N/(N − 1)``, ``η = 0``; a fixed
    or unscaled one (sklearn-*) ``κ = 0``, ``η_N = d f_N²`` (``f_N`` :meth:`fits.Bandwidth.factor`)."""
    bw = _bandwidth(bandwidth)
    dim = _validate.integer("dim", dim, minimum=1)
    n = np.asarray(n_points, dtype=np.float64)
    f2 = np.asarray(bw.factor(n, dim), dtype=np.float64) ** 2
    if bw.scaled:
        return f2 * n / (n - 1.0), np.zeros_like(n)
    return np.zeros_like(n), dim * f2


def moments(sample_size, generations: int, *, bandwidth, policy="replace",
            variance0: float = 1.0, dim: int = 1) -> KDEMoments:
    """``E s²_n``, ``E V_n`` and ``E d²_n`` for ``n = 0..G`` under ``policy`` (replace,
    accumulate or fresh:γ) with the schedule ``M_1..M_G`` (the recursions of the module doc).

    In ``dim > 1`` dimensions the same recursions hold for the traces (each is linear in the
    covariances, coordinate by coordinate): ``s² → tr S``, ``V → tr V = tr S + tr H``,
    ``d² → |d|²`` and ``variance0 = tr Σ0``, with :func:`kappa_eta` in ``dim`` dimensions."""
    pol = fits.kde_policy(policy)
    generations = _validate.integer("generations", generations, minimum=0)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=2)
    var0 = _validate.real("variance0", variance0, minimum=0.0, strict_minimum=True)
    sz = policies.sizes(pol, m)
    kappa, eta = kappa_eta(bandwidth, sz.fit, dim)
    s2, v, d2 = np.empty(generations + 1), np.empty(generations + 1), np.zeros(generations + 1)
    s2[0] = v[0] = var0
    n_prev = 0.0
    for g in range(generations):
        mg, n_new = float(m[g]), float(sz.fit[g])
        if pol.name == "replace":
            s2[g + 1] = (mg - 1.0) * v[g] / mg
            d2[g + 1] = d2[g] + v[g] / mg
        elif pol.name == "accumulate":
            s2[g + 1] = (n_prev * s2[g] + mg * (1.0 - 1.0 / n_new) * v[g]) / n_new
            d2[g + 1] = d2[g] + mg * v[g] / n_new ** 2
        else:
            r, s = float(sz.real[g]), float(sz.synthetic[g])
            if g == 0:  # model 0 is D0: all M_1 points are real
                r, s = mg, 0.0
            mix = r * var0 + s * v[g]
            s2[g + 1] = (mix * (mg - 1.0) / mg + r * s / mg * d2[g]) / mg
            d2[g + 1] = mix / mg**2 + (s / mg) ** 2 * d2[g]
        v[g + 1] = (1.0 + kappa[g]) * s2[g + 1] + eta[g]
        n_prev = n_new
    return KDEMoments(s2, v, d2)


def replace_fixed_point(sample_size: int, bandwidth: float) -> tuple[float, float]:
    """``(E s²_∞, E V_∞) = ((M − 1)h², M h²)`` under replace with fixed ``h`` and constant ``M``."""
    m = _validate.integer("sample_size", sample_size, minimum=2)
    h = _validate.real("bandwidth", bandwidth, minimum=0.0, strict_minimum=True)
    return (m - 1.0) * h * h, m * h * h


def replace_fixed_variance(sample_size: int, bandwidth: float, generations: int,
                           variance0: float = 1.0) -> np.ndarray:
    """``E V_n = M h² + (σ0² − M h²)((M − 1)/M)^n``, ``n = 0..G`` (replace, fixed ``h``)."""
    m = _validate.integer("sample_size", sample_size, minimum=2)
    _, v_inf = replace_fixed_point(m, bandwidth)
    generations = _validate.integer("generations", generations, minimum=0)
    var0 = _validate.real("variance0", variance0, minimum=0.0, strict_minimum=True)
    return v_inf + (var0 - v_inf) * ((m - 1.0) / m) ** np.arange(generations + 1)


def scott_growth_factor(sample_size: int, c: float = 1.0) -> float:
    """``ρ = E V_n/E V_{n−1} = (M − 1)/M + c² M^{-2/5}`` under replace with Scott's rule
    ``h = c σ̂ M^{-1/5}``; ``ρ > 1`` whenever ``c² M^{3/5} > 1``."""
    m = _validate.integer("sample_size", sample_size, minimum=2)
    c = _validate.real("c", c, minimum=0.0, strict_minimum=True)
    return (m - 1.0) / m + c * c * m ** -0.4


def sample_moment_coefficients(m) -> tuple[tuple[float, float], tuple[float, float]]:
    """``E m2² = e1 μ4 + e2 μ2²`` and ``E m4 = f1 μ4 + f2 μ2²`` for ``M`` i.i.d. draws (central
    sample moments with divisor ``M``; no ``μ3`` enters):
    ``e1 = (M − 1)²/M³``, ``e2 = (M − 1)(M² − 2M + 3)/M³``, ``f1 = (M − 1)(M² − 3M + 3)/M³``,
    ``f2 = 3(M − 1)(2M − 3)/M³``."""
    m = np.asarray(m, dtype=np.float64)
    m3 = m**3
    return (((m - 1) ** 2 / m3, (m - 1) * (m**2 - 2 * m + 3) / m3),
            ((m - 1) * (m**2 - 3 * m + 3) / m3, 3 * (m - 1) * (2 * m - 3) / m3))


def replace_second_moments(sample_size, generations: int, *, bandwidth, variance0: float = 1.0,
                           kurtosis0: float = 3.0) -> KDESecondMoments:
    """``E s²_n``, ``E s⁴_n``, ``E m4_n`` and ``Var V_n`` under replace (exact: linear in
    ``(s², s⁴, m4)``), for D0 with variance ``σ0²`` and kurtosis ``μ4/σ0⁴ = kurtosis0``.

    Given fit ``g − 1`` (``h² = κ s² + η``) the KDE has central moments ``μ2 = s² + h²`` and
    ``μ4 = m4 + 6 s² h² + 3 h⁴`` (a centre plus independent ``N(0, h²)``); the ``M`` draws'
    sample moments then follow :func:`sample_moment_coefficients`.  Gives the exact standard
    error of a mean of ``V_n`` and the target of a variance test.
    """
    generations = _validate.integer("generations", generations, minimum=0)
    m = _validate.schedule("sample_size", sample_size, generations, minimum=2).astype(np.float64)
    var0 = _validate.real("variance0", variance0, minimum=0.0, strict_minimum=True)
    k0 = _validate.real("kurtosis0", kurtosis0, minimum=1.0)
    kappa, eta = kappa_eta(bandwidth, m)
    a, b, c = (np.empty(generations + 1) for _ in range(3))
    a[0], b[0], c[0] = var0, var0**2, k0 * var0**2
    kap, et = 0.0, 0.0  # generation 0 is D0: no kernel
    for g in range(generations):
        mu2 = (1 + kap) * a[g] + et
        mu2_sq = (1 + kap) ** 2 * b[g] + 2 * (1 + kap) * et * a[g] + et**2
        mu4 = c[g] + 6 * (kap * b[g] + et * a[g]) + 3 * (kap**2 * b[g] + 2 * kap * et * a[g]
                                                           + et**2)
        (e1, e2), (f1, f2) = sample_moment_coefficients(m[g])
        a[g + 1] = (m[g] - 1) / m[g] * mu2
        b[g + 1] = e1 * mu4 + e2 * mu2_sq
        c[g + 1] = f1 * mu4 + f2 * mu2_sq
        kap, et = kappa[g], eta[g]
    scale = np.concatenate([[1.0], 1.0 + kappa])
    return KDESecondMoments(a, b, c, scale**2 * (b - a**2))
