"""Wasserstein-2 metrics: closed forms against independent numerics, and the 1-D E W2² law."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, linalg, optimize, special

from collapse_theory import gaussian, metrics
from collapse_theory.gaussian import GaussianResult
from collapse_theory.sources import real_data


def _spd(rng, d, batch=()):
    a = rng.normal(size=batch + (d, d))
    return a @ np.swapaxes(a, -1, -2) + 0.1 * np.eye(d)


def _bures_reference(a, b):
    """tr A + tr B − 2 tr (A^{1/2} B A^{1/2})^{1/2} with scipy's sqrtm, in float64."""
    ra = linalg.sqrtm(a).real
    return np.trace(a) + np.trace(b) - 2.0 * np.trace(linalg.sqrtm(ra @ b @ ra).real)


def _result(mean, factor, generation=None):
    """A GaussianResult holding covariances ``factor factorᵀ``, shapes (trials, R, ...)."""
    diag = np.diagonal(factor, axis1=-2, axis2=-1)
    gens = np.arange(1, mean.shape[1] + 1) if generation is None else np.asarray(generation)
    log_diag = np.log(diag)
    return GaussianResult(jnp.asarray(gens), jnp.asarray(mean), jnp.asarray(2 * log_diag.sum(-1)),
                          jnp.asarray(log_diag), jnp.asarray(factor / diag[..., None, :]))


def test_bures_and_w2_match_scipy_sqrtm_batched():
    rng = np.random.default_rng(0)
    a, b = _spd(rng, 3, (4,)), _spd(rng, 3)
    ma, mb = rng.normal(size=(4, 3)), rng.normal(size=3)
    ref = np.array([_bures_reference(a[i], b) for i in range(4)])
    with jax.enable_x64(True):
        got = np.asarray(metrics.bures_squared(a, b))  # b broadcasts over the batch
        w2 = np.asarray(metrics.w2_squared_gaussian(ma, a, mb, b))
        w2_factor = np.asarray(metrics.w2_squared_gaussian_factor(ma, np.linalg.cholesky(a), mb, b))
        gel = np.asarray(metrics.gelbrich_bound(ma, a, mb, b))
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    np.testing.assert_allclose(w2, ref + np.sum((ma - mb) ** 2, -1), rtol=1e-9)
    np.testing.assert_allclose(w2_factor, w2, rtol=1e-9)
    np.testing.assert_array_equal(gel, w2)  # Gelbrich's bound is the Gaussian formula


def test_commuting_and_one_dimensional_closed_forms():
    # Commuting covariances: 𝓑² = Σ_j (√a_j − √b_j)²; 1-D: W2² = (Δμ)² + (σ_a − σ_b)².
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    with jax.enable_x64(True):
        np.testing.assert_allclose(metrics.bures_squared(np.diag(a), np.diag(b)),
                                   np.sum((np.sqrt(a) - np.sqrt(b)) ** 2), rtol=1e-12)
        np.testing.assert_allclose(metrics.w2_squared_gaussian([0.5], [[4.0]], [-1.0], [[0.81]]),
                                   1.5 ** 2 + (2.0 - 0.9) ** 2, rtol=1e-12)


@pytest.mark.parametrize("x64", [False, True])
def test_factor_form_accurate_for_small_distances_and_finite_at_collapse(x64):
    rng = np.random.default_rng(1)
    cov0 = _spd(rng, 3)
    root = np.linalg.cholesky(cov0)
    with jax.enable_x64(x64):
        dtype = jnp.asarray(0.0).dtype
        eps = 3e-4
        # F = (1 + ε) R gives 𝓑² = ε² tr Σ0 exactly (Q = I is optimal); the trace formula
        # would cancel to ~1e-7 tr Σ0 in float32, the residual form keeps ~1e-4 relative accuracy.
        small = metrics.w2_squared_gaussian_factor(jnp.zeros(3, dtype), jnp.asarray((1 + eps) * root, dtype),
                                                   jnp.zeros(3, dtype), jnp.asarray(cov0, dtype))
        np.testing.assert_allclose(float(small), eps ** 2 * np.trace(cov0), rtol=1e-2)
        # Collapse: ℓ = −1e4 underflows the factor to exactly 0 → limit |Δμ|² + tr Σ0, no NaN.
        res = GaussianResult(jnp.asarray([1, 2]), jnp.full((2, 2, 3), 0.5, dtype),
                             jnp.full((2, 2), -6e4, dtype), jnp.full((2, 2, 3), -1e4, dtype),
                             jnp.broadcast_to(jnp.asarray(root / np.diag(root), dtype), (2, 2, 3, 3)))
        w2 = np.asarray(metrics.w2_squared_to_d0(res, cov=cov0))
        assert w2.dtype == dtype
    np.testing.assert_allclose(w2, 3 * 0.25 + np.trace(cov0), rtol=1e-5)


