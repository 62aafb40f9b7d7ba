"""Data policies: validation, schedules, replace identity, and the chains in law.

Statistical tests are z-tests ``z = (estimate − closed form)/SE`` with SE = s/√T estimated from
the same T i.i.d. trials, accepted at ``|z| < 5`` (P ≈ 6e-7 under the null), or two-sample
Kolmogorov–Smirnov tests accepted at ``p > 1e-3``.  Each has a negative control (other estimator,
other γ/λ, a 2 % variance inflation, a biased subsample) that the same test must reject.  Under
these policies σ²_n concentrates (the fit uses ≥ M points of a non-collapsing chain), so its
mean is a well-behaved statistic.
"""

import functools

import jax
import numpy as np
import pytest
from scipy import stats

from collapse_theory import discrete, gaussian, policies
from collapse_theory.testing import statistics
from collapse_theory.theory import policies as theory
from collapse_theory.verify.policy_checks import _subsample_literal

Z_MAX = 5.0
KS_ALPHA = 1e-3
M, G, TRIALS = 10, 20, 6000
P3 = np.array([0.5, 0.3, 0.2])


def z_mean(x, expected):
    """z of the mean of i.i.d. trials, SE = s/√T (collapse_theory.testing.statistics)."""
    return statistics.z_mean(x, expected).statistic


def accept(z):
    assert abs(z) < Z_MAX, f"closed form rejected: z = {z:.2f}"


def reject(z):
    assert abs(z) > Z_MAX, f"negative control not rejected: z = {z:.2f}"


def var_n(policy, *, key=0, method="exact", estimator="mle", m=M, g=G, trials=TRIALS, gens=None):
    res = gaussian.simulate(jax.random.key(key), sample_size=m, generations=g, trials=trials,
                            estimator=estimator, method=method, policy=policy,
                            record=gens if gens is not None else [g])
    return np.exp(np.asarray(res.log_det, np.float64)).squeeze(-1) if gens is None else \
        np.exp(np.asarray(res.log_det, np.float64))


# ---------------------------------------------------------------------------------------------
# Validation and schedules


@pytest.mark.parametrize("bad, match", [
    ("recycle", "policy must be one of"), ("fresh", "needs gamma"), ("fresh:1.5", "gamma"),
    ("fresh:-0.1", "gamma"), ("fixed:-1", "lam"), ("fixed", "needs lam"),
    ("accumulate:2", "takes no parameter"), ("fresh:x", "must be a number")])
def test_parse_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        policies.parse(bad)


def test_parse_forms():
    assert policies.parse("fresh:0.25") == policies.parse("fresh", gamma=0.25)
    assert policies.parse("fixed", lam=2) == policies.Policy("fixed", lam=2.0)
    assert str(policies.parse("fixed:1.5")) == "fixed:1.5"
    with pytest.raises(ValueError, match="gamma applies only"):
        policies.parse("accumulate", gamma=0.1)
    with pytest.raises(ValueError, match="already carries"):
        policies.parse("fresh:0.1", gamma=0.2)
    with pytest.raises(TypeError, match="policy must be a string"):
        policies.parse(3)


def test_simulate_rejects_bad_arguments():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="gamma"):
        gaussian.simulate(key, sample_size=10, generations=3, trials=2, policy="fresh:2")
    with pytest.raises(ValueError, match="lam"):
        discrete.simulate(key, P3, sample_size=10, generations=3, trials=2, policy="fixed:-1")
    with pytest.raises(ValueError, match="length generations=3"):
        gaussian.simulate(key, sample_size=[10, 10], generations=3, trials=2, policy="accumulate")
    with pytest.raises(ValueError, match=">= 1"):
        gaussian.simulate(key, sample_size=[10, 0, 10], generations=3, trials=2,
                          policy="accumulate")
    # Fits to fewer than d + 1 points are singular (log det = −inf), not errors; the fresh
    # real points of fit 3 make it regular again.
    res = gaussian.simulate(key, sample_size=[10, 3, 10], generations=3, trials=2, dim=3,
                            policy="fresh:0.5")
    assert np.all(np.isneginf(res.log_det[:, 2])) and np.all(np.isfinite(res.log_det[:, 3]))


def test_schedules():
    np.testing.assert_array_equal(policies.constant(5, 3), [5, 5, 5])
    np.testing.assert_array_equal(policies.linear(5, 3), [5, 10, 15])
    np.testing.assert_array_equal(policies.polynomial(5, 3, 1.0), [5, 20, 45])
    np.testing.assert_array_equal(policies.geometric(5, 4, 2.0), [5, 10, 20, 40])
    assert policies.reciprocal_sum(policies.polynomial(1, 10_000, 1.0)) < np.pi**2 / 6
    assert policies.reciprocal_sum(policies.linear(1, 10_000)) > np.log(10_000)
    with pytest.raises(ValueError, match="ratio"):
        policies.geometric(5, 4, 0.5)
    with pytest.raises(ValueError, match="m0"):
        policies.linear(0, 4)


