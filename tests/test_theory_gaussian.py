"""theory.gaussian: closed forms vs independent numerics; vectorisation, schedules, validation."""

import math

import mpmath
import numpy as np
import pytest
from scipy import integrate, special, stats

from collapse_theory.theory import gaussian as theory


def chi2_expect(f, dof):
    """E f(X), X ~ χ²_dof, by quadrature over u = log X (density e^u p(e^u): no pole at 0)."""
    log_pdf = stats.chi2(dof).logpdf
    # The mass outside [dof e^-100, dof + 100 + 30 √dof] is below 1e-20.
    lo, mid, hi = math.log(dof) - 100, math.log(dof), math.log(dof + 100 + 30 * math.sqrt(dof))
    return sum(integrate.quad(lambda u: f(math.exp(u)) * math.exp(log_pdf(math.exp(u)) + u), a, b,
                              limit=200, epsabs=1e-13, epsrel=1e-12)[0]
               for a, b in [(lo, mid), (mid, hi)])


def c_factor(m, c):
    """E √(χ²_{m−1}/c) by quadrature."""
    return chi2_expect(lambda x: np.sqrt(x / c), m - 1)


# ---------------------------------------------------------------- against quadrature of χ²

@pytest.mark.parametrize("m,dim,estimator", [(2, 1, "unbiased"), (10, 1, "mle"),
                                             (7, 3, "unbiased"), (30, 2, "mle")])
def test_log_det_moments_against_quadrature(m, dim, estimator):
    c = m - 1 if estimator == "unbiased" else m
    # One fit: log det Σ_1 = Σ_j log χ²_{m−j} − d log c with independent factors (Bartlett).
    mean1 = sum(chi2_expect(np.log, m - j) for j in range(1, dim + 1)) - dim * math.log(c)
    var1 = sum(chi2_expect(lambda x: np.log(x) ** 2, m - j) - chi2_expect(np.log, m - j) ** 2
               for j in range(1, dim + 1))
    n = 7
    expected = theory.expected_log_det(n, m, dim, estimator, log_det0=0.3)
    assert expected == pytest.approx(0.3 + n * mean1, rel=1e-9)
    assert theory.var_log_det(n, m, dim) == pytest.approx(n * var1, rel=1e-8)


@pytest.mark.parametrize("k", [-0.4, 0.5, 1.0, 2.0, 3.3])
@pytest.mark.parametrize("m,estimator", [(3, "unbiased"), (12, "mle"), (50, "unbiased")])
def test_variance_power_against_quadrature(k, m, estimator):
    c = m - 1 if estimator == "unbiased" else m
    one_fit = chi2_expect(lambda x: (x / c) ** k, m - 1)
    assert theory.expected_variance_power(4, m, k, estimator, var0=2.0) == pytest.approx(
        2.0 ** k * one_fit ** 4, rel=1e-9)


def test_std_factor_against_quadrature_and_mpmath():
    for m in (2, 3, 10, 101):
        assert theory.std_factor(m) == pytest.approx(c_factor(m, m - 1), rel=1e-10)
        assert theory.std_factor(m, "mle") == pytest.approx(c_factor(m, m), rel=1e-10)
    # Large M: 1 − c(M) ≈ 1/(4M) keeps full relative precision (no Γ-ratio cancellation).
    mpmath.mp.dps = 40
    for m in (10 ** 4, 10 ** 6, 10 ** 9):
        half = mpmath.mpf(m) / 2
        exact = 1 - mpmath.sqrt(2 / (half * 2 - 1)) * mpmath.gamma(half) / mpmath.gamma(half - 0.5)
        assert 1 - theory.std_factor(m) == pytest.approx(float(exact), rel=1e-6)
        log_exact = mpmath.digamma(half - 0.5) + mpmath.log(2 / mpmath.mpf(m - 1))
        assert theory.expected_log_det(1, m) == pytest.approx(float(log_exact), rel=1e-9)


# ------------------------------------------------------------- against brute-force products

def test_det_and_mean_sq_dev_brute_force():
    sched = [4, 9, 5, 30, 6]
    for dim in (1, 3):
        for est, off in (("unbiased", 1), ("mle", 0)):
            for n in range(len(sched) + 1):
                det = np.prod([(m - j) / (m - off) for m in sched[:n] for j in range(1, dim + 1)])
                assert theory.expected_det(n, sched, dim, est, det0=2.0) == pytest.approx(
                    2.0 * det, rel=1e-12)
                # E|μ_n − μ_0|² = tr Σ_0 Σ_i (1/M_i) E σ²_{i−1}/σ_0², E σ²_i ∝ Π (M_k − 1)/c_k.
                ev, total = 1.0, 0.0
                for m in sched[:n]:
                    total += ev / m
                    ev *= (m - 1) / (m - off)
                assert theory.expected_mean_sq_dev(n, sched, dim, est, trace0=3.0) == pytest.approx(
                    3.0 * total, rel=1e-12, abs=1e-300)


