"""The KDE refitting chain: one step's exact law, the variance recursions against simulation,
bandwidth rules against scipy/numpy, validation, bit-identity and long runs."""

import jax
import numpy as np
import pytest
from scipy import stats

from collapse_theory import kde
from collapse_theory.testing.statistics import z_mean
from collapse_theory.theory import kde as theory


def _z(values, expected):
    """z of a sample mean against its expectation, SE = s/√N (CLT; finite variance here)."""
    return z_mean(values, expected).statistic


# ---------------------------------------------------------------------------------------------
# One step from a fitted KDE: exact conditional mean and variance of the next centre variance.


def _one_step_moments(centres, h, m):
    """E and Var of s²' (divisor M) for M i.i.d. draws of the KDE on ``centres`` (rows).

    KDE central moments: μ2 = s² + h², μ4 = m4 + 6 s² h² + 3 h⁴ (a centre plus an independent
    N(0, h²)); sample variance of M i.i.d. draws: E = (M − 1)μ2/M,
    Var = (M − 1)²(μ4 − μ2²)/M³ + 2(M − 1)μ2²/M³.
    """
    c = centres - centres.mean(axis=1, keepdims=True)
    s2, m4 = (c**2).mean(1), (c**4).mean(1)
    mu2 = s2 + h**2
    mu4 = m4 + 6 * s2 * h**2 + 3 * h**4
    mean = (m - 1) * mu2 / m
    var = (m - 1) ** 2 * (mu4 - mu2**2) / m**3 + 2 * (m - 1) * mu2**2 / m**3
    return mean, var


@pytest.fixture(scope="module")
def two_steps():
    with jax.enable_x64(True):
        res = kde.simulate(jax.random.key(11), sample_size=10, generations=2, trials=20_000,
                           bandwidth=0.5, centres=True)
    centres = np.asarray(res.centres, np.float64)
    return res, centres[:, 1, :10], np.exp(np.asarray(res.log_centre_variance))[:, 2]


def test_first_fit_is_exact_on_gaussian_data(two_steps):
    res, c1, _ = two_steps
    # M s²_1/σ0² ~ χ²_{M−1} and x̄_1 ~ N(0, 1/M) exactly for Gaussian D0 (Cochran).  KS p-values
    # are uniform under the truth: reject only below 1e-4; the controls (χ²_M, i.e. ddof slip,
    # and N(0, 1.2/M), 20 % variance inflation) must fall far below it.
    s2 = c1.var(axis=1)
    assert stats.kstest(10 * s2, stats.chi2(9).cdf).pvalue > 1e-4
    assert stats.kstest(10 * s2, stats.chi2(10).cdf).pvalue < 1e-8
    xbar = np.asarray(res.mean)[:, 1]
    assert stats.kstest(xbar, stats.norm(0, np.sqrt(0.1)).cdf).pvalue > 1e-4
    assert stats.kstest(xbar, stats.norm(0, np.sqrt(0.12)).cdf).pvalue < 1e-8
    assert np.allclose(np.asarray(res.bandwidth)[:, 1:], 0.5, rtol=1e-12)
    assert np.allclose(np.asarray(res.variance)[:, 1], s2 + 0.25, rtol=1e-10)


def test_one_step_conditional_mean_and_variance(two_steps):
    _, c1, s2_next = two_steps
    mean, var = _one_step_moments(c1, 0.5, 10)
    r = (s2_next - mean) / np.sqrt(var)  # standardised, given generation 1: E r = 0, E r² = 1
    # z-tests over 20 000 independent chains, |z| < 5 (two-sided 6e-7); SE from the spread.
    assert abs(_z(r, 0.0)) < 5
    assert abs(_z(r**2, 1.0)) < 5
    # Controls: the mean without h² (refit forgetting the kernel: shift 0.9·h²/sd ≈ 0.4 per
    # chain), the variance of a plain bootstrap (h = 0 in μ2 and μ4) and a conditional
    # variance 20 % larger than the derived one (E r² = 1.2) must be rejected.
    wrong_mean = (s2_next - 0.9 * (c1.var(axis=1))) / np.sqrt(var)
    assert abs(_z(wrong_mean, 0.0)) > 10
    _, var_boot = _one_step_moments(c1, 0.0, 10)
    assert abs(_z((s2_next - mean) ** 2 / var_boot, 1.0)) > 10
    assert abs(_z(r**2, 1.2)) > 6