def test_w2_to_d0_gaussian_equals_covariance_formula_and_zero_at_d0():
    rng = np.random.default_rng(2)
    mean0, cov0 = np.array([1.0, -2.0]), _spd(rng, 2)
    factor = np.linalg.cholesky(_spd(rng, 2, (3, 4)))
    mean = rng.normal(size=(3, 4, 2))
    gens = [0, 1, 5, 9]
    mean[:, 0], factor[:, 0] = mean0, np.linalg.cholesky(cov0)  # generation 0 is D0
    cov = factor @ np.swapaxes(factor, -1, -2)
    with jax.enable_x64(True):
        res = _result(mean, factor, gens)
        got = np.asarray(metrics.w2_squared_to_d0(res, mean=mean0, cov=cov0))
        ref = np.asarray(metrics.w2_squared_gaussian(mean, cov, mean0, cov0))
        with pytest.raises(ValueError, match="generation 0"):  # D0 other than the simulated one
            metrics.w2_squared_to_d0(res, mean=mean0, cov=1.02 * cov0)
        with pytest.raises(ValueError, match="gelbrich_to_d0"):
            metrics.w2_squared_to_d0(res, data="uniform", mean=mean0, cov=cov0)
    assert got.shape == (3, 4)
    np.testing.assert_array_equal(got[:, 0], 0.0)
    np.testing.assert_allclose(got[:, 1:], ref[:, 1:], rtol=1e-9)


def _quantile_function(source):
    """z ↦ F⁻¹(Φ(z)) for the standardised law ξ, computed from the nearer tail."""
    dist = source.dist
    if hasattr(dist, "ppf"):  # scipy's own quantile function
        return lambda z: dist.ppf(special.ndtr(z)) if z < 0 else dist.isf(special.ndtr(-z))
    # ½N(−δ, s²) + ½N(δ, s²), s² = 1 − δ², re-derived here: solve log F(x) = log Φ(−|z|) in the
    # lower tail (x ≤ 0 by symmetry) and reflect for z > 0.
    delta = float(source.name.partition(":")[2])
    s = np.sqrt(1.0 - delta ** 2)

    def q(z):
        target = special.log_ndtr(-abs(z))
        def f(x):
            return (np.logaddexp(special.log_ndtr((x + delta) / s), special.log_ndtr((x - delta) / s))
                    - np.log(2.0) - target)
        x = optimize.brentq(f, -60.0, 0.0, xtol=1e-15) if z != 0 else 0.0
        return x if z < 0 else -x

    return q


def _quantile_w2(q, m, s, mu0, sd0):
    """∫ (μ0 + σ0 F⁻¹(Φ(z)) − m − s z)² φ(z) dz: the quantile coupling written in the Gaussian's
    variable (u = Φ(z)).  Beyond |z| = 20, φ(z) < 1e-87 while F⁻¹(Φ(z))² grows at most like
    Φ(−|z|)^{−2/3} (Student-t, df = 3), so the dropped tails are < 1e-30."""
    def g(z):
        return (mu0 + sd0 * q(z) - m - s * z) ** 2 * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)

    return sum(integrate.quad(g, a, b, limit=400, epsabs=1e-13, epsrel=1e-11)[0]
               for a, b in ((-20.0, 0.0), (0.0, 20.0)))


@pytest.mark.parametrize("name", ["student-t", "student-t:3", "uniform", "laplace", "mixture",
                                  "mixture:0.5"])
def test_w2_to_real_1d_matches_quantile_integration(name):
    source = real_data(name)
    q = _quantile_function(source)
    for m, s, mu0, sd0 in [(0.3, 0.7, 0.0, 1.0), (-1.0, 2.5, 0.5, 1.5), (0.0, 1e-3, 0.0, 1.0)]:
        with jax.enable_x64(True):
            got = float(metrics.w2_squared_to_real_1d(m, s, mu0, sd0, source.kappa))
            gaussian_formula = float(metrics.w2_squared_to_real_1d(m, s, mu0, sd0, 1.0))
        ref = _quantile_w2(q, m, s, mu0, sd0)
        np.testing.assert_allclose(got, ref, rtol=1e-6)
        if s >= 0.5:  # control: the Gaussian formula (κ = 1) is off by 2 s σ0 (1 − κ) ≥ 1.3e-4
            assert abs(gaussian_formula - ref) > 10 * 1e-6 * ref