def test_sizes():
    m = np.array([10, 20, 30])
    s = policies.sizes(policies.parse("accumulate"), m)
    np.testing.assert_array_equal(s.fit, [10, 30, 60])
    s = policies.sizes(policies.parse("fresh:0.3"), m)
    np.testing.assert_array_equal(s.real, [3, 6, 9])
    np.testing.assert_array_equal(s.synthetic + s.real, m)
    s = policies.sizes(policies.parse("fixed:0.5"), m)
    np.testing.assert_array_equal(s.fit, [15, 20, 25])
    np.testing.assert_array_equal(s.real, [10, 0, 0])


def test_replace_is_bit_identical():
    key = jax.random.key(3)
    a = gaussian.simulate(key, sample_size=10, generations=5, trials=16)
    b = gaussian.simulate(key, sample_size=10, generations=5, trials=16, policy="replace")
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    a = discrete.simulate(key, P3, sample_size=10, generations=5, trials=16)
    b = discrete.simulate(key, P3, sample_size=10, generations=5, trials=16, policy="replace")
    np.testing.assert_array_equal(np.asarray(a.counts), np.asarray(b.counts))
    np.testing.assert_array_equal(np.asarray(a.fixation), np.asarray(b.fixation))


# ---------------------------------------------------------------------------------------------
# Gaussian chains in law


def test_gaussian_accumulate_mle_product():
    """E σ²_n = σ²_0 Π_{k≤n}(1 − 1/(M k²)); control: the same sample against Π(1 − 1/(M k)),
    the product with k in place of k² (each control reuses the compiled chain)."""
    k = np.arange(1, G + 1)
    expected = theory.accumulate_variance_factor(M, G, "mle")[G]
    np.testing.assert_allclose(expected, np.prod(1 - 1 / (M * k**2)))
    x = var_n("accumulate")
    accept(z_mean(x, expected))
    reject(z_mean(x, np.prod(1 - 1 / (M * k))))


def test_gaussian_accumulate_unbiased_and_schedule():
    """Unbiased pooling and a growing schedule: Π (N_k − M_k/N_k)/(N_k − 1)."""
    sched = [10 + 2 * i for i in range(G)]
    expected = theory.accumulate_variance_factor(sched, G, "unbiased")[G]
    x = var_n("accumulate", estimator="unbiased", m=sched)
    accept(z_mean(x, expected))
    reject(z_mean(x, theory.accumulate_variance_factor(sched, G, "mle")[G]))


def test_gaussian_fresh_and_fixed_moments():
    """fresh:γ and fixed:λ against their affine recursions; controls: the same samples against
    the closed form for γ = 0.6, and for the unbiased estimator (+5 % at N = 20 points)."""
    x = var_n("fresh:0.3")
    accept(z_mean(x, theory.fresh_gaussian_moments(M, 0.3, G)[0][G]))
    reject(z_mean(x, theory.fresh_gaussian_moments(M, 0.6, G)[0][G]))
    x = var_n("fixed:1")
    accept(z_mean(x, theory.fixed_gaussian_variance(M, 1.0, G)[G]))
    reject(z_mean(x, theory.fixed_gaussian_variance(M, 1.0, G, "unbiased")[G]))


def test_gaussian_stationary_limits():
    """The recursions reach the stated fixed points (no collapse for any λ, any γM ≥ 1)."""
    for gamma in (0.1, 0.5, 1.0):
        s, v = theory.fresh_gaussian_moments(M, gamma, 2000)
        np.testing.assert_allclose((s[-1], v[-1]), theory.fresh_gaussian_stationary(M, gamma),
                                   rtol=1e-9)
    for lam in (0.0, 0.5, 1.0, 10.0, 100.0):
        f = theory.fixed_gaussian_variance(M, lam, 20_000)
        np.testing.assert_allclose(f[-1], theory.fixed_gaussian_stationary(M, lam), rtol=1e-6)
        assert theory.fixed_gaussian_stationary(M, lam) > 0.5


@pytest.mark.parametrize("policy", ["accumulate", "fresh:0.3", "fixed:1"])
def test_gaussian_exact_matches_samples_in_law(policy):
    """KS of σ²_n: sufficient-statistic path vs drawn points; control: σ²_n inflated by 10 %.
    The exact path runs TRIALS chains (another key), the shapes of the moment tests above: their
    compiled chains are reused."""
    exact = var_n(policy, key=1)
    sampled = var_n(policy, key=2, method="samples", trials=4000)
    assert stats.ks_2samp(exact, sampled).pvalue > KS_ALPHA
    assert stats.ks_2samp(1.1 * exact, sampled).pvalue < KS_ALPHA


def test_gaussian_2d_exact_matches_samples():
    """d = 2, M = 20, fixed:0.1: the pooled scatter matrices of the real set and of two synthetic
    points per fit (a singular rank-1 batch scatter), exact vs samples, KS on log det Σ_n;
    control: det inflated by 20 % (log det has sd 0.5 here)."""
    kw = dict(sample_size=20, generations=8, trials=4000, dim=2, cov=[[2.0, 0.6], [0.6, 1.0]],
              policy="fixed:0.1", record=[8])
    a = np.asarray(gaussian.simulate(jax.random.key(7), **kw).log_det, np.float64).ravel()
    b = np.asarray(gaussian.simulate(jax.random.key(8), method="samples", **kw).log_det,
                   np.float64).ravel()
    assert stats.ks_2samp(a, b).pvalue > KS_ALPHA
    assert stats.ks_2samp(a + np.log(1.2), b).pvalue < KS_ALPHA