def test_bandwidth_rules_match_scipy_and_numpy():
    with jax.enable_x64(True):
        for rule, policy in (("silverman", "accumulate"), ("scott:1.06", "replace")):
            res = kde.simulate(jax.random.key(3), sample_size=[12, 30, 7], generations=3,
                               trials=4, bandwidth=rule, policy=policy, centres=True)
            for t in range(4):
                for r, n in enumerate(res.size[1:], start=1):
                    x = np.asarray(res.centres)[t, r, :n]
                    assert np.all(np.isnan(np.asarray(res.centres)[t, r, n:]))
                    sd = x.std(ddof=1)
                    if rule.startswith("scott"):
                        c = float(rule.partition(":")[2] or 1.0)
                        # scipy's gaussian_kde: bandwidth = factor (Scott: n^{-1/5}) × std(ddof 1)
                        want = c * stats.gaussian_kde(x, bw_method="scott").factor * sd
                    else:
                        q75, q25 = np.percentile(x, [75, 25])
                        want = 0.9 * min(sd, (q75 - q25) / 1.34) * n ** -0.2
                    assert np.asarray(res.bandwidth)[t, r] == pytest.approx(want, rel=1e-10)
                    assert np.asarray(res.log_centre_variance)[t, r] == pytest.approx(
                        np.log(x.var()), rel=1e-10)
                    assert np.asarray(res.mean)[t, r] == pytest.approx(x.mean(), abs=1e-12)


def test_density_integrates_to_one_with_the_kde_variance(two_steps):
    res = two_steps[0]
    x = np.linspace(-15, 15, 6001)
    f = res.density(x, trial=1)
    assert np.all(np.isnan(f[0]))
    assert np.allclose(np.trapezoid(f[1:], x, axis=1), 1.0, atol=1e-9)
    mean = np.trapezoid(f[1:] * x, x, axis=1)
    var = np.trapezoid(f[1:] * (x - mean[:, None]) ** 2, x, axis=1)
    assert np.allclose(var, np.asarray(res.variance)[1, 1:], rtol=1e-9)  # V = s² + h²
    with pytest.raises(ValueError, match="centres=True"):
        res._replace(centres=None).density(x)


# ---------------------------------------------------------------------------------------------
# The recursions of theory.kde against simulation (schedules, every policy, non-Gaussian D0).

_SCHED = [8, 15, 6, 20, 10]


@pytest.mark.parametrize("policy, bandwidth, data", [
    ("replace", "scott", "uniform"),
    ("accumulate", 0.6, None),
    ("fresh:0.4", "scott:0.8", "laplace"),
])
def test_expected_variance_and_mean_drift(policy, bandwidth, data):
    with jax.enable_x64(True):
        res = kde.simulate(jax.random.key(5), sample_size=_SCHED, generations=5, trials=20_000,
                           bandwidth=bandwidth, policy=policy, data=data, mean=3.0, std=2.0)
    mo = theory.moments(_SCHED, 5, bandwidth=bandwidth, policy=policy, variance0=4.0)
    v = np.exp(np.asarray(res.log_variance))
    d2 = (np.asarray(res.mean) - 3.0) ** 2
    # E V_n and E d²_n at every generation: z-tests over 20 000 chains, |z| < 5 each (10 tests
    # per case; V_5 has CV < 1.5 here, d² is a scaled χ²₁-like variable: the CLT holds).
    for g in range(1, 6):
        assert abs(_z(v[:, g], mo.variance[g])) < 5, g
        assert abs(_z(d2[:, g], mo.mean_sq_dev[g])) < 5, g
    # Controls at the last generation: the same recursion with the other policy's pooling
    # (replace ↔ accumulate) or with the bandwidth's h² left out of V must be rejected.
    if policy == "replace":
        # Var V_n exactly (second-moment recursion) for uniform D0 (kurtosis 9/5): z-test of
        # the sample variance, SE² = (m4 − s⁴)/N; control: the Gaussian kurtosis 3 (the same
        # E V_n) must be rejected at fit 1, where D0's shape still dominates (z ≈ −100).
        from collapse_theory.verify import stats as vstats

        sm = theory.replace_second_moments(_SCHED, 5, bandwidth=bandwidth, variance0=4.0,
                                           kurtosis0=1.8)
        for g in range(1, 6):
            assert abs(vstats.z_variance(v[:, g], sm.variance_var[g]).statistic) < 5, g
        gauss = theory.replace_second_moments(_SCHED, 5, bandwidth=bandwidth, variance0=4.0)
        assert abs(vstats.z_variance(v[:, 1], gauss.variance_var[1]).statistic) > 10
    other = "accumulate" if policy != "accumulate" else "replace"
    wrong = theory.moments(_SCHED, 5, bandwidth=bandwidth, policy=other, variance0=4.0)
    assert abs(_z(v[:, 5], wrong.variance[5])) > 10
    assert abs(_z(v[:, 5], mo.centre_variance[5])) > 10


