"""The KDE as a model family (kde.family): bandwidth conventions against scipy and
scikit-learn in d dimensions, the d-dimensional trace recursion, accumulate-subsample against a
literal numpy loop, and the chain's streams."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import collapse_theory as ct
from collapse_theory import kde
from collapse_theory.testing.statistics import z_mean
from collapse_theory.theory import kde as theory


def _z(values, expected):
    """z of a sample mean against its expectation, SE = s/√N (CLT; finite variance here)."""
    return z_mean(values, expected).statistic


def _kernel_cov(p):
    """The fitted kernel covariance ``H = s² B Bᵀ`` and the model's mean ``s t``."""
    s = np.exp(float(p.log_scale))
    b = np.asarray(p.kernel, np.float64)
    return s * s * b @ b.T, s * np.asarray(p.shift, np.float64)


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("rule", ["scott", "scipy-silverman", "sklearn-scott",
                                  "sklearn-silverman", 0.4])
def test_bandwidth_conventions_match_scipy_and_sklearn(dim, rule):
    rng = np.random.default_rng(dim)
    x = rng.normal(size=(40, dim)) @ np.tril(rng.normal(size=(dim, dim)) + 2 * np.eye(dim))
    w = np.r_[rng.uniform(0.2, 3.0, 31), np.zeros(9)]  # unequal weights, 9 absent points
    with jax.enable_x64(True):
        p = kde.family(dim, rule).fit(jnp.asarray(x), jnp.asarray(w))
    cov, mean = _kernel_cov(p)
    live = x[:31]
    assert np.allclose(mean, np.average(live, axis=0, weights=w[:31]), atol=1e-12)
    if rule in ("scott", "scipy-silverman"):
        ref = stats.gaussian_kde(live.T, bw_method=rule.removeprefix("scipy-"),
                                 weights=w[:31])
        want = np.atleast_2d(ref.covariance)
    else:
        # scikit-learn's KernelDensity: isotropic h, unscaled; n_eff = (Σw)²/Σw² (scipy's).
        n = w.sum() ** 2 / (w**2).sum()
        h = {"sklearn-scott": n ** (-1 / (dim + 4)),
             "sklearn-silverman": (n * (dim + 2) / 4) ** (-1 / (dim + 4))}.get(rule, rule)
        want = h * h * np.eye(dim)
    assert np.allclose(cov, want, rtol=1e-10, atol=1e-14)


def test_silverman_iqr_rule_is_one_dimensional():
    with pytest.raises(ValueError, match="'silverman' .* is 1-D, got dim=2"):
        kde.family(2, "silverman")
    with pytest.raises(ValueError, match="bandwidth must be a number > 0, one of"):
        kde.family(1, "scot")


def test_sampling_follows_the_weights_and_kernel():
    # 2 live centres (weights 1 and 3) among absent rows: draws pick centre 1 w.p. 3/4; the
    # kernel noise has covariance H.  Binomial z-test and a χ²-based check of H; controls: equal
    # weights (p = 1/2) and H/2 must be rejected.
    x = jnp.asarray([[0.0, 0.0], [9.0, 9.0], [50.0, 50.0], [9.0, -9.0]])
    w = jnp.asarray([1.0, 0.0, 0.0, 3.0])
    fam = kde.family(2, 0.5)
    with jax.enable_x64(True):
        p = fam.fit(x.astype(jnp.float64), w.astype(jnp.float64))
        pts = np.asarray(fam.sample(jax.random.key(0), p, 200_000))
    near_b = np.linalg.norm(pts - [9.0, -9.0], axis=1) < 4
    near_a = np.linalg.norm(pts, axis=1) < 4
    assert np.all(near_a | near_b)  # never an absent centre
    se = np.sqrt(0.75 * 0.25 / pts.shape[0])
    assert abs(near_b.mean() - 0.75) < 5 * se
    assert abs(near_b.mean() - 0.5) > 50 * se
    noise = pts[near_a]  # N(0, 0.25 I): Σ|z|²/0.25 ~ χ²_{2n}
    q = (noise**2).sum() / 0.25
    dof = 2 * noise.shape[0]
    assert abs(q - dof) < 5 * np.sqrt(2 * dof)
    assert abs(2 * q - dof) > 50 * np.sqrt(2 * dof)


def _trace_v(dim):
    def observe(p):
        return 2.0 * p.log_scale + jnp.log(dim + jnp.sum(p.kernel**2))  # log tr V

    return observe