def test_subsample_matches_numpy_reference():
    """No closed form for the Gaussian accumulate-subsample chain: the JAX chain against an
    independent numpy implementation in law (KS); control: the reference without subsampling."""
    g, trials = 8, 3000
    ours = var_n("accumulate-subsample", key=6, g=g, trials=trials)
    ref = _subsample_literal(0, M, g, trials, subsample=True)
    assert stats.ks_2samp(ours, ref).pvalue > KS_ALPHA
    wrong = _subsample_literal(1, M, g, trials, subsample=False)
    assert stats.ks_2samp(ours, wrong).pvalue < KS_ALPHA


# ---------------------------------------------------------------------------------------------
# Discrete chains in law


@functools.cache
def _discrete(policy):
    return discrete.simulate(jax.random.key(0), P3, sample_size=M, generations=G,
                             trials=TRIALS, policy=policy, record=[G])


def _gini(policy):
    return np.asarray(discrete.gini_simpson(_discrete(policy)), np.float64).ravel()


def test_discrete_accumulate_gini_simpson():
    """E H_n = H_0 Π(1 − 1/(M k²)); control: the same sample against the replace chain's
    H_0 (1 − 1/M)^n."""
    h0 = 1 - np.sum(P3**2)
    expected = h0 * theory.accumulate_gini_simpson_factor(M, G)[G]
    accept(z_mean(_gini("accumulate"), expected))
    reject(z_mean(_gini("accumulate"), h0 * (1 - 1 / M) ** G))


def test_discrete_fresh_gini_simpson():
    """E H_n under fresh:γ (recursion in F = E Σq²); control: the closed form for γ = 0.4."""
    accept(z_mean(_gini("fresh:0.2"), theory.fresh_gini_simpson(P3, M, 0.2, G)[G]))
    reject(z_mean(_gini("fresh:0.2"), theory.fresh_gini_simpson(P3, M, 0.4, G)[G]))
    stat = theory.fresh_gini_simpson_stationary(P3, M, 0.2)
    np.testing.assert_allclose(theory.fresh_gini_simpson(P3, M, 0.2, 500)[-1], stat, rtol=1e-12)


def test_discrete_pool_sizes_and_counts():
    res = _discrete("accumulate")
    np.testing.assert_array_equal(res.sample_size, M * np.arange(1, G + 1))
    np.testing.assert_array_equal(np.asarray(res.counts).sum(-1), M * G)
    res = _discrete("fresh:0.2")
    np.testing.assert_array_equal(np.asarray(res.counts).sum(-1), M)


def test_accumulate_memory_is_sufficient_statistics():
    """The exact accumulate paths never hold the pool: 10⁷ points per batch over G = 20 fits for
    6000 trials (1.2·10¹² pooled points, 4.8 TB if stored) run in O(d²) / O(K) per trial, and
    the pooled sizes are exact.  Same shapes as the tests above: the compiled chains are reused."""
    x = var_n("accumulate", m=10**7)
    # σ²_1 has sd √(2/M) ≈ 4.5e-4 and later fits move it less: every σ² is within 0.01 of 1.
    assert np.all(np.abs(x - 1) < 0.01)
    res = discrete.simulate(jax.random.key(0), P3, sample_size=500_000, generations=G,
                            trials=TRIALS, policy="accumulate", record=[G])
    assert res.sample_size[-1] == 10**7
    np.testing.assert_array_equal(np.asarray(res.counts).sum(-1), 10**7)


@pytest.mark.parametrize("policy", ["accumulate"])
def test_discrete_counts_match_labels_in_law(policy):
    """Exact multinomial pools vs counting individually drawn labels: χ² homogeneity of the
    final count of category 0 (binned); control: the labels path at a perturbed p_0."""
    kw = dict(sample_size=M, generations=G, trials=TRIALS, policy=policy, record=[G],
              method="samples")
    exact = np.asarray(_discrete(policy).counts)[:, -1, 0]  # key 0; the labels use keys 2
    labels = np.asarray(discrete.simulate(jax.random.key(2), P3, **kw).counts)[:, -1, 0]
    p_off = np.array([0.55, 0.27, 0.18])
    wrong = np.asarray(discrete.simulate(jax.random.key(2), p_off, **kw).counts)[:, -1, 0]

    def p_value(a, b):  # χ² test of equal laws on ≤ 10 quantile bins of the pooled sample
        edges = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0, 1, 11)))
        table = np.array([np.histogram(a, edges)[0], np.histogram(b, edges)[0]])
        return stats.chi2_contingency(table[:, table.sum(0) > 0])[1]

    assert p_value(exact, labels) > KS_ALPHA
    assert p_value(exact, wrong) < KS_ALPHA