def test_fixed_point_and_regimes():
    # replace, fixed h: E V_n → M h²; Scott explodes with ρ > 1; accumulate fixed h grows like
    # h² log n; accumulate Scott stays bounded.
    v = theory.replace_fixed_variance(20, 0.3, 2000)
    assert v[-1] == pytest.approx(20 * 0.09, rel=1e-12)
    assert theory.scott_growth_factor(20) > 1 and theory.scott_growth_factor(10_000, 0.01) < 1
    acc = theory.moments(10, 4000, bandwidth=0.5, policy="accumulate").variance
    assert acc[4000] - acc[2000] == pytest.approx(0.25 * np.log(2), rel=1e-3)
    sc = theory.moments(10, 4000, bandwidth="scott", policy="accumulate").variance
    assert 0 < sc[4000] - sc[2000] < 1e-2 * sc[2000]


# ---------------------------------------------------------------------------------------------
# Engine properties and numerics.


def test_trials_are_bit_identical_across_chunks_and_counts():
    kw = dict(sample_size=6, generations=4, bandwidth="silverman", policy="accumulate")
    a = kde.simulate(jax.random.key(7), trials=20, **kw)
    b = kde.simulate(jax.random.key(7), trials=20, chunk_size=8, **kw)
    c = kde.simulate(jax.random.key(7), trials=9, chunk_size=8, **kw)
    for x, y, z in zip(a[1:5], b[1:5], c[1:5]):
        assert np.array_equal(np.asarray(x), np.asarray(y))
        assert np.array_equal(np.asarray(x)[:9], np.asarray(z))
    d = kde.simulate(jax.random.key(8), trials=20, **kw)
    assert not np.array_equal(np.asarray(a.log_variance), np.asarray(d.log_variance))


@pytest.mark.parametrize("x64, bandwidth, policy", [
    (False, 1e-3, "replace"), (False, "scott", "replace"), (True, 0.5, "accumulate"),
])
def test_long_runs_stay_finite(x64, bandwidth, policy):
    with jax.enable_x64(x64):
        res = kde.simulate(jax.random.key(9), sample_size=10,
                           generations=3000 if policy == "replace" else 300, trials=8,
                           bandwidth=bandwidth, policy=policy, record="log")
    for field in (res.log_variance, res.log_centre_variance, res.log_bandwidth[:, 1:]):
        assert np.all(np.isfinite(np.asarray(field)))
    mean = np.asarray(res.mean)
    assert not np.any(np.isnan(mean))
    # The mean is finite wherever the model's std is representable in the dtype.
    ok = np.asarray(res.log_variance) / 2 < 0.9 * np.log(np.finfo(mean.dtype).max)
    assert np.all(np.isfinite(mean[ok]))
    if bandwidth == "scott":
        # Explodes: log V_n/n → E log(V_g/V_{g−1}) ≈ log ρ − Var/2 ≈ 0.26 − 0.1 (ρ = 0.9 +
        # 10^{-2/5}); at n = 3000 the mean over 8 chains is far above half of n log ρ.
        lv = np.asarray(res.log_variance, np.float64)[:, -1]
        assert np.mean(lv) > 0.5 * 3000 * np.log(theory.scott_growth_factor(10))


# ---------------------------------------------------------------------------------------------
# Validation.


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(bandwidth=0.0), ValueError, "bandwidth must be > 0.0, got 0.0"),
    (dict(bandwidth="bogus"), ValueError, "bandwidth must be a number > 0, one of scott, "),
    (dict(bandwidth="scott:-1"), ValueError, "bandwidth constant must be > 0.0"),
    (dict(bandwidth="scott:x"), ValueError, "bandwidth constant must be a number"),
    (dict(bandwidth=True), TypeError, "bandwidth must be a real number"),
    (dict(policy="fixed:-1"), ValueError, "lam"),
    (dict(sample_size=1), ValueError, "sample_size must be >= 2, got 1"),
    (dict(sample_size=[5, 5]), ValueError, "length generations=3"),
    (dict(std=0.0), ValueError, "std must be > 0.0"),
    (dict(mean=float("nan")), ValueError, "mean must be finite"),
    (dict(centres="yes"), TypeError, "centres must be a bool"),
    (dict(data="bogus"), ValueError, "data must be one of"),
    (dict(trials=0), ValueError, "trials must be >= 1"),
])
def test_invalid_arguments_are_named(kwargs, error, match):
    args = dict(sample_size=5, generations=3, trials=2) | kwargs
    with pytest.raises(error, match=match):
        kde.simulate(jax.random.key(0), **args)


def test_theory_rejects_silverman_and_bad_input():
    with pytest.raises(ValueError, match="'silverman' has no closed form"):
        theory.moments(10, 3, bandwidth="silverman")
    with pytest.raises(ValueError, match="not supported by the KDE closed-form chain"):
        theory.moments(10, 3, bandwidth=0.5, policy="fixed:1")
    with pytest.raises(ValueError, match="variance0 must be > 0.0"):
        theory.moments(10, 3, bandwidth=0.5, variance0=0.0)
