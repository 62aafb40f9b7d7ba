"""gaussian.simulate: contract, validation and numerics (laws are tested in test_gaussian_law.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_theory import gaussian

KEY = jax.random.key(0)


def test_result_shapes_and_generation_zero():
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    r = gaussian.simulate(KEY, sample_size=10, generations=5, trials=3, dim=2, mean=[1.0, -1.0],
                          cov=cov, record=[0, 2, 5])
    assert r.generation.tolist() == [0, 2, 5]
    assert r.mean.shape == (3, 3, 2) and r.log_det.shape == (3, 3)
    assert r.log_diag.shape == (3, 3, 2) and r.unit_chol.shape == (3, 3, 2, 2)
    np.testing.assert_allclose(r.mean[:, 0], [[1.0, -1.0]] * 3)
    np.testing.assert_allclose(r.cov[:, 0], [cov] * 3, rtol=1e-6)
    np.testing.assert_allclose(r.log_det[:, 0], np.log(np.linalg.det(cov)), rtol=1e-6)
    np.testing.assert_allclose(r.log_det, 2 * r.log_diag.sum(-1), rtol=1e-6)
    # The factor is unit lower triangular at every generation.
    np.testing.assert_allclose(np.diagonal(r.unit_chol, axis1=-2, axis2=-1), 1.0)
    assert np.all(np.triu(r.unit_chol, 1) == 0)


def test_covariance_is_refit_consistently_with_factor():
    r = gaussian.simulate(KEY, sample_size=7, generations=3, trials=4, dim=3)
    # Σ = U diag(e^{2ℓ}) Uᵀ formed in float64 from the stored float32 factor, so that only the
    # representation is tested (a float32 product adds cond(Σ)·eps of roundoff).
    chol = np.asarray(r.unit_chol, np.float64) * np.exp(np.asarray(r.log_diag, np.float64))[..., None, :]
    sign, logdet = np.linalg.slogdet(chol @ np.swapaxes(chol, -1, -2))
    assert np.all(sign > 0)
    np.testing.assert_allclose(logdet, r.log_det, atol=1e-4)


@pytest.mark.parametrize("dim,method", [(1, "exact"), (1, "samples"), (3, "exact"), (2, "samples")])
def test_long_chains_stay_finite_in_float32(dim, method):
    """M = d + 2 for 20 000 generations: log det drifts to about -10^4 and beyond, never inf/NaN."""
    m = dim + 2
    r = gaussian.simulate(KEY, sample_size=m, generations=20_000, trials=16, dim=dim,
                          method=method, record="log")
    assert r.log_det.dtype == jnp.float32
    for leaf in (r.mean, r.log_det, r.log_diag, r.unit_chol):
        assert np.all(np.isfinite(leaf))
    assert np.all(r.log_det[:, -1] < -5_000)  # collapsed: drift per step is < -0.5 here


def test_x64_gives_float64():
    with jax.enable_x64(True):
        r = gaussian.simulate(KEY, sample_size=5, generations=3, trials=2)
        assert r.log_det.dtype == jnp.float64 and r.mean.dtype == jnp.float64


def test_schedule_and_real_data_run():
    r = gaussian.simulate(KEY, sample_size=[3, 10, 100], generations=3, trials=4, data="student-t:4")
    assert r.log_det.shape == (4, 4) and np.all(np.isfinite(r.log_det))
    r = gaussian.simulate(KEY, sample_size=4, generations=2, trials=4, dim=2, data="mixture",
                          method="samples")
    assert np.all(np.isfinite(r.log_det))


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(sample_size=0), ValueError, r"sample_size must be >= 1, got 0"),
    (dict(sample_size=2.5), TypeError, r"sample_size must be an integer or a sequence"),
    (dict(sample_size=[5, 5]), ValueError, r"length generations=3"),
    (dict(sample_size=[5, 0, 5]), ValueError, r"at generation 2"),
    (dict(generations=-1), ValueError, r"generations must be >= 0, got -1"),
    (dict(trials=0), ValueError, r"trials must be >= 1, got 0"),
    (dict(trials=2.0), TypeError, r"trials must be an integer"),
    (dict(estimator="biased"), ValueError, r"estimator must be one of 'unbiased', 'mle'; got 'biased'"),
    (dict(method="mcmc"), ValueError, r"method must be one of 'exact', 'samples'"),
    (dict(dim=2, cov=[[1.0, 2.0], [2.0, 1.0]]), ValueError, r"cov must be positive definite"),
    (dict(dim=2, cov=[[1.0, 0.1], [0.0, 1.0]]), ValueError, r"cov must be symmetric"),
    (dict(dim=2, cov=np.eye(3)), ValueError, r"cov must have shape \(2, 2\)"),
    (dict(dim=2, mean=[0.0, np.nan]), ValueError, r"mean must be finite"),
    (dict(data="cauchy"), ValueError, r"data must be one of gaussian, student-t"),
    (dict(data="student-t:2"), ValueError, r"degrees of freedom must be > 2"),
    (dict(record=[7]), ValueError, r"record generations must lie in \[0, generations=3\]"),
])
def test_bad_input_is_rejected_with_a_clear_message(kwargs, exc, match):
    args = dict(sample_size=5, generations=3, trials=2) | kwargs
    with pytest.raises(exc, match=match):
        gaussian.simulate(KEY, **args)


def test_key_must_be_a_key():
    with pytest.raises(TypeError, match=r"key must be a PRNG key, e.g. jax.random.key\(0\)"):
        gaussian.simulate(0, sample_size=5, generations=3, trials=2)
    legacy = jax.random.PRNGKey(0)
    new = jax.random.wrap_key_data(legacy)
    a = gaussian.simulate(legacy, sample_size=5, generations=3, trials=2)
    b = gaussian.simulate(new, sample_size=5, generations=3, trials=2)
    np.testing.assert_array_equal(a.log_det, b.log_det)


def test_streaming_summary_matches_records_of_the_same_chains():
    """simulate_summary sees the same chains as simulate: its moments and sample agree."""
    kw = dict(sample_size=8, generations=30, trials=40, dim=2, record=[0, 7, 30])
    res = gaussian.simulate(KEY, **kw)
    summ = gaussian.simulate_summary(KEY, statistics=("log_det", "mean_sq_dev", "w2_squared"),
                                     keep=16, chunk_size=16, **kw)
    ld = np.asarray(res.log_det, np.float64)
    assert summ.count == 40 and summ.generation.tolist() == [0, 7, 30]
    np.testing.assert_allclose(summ.mean["log_det"], ld.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(summ.variance["log_det"], ld.var(0, ddof=1), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(summ.minimum["log_det"], ld.min(0))
    np.testing.assert_array_equal(summ.maximum["log_det"], ld.max(0))
    np.testing.assert_array_equal(summ.sample["log_det"], ld[:16].T)
    sq = np.sum(np.asarray(res.mean, np.float64) ** 2, -1)
    np.testing.assert_allclose(summ.mean["mean_sq_dev"], sq.mean(0), rtol=1e-5)
    from collapse_theory import metrics
    w2 = np.asarray(metrics.w2_squared_to_d0(res), np.float64)
    np.testing.assert_allclose(summ.mean["w2_squared"], w2.mean(0), rtol=1e-4, atol=1e-6)
    assert summ.quantile([0.5])["log_det"].shape == (1, 3)


def test_streaming_summary_memory_does_not_grow_with_generations(peak_rss):
    """Peak memory of a 10 000-generation summary run is that of a 100-generation one."""
    code = ("import jax; from collapse_theory import gaussian; "
            "gaussian.simulate_summary(jax.random.key(0), sample_size=10, generations={g}, "
            "trials=2000, record='log')")
    peak = [peak_rss(code.format(g=g)) for g in (100, 10_000)]
    # Records of 2000 trials x 10 001 generations would take 2000*10001*4*4 B = 320 MB (mean,
    # log det, log diag, unit factor in float32); the summary run stays within 50 MB of the
    # 100-generation one.
    assert peak[1] - peak[0] < 50_000, peak  # ru_maxrss is in KiB on Linux