def test_readme_forms_constant_m():
    m, n = 15, np.arange(0, 60)
    r = (m - 1) / m
    assert np.allclose(theory.expected_mean_sq_dev(n, m, estimator="mle", trace0=2.0),
                       2.0 * (1 - r ** n), rtol=1e-12, atol=0)
    assert np.allclose(theory.expected_variance_power(n, m, 1.0, "mle", var0=2.0), 2.0 * r ** n,
                       rtol=1e-12)
    assert np.allclose(theory.expected_variance_power(n, m, 1.0, var0=2.0), 2.0, rtol=1e-12)
    assert np.allclose(theory.expected_mean_sq_dev(n, m, trace0=2.0), 2.0 * n / m, rtol=1e-12)
    det_step = np.prod([(m - j) / m for j in (1, 2, 3)])
    assert np.allclose(theory.expected_det(n, m, 3, "mle"), det_step ** n, rtol=1e-12)
    drift = special.digamma((m - np.arange(1, 4)) / 2) + np.log(2 / (m - 1))
    assert np.allclose(theory.expected_log_det(n, m, 3), n * drift.sum(), rtol=1e-12, atol=1e-15)


def test_w2_unbiased_constant_m_formula():
    # σ²(n/M + 2 − 2 c(M)^n) with c(M) from Γ directly (not the package's log-space path).
    for m in (2, 5, 20, 300):
        c = math.sqrt(2 / (m - 1)) * math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2))
        n = np.arange(0, 200, 13)
        assert np.allclose(theory.expected_w2_squared(n, m, var0=3.0),
                           3.0 * (n / m + 2 - 2 * c ** n), rtol=1e-10, atol=1e-14)
        assert np.allclose(theory.expected_std(n, m, var0=9.0), 3.0 * c ** n, rtol=1e-10)


def test_w2_mle_from_its_parts():
    # E W2² = E(μ_n−μ_0)² + σ_0² + E σ_n² − 2 σ_0 E σ_n, parts by quadrature / brute force.
    m, var0 = 6, 2.0
    r, cm = (m - 1) / m, c_factor(m, m)
    for n in (0, 1, 4, 25):
        parts = var0 * (1 - r ** n) + var0 + var0 * r ** n - 2 * var0 * cm ** n
        assert theory.expected_w2_squared(n, m, "mle", var0=var0) == pytest.approx(
            parts, rel=1e-9, abs=1e-15)


def test_w2_small_n_has_no_cancellation():
    # n = 1, M = 10⁸: E W2² = σ²(1/M + 2 − 2c) ≈ σ² · 1.5/M; a naive 2 − 2c would lose 8 digits.
    m = 10 ** 8
    assert theory.expected_w2_squared(1, m) == pytest.approx(1.5 / m, rel=1e-6)
    assert theory.paper_w2_squared(1, m) == pytest.approx(1.5 / m, rel=1e-12)


def test_paper_and_lower_bound():
    sched = [4, 7, 12, 19]
    n = np.arange(5)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.array(sched))])
    assert np.allclose(theory.paper_w2_squared(n, sched, var0=2.0), 1.5 * 2.0 * harmonic)
    bound = theory.w2_lower_bound(n, sched, trace0=2.0)
    assert np.allclose(bound, 2.0 * harmonic)
    assert np.all(theory.expected_w2_squared(n, sched, var0=2.0) >= bound)


# ----------------------------------------------------------------- conventions and numerics

FUNCTIONS = [
    lambda n, m: theory.expected_log_det(n, m, 2, "mle", log_det0=0.5),
    lambda n, m: theory.var_log_det(n, m, 2),
    lambda n, m: theory.expected_variance_power(n, m, 1.7, "unbiased", var0=2.0),
    lambda n, m: theory.expected_std(n, m, "mle", var0=2.0),
    lambda n, m: theory.expected_det(n, m, 2, "unbiased", det0=2.0),
    lambda n, m: theory.expected_mean_sq_dev(n, m, 2, "mle", trace0=2.0),
    lambda n, m: theory.expected_w2_squared(n, m, "unbiased", var0=2.0),
    lambda n, m: theory.expected_w2_squared(n, m, "mle", var0=2.0),
    lambda n, m: theory.paper_w2_squared(n, m, var0=2.0),
    lambda n, m: theory.w2_lower_bound(n, m, trace0=2.0),
]


