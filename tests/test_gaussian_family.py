"""gaussian.family: the Family protocol instance (fit, exact shortcuts, singular fits) and the
chain.simulate routes of gaussian.simulate (bit-identity over trials/chunks, fresh:0).

KS tests are accepted at ``p > 1e-3`` and each has a negative control the same test rejects.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from collapse_theory import gaussian

KS_ALPHA = 1e-3
KEY = jax.random.key(0)
X = np.random.default_rng(0).normal(size=(13, 3)) @ np.array(
    [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.7]]).T + [1.0, -2.0, 0.5]


def cov_of(params):
    chol = np.asarray(params.unit, np.float64) * np.exp(np.asarray(params.log_diag, np.float64))
    return chol @ chol.T


@pytest.mark.parametrize("estimator,off", [("unbiased", 1), ("mle", 0)])
def test_fit_is_the_weighted_mean_and_covariance(estimator, off):
    """Weights 0 (absent), 1 and 2 (a repeated point) against numpy."""
    w = np.array([1, 1, 2, 0, 1, 1, 1, 0, 1, 1, 2, 1, 1], np.float32)
    p = gaussian.family(3, estimator).fit(jnp.asarray(X, jnp.float32), jnp.asarray(w))
    n = w.sum()
    mean = (w[:, None] * X).sum(0) / n
    scatter = (w[:, None] * (X - mean)).T @ (X - mean)
    np.testing.assert_allclose(p.mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cov_of(p), scatter / (n - off), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(np.diagonal(p.unit), 1.0)
    assert np.all(np.triu(np.asarray(p.unit), 1) == 0)


def test_merged_statistics_fit_like_the_pooled_points():
    fam = gaussian.family(3)
    x = jnp.asarray(X, jnp.float32)
    one = jnp.ones(13, jnp.float32)
    pooled = fam.fit(x, one)
    merged = fam.fit_stats(fam.merge(fam.stats(x[:5], one[:5]), fam.stats(x[5:], one[5:])))
    np.testing.assert_allclose(merged.mean, pooled.mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(merged.log_diag, pooled.log_diag, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(merged.unit, pooled.unit, rtol=1e-5, atol=1e-5)
    # n = 0 is the identity, on either side, bit for bit.
    s = fam.stats(x, one)
    empty = fam.stats(x, jnp.zeros(13, jnp.float32))
    for m in (fam.merge(empty, s), fam.merge(s, empty)):
        for a, b in zip(m, s):
            np.testing.assert_array_equal(a, b)


def test_merge_is_exact_in_log_scale():
    """Two statistics at scale e^-200 (float32 underflows at e^-104): the pooled factor keeps it."""
    fam = gaussian.family(2)
    x = jnp.asarray(X[:, :2], jnp.float32)
    one = jnp.ones(13, jnp.float32)
    a, b = fam.stats(x[:6], one[:6]), fam.stats(x[6:], one[6:])
    shrink = lambda s: s._replace(log_diag=s.log_diag - 200.0,  # noqa: E731
                                  mean=jnp.zeros_like(s.mean))
    ref = fam.fit_stats(fam.merge(a._replace(mean=jnp.zeros(2)), b._replace(mean=jnp.zeros(2))))
    tiny = fam.fit_stats(fam.merge(shrink(a), shrink(b)))
    np.testing.assert_allclose(tiny.log_diag, ref.log_diag - 200.0, rtol=1e-6)
    np.testing.assert_allclose(tiny.unit, ref.unit, rtol=1e-4, atol=1e-5)


def test_sample_stats_has_the_law_of_stats_of_samples():
    """d = 2, n = 6 points of N(μ, Σ): log det and the first mean coordinate of the fit, from the
    Bartlett shortcut vs the drawn points (20 000 each, two-sample KS).  Control: the points'
    fit with the MLE divisor (log det shifted by 2 log(5/6) = −0.36, sd ≈ 0.9)."""
    fam, mle = gaussian.family(2), gaussian.family(2, "mle")
    p = fam.fit(jnp.asarray(X[:, :2], jnp.float32), jnp.ones(13, jnp.float32))
    keys = jax.random.split(jax.random.key(1), 20_000)
    w = jnp.ones(6, jnp.float32)
    exact = jax.vmap(lambda k: fam.fit_stats(fam.sample_stats(k, p, 6)))(keys)
    drawn = jax.vmap(lambda k: fam.fit(fam.sample(jax.random.fold_in(k, 9), p, 6), w))(keys)
    wrong = jax.vmap(lambda k: mle.fit(mle.sample(jax.random.fold_in(k, 9), p, 6), w))(keys)
    log_det = lambda q: 2.0 * np.asarray(q.log_diag, np.float64).sum(-1)  # noqa: E731
    assert stats.ks_2samp(log_det(exact), log_det(drawn)).pvalue > KS_ALPHA
    assert stats.ks_2samp(exact.mean[:, 0], drawn.mean[:, 0]).pvalue > KS_ALPHA
    assert stats.ks_2samp(log_det(exact), log_det(wrong)).pvalue < KS_ALPHA


SINGULAR = dict(generations=4, trials=5, dim=3)


def assert_singular(r, label):
    assert np.all(np.isneginf(r.log_det[:, 1:])), label
    for leaf in (r.mean, r.log_det, r.log_diag, r.unit_chol):
        assert not np.any(np.isnan(leaf)), label
    assert np.all(np.isfinite(r.mean)) and np.all(np.isfinite(r.unit_chol)), label


@pytest.mark.parametrize("kw", [dict(sample_size=2), dict(sample_size=3),
                                dict(sample_size=3, method="samples"), dict(sample_size=1),
                                dict(sample_size=1, dim=1),
                                dict(sample_size=3, policy="accumulate"),
                                dict(sample_size=3, policy="accumulate", method="samples")])
def test_singular_fits_are_minus_inf_never_nan(kw):
    """d = 3 with M = 2 and M = 3 points per fit (rank 1 and 2 scatter), exact and samples, the
    degenerate M = 1, and accumulate (every later point lies in the plane of fit 1, so the pool
    stays singular: the QR's round-off is a zero): log det = −inf from fit 1 on, no NaN."""
    assert_singular(gaussian.simulate(KEY, **(SINGULAR | kw)), kw)
    fam = gaussian.family(3)
    p = fam.fit(jnp.ones((1, 3)), jnp.ones(1))  # n − 1 = 0: degenerate
    assert np.all(np.isneginf(p.log_diag)) and np.all(np.isfinite(p.unit))


def test_singular_fits_in_float64():
    with jax.enable_x64(True):
        for method in ("exact", "samples"):
            r = gaussian.simulate(KEY, sample_size=2, method=method, **SINGULAR)
            assert r.log_det.dtype == jnp.float64
            assert_singular(r, method)


def test_long_singular_chain_stays_nan_free():
    r = gaussian.simulate(KEY, sample_size=3, generations=3000, trials=4, dim=3, record="log")
    assert np.all(np.isneginf(r.log_det[:, 1:]))
    assert np.all(np.isfinite(r.mean)) and np.all(np.isfinite(r.unit_chol))


@pytest.mark.parametrize("method", ["exact", "samples"])
def test_accumulate_is_bit_identical_over_trials_and_chunks(method):
    kw = dict(sample_size=4, generations=5, dim=2, policy="accumulate", method=method)
    a = gaussian.simulate(KEY, trials=7, **kw)
    b = gaussian.simulate(KEY, trials=13, chunk_size=3, **kw)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y)[:7] if np.ndim(x) > 1 else y)


def test_fresh_zero_is_replace_and_stays_finite():
    """fresh:0 draws no real point after fit 1: it is the replace chain, bit for bit, on the
    log-factor path (5000 generations in float32: log det ≈ −2·10⁴, finite)."""
    kw = dict(sample_size=4, generations=5000, trials=4, dim=2, record="log")
    a = gaussian.simulate(KEY, policy="fresh:0", **kw)
    b = gaussian.simulate(KEY, **kw)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a.log_det.dtype == jnp.float32 and np.all(np.isfinite(a.log_det))
    assert np.all(a.log_det[:, -1] < -1000)


def test_fresh_and_fixed_with_non_gaussian_data():
    """Real points now come from the source: Student-t D0 under fresh and fixed."""
    for policy in ("fresh:0.5", "fixed:1"):
        r = gaussian.simulate(KEY, sample_size=10, generations=3, trials=5, dim=2,
                              data="student-t:5", policy=policy)
        assert np.all(np.isfinite(r.log_det))