@pytest.mark.parametrize("rule", ["scott", "sklearn-scott"])
def test_trace_of_the_model_covariance_follows_the_recursion_in_2d(rule):
    # Replace and accumulate in d = 2 from D0 = N(0, diag(1, 4)): E tr V_n = the 1-D
    # recursion on traces with κ, η in 2-D (theory.kde.moments(dim=2)).  z-tests over 20 000
    # chains at every generation (|z| < 5); control: the 1-D bandwidth exponent (dim=1).
    scale = jnp.asarray([1.0, 2.0])

    def real(key, n):
        return jax.random.normal(key, (n, 2)) * scale

    sched = [6, 9, 5, 12]
    for policy in ("replace", "accumulate"):
        with jax.enable_x64(True):
            res = ct.simulate(jax.random.key(3), kde.family(2, rule), None, sample_size=sched,
                              generations=4, trials=20_000, policy=policy, real=real,
                              observe=_trace_v(2))
        tr = np.exp(np.asarray(res.params, np.float64))
        mo = theory.moments(sched, 4, bandwidth=rule, policy=policy, variance0=5.0, dim=2)
        for g in range(1, 5):
            assert abs(_z(tr[:, g], mo.variance[g])) < 5, (policy, g)
        wrong = theory.moments(sched, 4, bandwidth=rule, policy=policy, variance0=5.0)
        assert abs(_z(tr[:, 4], wrong.variance[4])) > 8, policy


def _literal_subsample(seed, m, n, trials, h):
    """Kazdan et al.'s accumulate-subsample loop, one chain at a time in numpy: a pool of every
    batch so far, each fit a uniform subsample of M without replacement, a fixed-h KDE."""
    rng = np.random.default_rng(seed)
    out = np.empty(trials)
    for t in range(trials):
        pool = rng.normal(size=m)
        fit = pool
        for _ in range(n - 1):
            new = rng.choice(fit, m) + h * rng.normal(size=m)
            pool = np.concatenate([pool, new])
            fit = rng.choice(pool, m, replace=False)
        out[t] = fit.var() + h * h
    return out


def test_accumulate_subsample_has_the_literal_loops_law():
    # log V_10 of kde.simulate(policy="accumulate-subsample") against the literal loop: KS
    # two-sample test (p > 1e-4 under the same law); control: the replace chain's law (the same
    # M and h, no pool), which must be rejected (p < 1e-8; about 1e-21 at this seed).
    m, n, h = 8, 10, 0.4
    res = kde.simulate(jax.random.key(4), sample_size=m, generations=n, trials=4000,
                       bandwidth=h, policy="accumulate-subsample")
    sub = np.asarray(res.log_variance)[:, -1]
    assert np.array_equal(res.size, [0] + [m] * n)
    literal = np.log(_literal_subsample(0, m, n, 4000, h))
    assert stats.ks_2samp(sub, literal).pvalue > 1e-4
    rep = kde.simulate(jax.random.key(4), sample_size=m, generations=n, trials=4000,
                       bandwidth=h, policy="replace")
    assert stats.ks_2samp(np.asarray(rep.log_variance)[:, -1], literal).pvalue < 1e-8


def test_params0_must_be_shaped_like_a_fit():
    fam = kde.family(1, 0.5)
    p0 = kde.Params(jnp.zeros((3, 1)), jnp.zeros(3), jnp.zeros(1), jnp.zeros(()),
                    jnp.zeros((1, 1)))
    with pytest.raises(ValueError, match=r"params0 must have the shapes .* on 5 points"):
        ct.simulate(jax.random.key(0), fam, p0, sample_size=5, generations=2, trials=2)
    assert ct.fit_rows("accumulate", 5, 3) == 20  # the pool buffer: N_3 + M
    assert ct.fit_rows("fresh:0.4", 5, 3) == 5


def test_same_key_same_result_whatever_trials_and_chunks():
    # The rejection sampler loops until every lane of a batch is done: each lane's draws must
    # still depend only on its own key (fresh: gaps between the live rows).
    kw = dict(sample_size=[7, 12, 5], generations=3, bandwidth="scott", policy="fresh:0.4")
    a = kde.simulate(jax.random.key(7), trials=13, **kw)
    b = kde.simulate(jax.random.key(7), trials=13, chunk_size=4, **kw)
    c = kde.simulate(jax.random.key(7), trials=5, chunk_size=3, **kw)
    for x, y, z in zip(a[1:5], b[1:5], c[1:5]):
        assert np.array_equal(np.asarray(x), np.asarray(y))
        assert np.array_equal(np.asarray(x)[:5], np.asarray(z))