def test_w2_to_d0_non_gaussian_1d_uses_quantile_formula_above_gelbrich():
    rng = np.random.default_rng(3)
    mean = rng.normal(size=(5, 3, 1))
    factor = np.exp(rng.normal(size=(5, 3, 1, 1)))
    source = real_data("uniform")
    with jax.enable_x64(True):
        res = _result(mean, factor)
        exact = np.asarray(metrics.w2_squared_to_d0(res, data="uniform", mean=0.2, cov=2.0))
        bound = np.asarray(metrics.gelbrich_to_d0(res, mean=0.2, cov=2.0))
    s = factor[..., 0, 0]
    np.testing.assert_allclose(exact, (mean[..., 0] - 0.2) ** 2 + 2.0 + s ** 2
                               - 2 * s * np.sqrt(2.0) * source.kappa, rtol=1e-9)
    # Gelbrich: exact − bound = 2 s σ0 (1 − κ) > 0 for a non-Gaussian D0.
    np.testing.assert_allclose(exact - bound, 2 * s * np.sqrt(2.0) * (1 - source.kappa), rtol=1e-7)
    assert np.all(exact > bound)


def _c(m):
    """c(M) = E σ_1/σ_0 = √(2/(M−1)) Γ(M/2)/Γ((M−1)/2) (unbiased fit), via log-gamma."""
    return np.sqrt(2.0 / (m - 1)) * np.exp(special.gammaln(m / 2) - special.gammaln((m - 1) / 2))


@pytest.mark.parametrize("estimator, should_pass", [("unbiased", True), ("mle", False)])
def test_mean_w2_matches_exact_1d_law(estimator, should_pass):
    # E W2²(N(μ_n, σ_n²), N(0, 1)) = E(μ_n)² + E σ_n² − 2 E σ_n + 1 = n/M + 2 − 2 c(M)^n for the
    # unbiased chain: the increments of μ are orthogonal with E σ_i² = 1, and E σ_n = c(M)^n.
    # Negative control: the MLE chain (÷M) has E W2² ≈ 0.63 instead of 0.74 and must be rejected.
    m, n, trials = 100, 50, 20_000
    res = gaussian.simulate(jax.random.key(11), sample_size=m, generations=n, trials=trials,
                            estimator=estimator, record=[0, n])
    w2 = np.asarray(metrics.w2_squared_to_d0(res), np.float64)[:, 1]
    assert np.all(np.isfinite(w2)) and np.all(w2 >= 0)
    theory = n / m + 2 - 2 * _c(m) ** n
    # z = (sample mean − E W2²) / (sd/√T); W2² has finite 4th moment here (E σ_n⁴ = 1.0202^50 ≈ 2.7),
    # so z is ≈ N(0, 1) and |z| < 5 fails by chance with probability < 1e-6.
    z = (w2.mean() - theory) / (w2.std(ddof=1) / np.sqrt(trials))
    assert (abs(z) < 5) == should_pass, f"{estimator}: mean {w2.mean():.5f}, theory {theory:.5f}, z={z:.2f}"


def test_collapsed_chain_w2_finite_and_at_its_limit_float32():
    # d = 2, M = 3: per fit E ℓ_1 drops by ψ(1)/2 ≈ −0.29 and E ℓ_2 by ψ(1/2)/2 ≈ −0.98, so after
    # 600 fits ℓ ≲ −170 ± 16 and Σ = L Lᵀ underflows to 0 in float32; W2² must still be finite and
    # reach its limit |μ − μ0|² + tr Σ0 = |μ|² + 2.
    res = gaussian.simulate(jax.random.key(5), sample_size=3, generations=600, trials=8, dim=2,
                            record="log")
    w2 = np.asarray(metrics.w2_squared_to_d0(res))
    assert res.log_det.dtype == jnp.float32
    assert np.all(np.asarray(res.cov[:, -1]) == 0.0)
    assert np.all(np.isfinite(w2))
    limit = np.sum(np.asarray(res.mean[:, -1]) ** 2, -1) + 2.0
    np.testing.assert_allclose(w2[:, -1], limit, rtol=1e-5)