@pytest.mark.parametrize("f", FUNCTIONS)
def test_vectorised_over_n_and_constant_schedule(f):
    n = np.array([[0, 3], [7, 12]])
    out = f(n, 9)
    assert isinstance(out, np.ndarray) and out.shape == (2, 2) and out.dtype == np.float64
    scalars = [f(int(k), 9) for k in n.ravel()]
    assert all(isinstance(v, float) for v in scalars)
    assert np.allclose(out.ravel(), scalars, rtol=1e-14)
    # A schedule with M_i = M reproduces the constant-M values (and may be longer than max n).
    assert np.allclose(f(n, [9] * 20), out, rtol=1e-12, atol=1e-15)
    assert np.allclose(f(n, np.full(12, 9)), out, rtol=1e-12, atol=1e-15)
    assert isinstance(f(np.int64(3), 9), float)


def test_generation_zero_is_d0():
    assert theory.expected_log_det(0, 5, 3, log_det0=1.25) == 1.25
    assert theory.var_log_det(0, 5) == 0.0
    assert theory.expected_variance_power(0, 5, 2.5, var0=3.0) == pytest.approx(3.0 ** 2.5)
    assert theory.expected_std(0, [], var0=4.0) == pytest.approx(2.0)
    assert theory.expected_det(0, 5, det0=7.0) == pytest.approx(7.0)
    assert theory.expected_mean_sq_dev(0, 5) == 0.0 and theory.expected_w2_squared(0, 5) == 0.0


def test_long_chains_stay_finite():
    n = np.array([10 ** 3, 10 ** 6, 10 ** 9])
    for est in ("unbiased", "mle"):
        for out in (theory.expected_log_det(n, 4, 3, est), theory.var_log_det(n, 4, 3),
                    theory.expected_std(n, 3, est), theory.expected_det(n, 4, 3, est),
                    theory.expected_mean_sq_dev(n, 10 ** 6, 2, est),
                    theory.expected_w2_squared(n, 10 ** 6, est)):
            assert np.all(np.isfinite(out)), out
    # Collapse: E log det → −∞ linearly, E σ_n → 0, while E σ²_n = σ_0² exactly (unbiased).
    assert theory.expected_log_det(10 ** 9, 4) < -1e8
    assert theory.expected_std(10 ** 9, 4) == 0.0
    assert theory.expected_variance_power(10 ** 9, 4, 1.0) == pytest.approx(1.0, rel=1e-6)
    # E σ_n⁴ = (1 + 2/(M−1))^n exceeds float64 here: inf, not NaN.
    assert theory.expected_variance_power(10 ** 6, 4, 2.0) == np.inf


@pytest.mark.parametrize("call,exc,match", [
    (lambda: theory.expected_log_det(-1, 5), ValueError, r"n must be >= 0, got -1"),
    (lambda: theory.expected_log_det(np.array([2, -3]), 5), ValueError, r"n must be >= 0, got -3"),
    (lambda: theory.expected_log_det(2.0, 5), TypeError, r"n must be an integer"),
    (lambda: theory.expected_log_det(True, 5), TypeError, r"n must be an integer"),
    (lambda: theory.expected_log_det(2, 3, dim=3), ValueError, r"sample_size must be >= 4, got 3"),
    (lambda: theory.expected_log_det(2, 5, dim=0), ValueError, r"dim must be >= 1, got 0"),
    (lambda: theory.expected_log_det(2, 5, estimator="biased"), ValueError,
     r"estimator must be one of 'unbiased', 'mle'; got 'biased'"),
    (lambda: theory.expected_std(3, [5, 6]), ValueError,
     r"sample_size as a schedule must have length >= max\(n\) = 3, got length 2"),
    (lambda: theory.expected_std(2, [5, 1, 7]), ValueError,
     r"sample_size must be >= 2 at every generation, got 1 at generation 2"),
    (lambda: theory.expected_std(2, 5.5), TypeError,
     r"sample_size must be an integer or a sequence"),
    (lambda: theory.expected_std(2, [[5, 6]]), ValueError,
     r"sample_size as a schedule must have length"),
    (lambda: theory.expected_variance_power(2, 5, -2.0), ValueError,
     r"k must be > -\(M - 1\)/2 = -2.0 for sample_size M = 5, got -2.0"),
    (lambda: theory.expected_variance_power(2, [9, 3], -1.5), ValueError,
     r"k must be > .* M = 3, got -1.5"),
    (lambda: theory.expected_variance_power(2, 5, float("nan")), ValueError, r"k must be finite"),
    (lambda: theory.expected_std(2, 5, var0=0.0), ValueError, r"var0 must be > 0.0, got 0.0"),
    (lambda: theory.expected_det(2, 5, det0=-1.0), ValueError, r"det0 must be > 0.0"),
    (lambda: theory.expected_mean_sq_dev(2, 5, trace0="1"), TypeError,
     r"trace0 must be a real number"),
    (lambda: theory.w2_lower_bound(2, 1), ValueError, r"sample_size must be >= 2, got 1"),
    (lambda: theory.std_factor(1), ValueError, r"sample_size must be >= 2, got 1"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
