"""The GMM refitting chain: EM against scikit-learn, diagnostics, keys, the paper's record."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from collapse_theory import gmm, mixture
from collapse_theory.mixture import Mixture

_INIT = Mixture(np.array([0.3, 0.7]), np.array([[-1.0, 0.5], [1.0, -0.5]]),
                np.stack([np.sqrt(1.5) * np.eye(2), np.sqrt(0.5) * np.eye(2)]))


def _sklearn(x, init, tol, reg_covar, max_iter=100):
    cov = np.asarray(init.chol) @ np.swapaxes(np.asarray(init.chol), -1, -2)
    return GaussianMixture(2, covariance_type="full", tol=tol, reg_covar=reg_covar,
                           max_iter=max_iter, weights_init=np.asarray(init.weights),
                           means_init=np.asarray(init.means),
                           precisions_init=np.linalg.inv(cov)).fit(x)


@pytest.mark.parametrize("seed", [3, 4])
def test_one_fit_agrees_with_sklearn(seed):
    """Same data, same initial parameters: the same EM iterates in float64.

    Both run the identical algorithm (E-step by log-sum-exp, closed-form M-step, stop when
    the mean log-likelihood changes by < tol); the only difference is floating-point
    evaluation order, so after ~20 iterations of a contraction the parameters agree to
    ~1e-12 and the iteration counts are equal.
    """
    with jax.enable_x64(True):
        x = np.asarray(mixture.sample(jax.random.key(seed), mixture.paper_mixture(), 1000))
        f = gmm.fit(x, _INIT, tol=1e-3, reg_covar=1e-6)
        sk = _sklearn(x, _INIT, 1e-3, 1e-6)
        assert int(f.iterations) == sk.n_iter_ and bool(f.converged) == sk.converged_
        np.testing.assert_allclose(np.asarray(f.mixture.weights), sk.weights_, atol=1e-10)
        np.testing.assert_allclose(np.asarray(f.mixture.means), sk.means_, atol=1e-10)
        np.testing.assert_allclose(np.asarray(f.mixture.cov), sk.covariances_, atol=1e-10)
        assert float(f.log_likelihood) == pytest.approx(sk.lower_bound_, abs=1e-10)
        # Negative control: one EM iteration fewer differs far beyond that tolerance.
        short = gmm.fit(x, _INIT, tol=1e-3, reg_covar=1e-6, em_steps=sk.n_iter_ - 1)
        assert not bool(short.converged)
        assert np.abs(np.asarray(short.mixture.means) - sk.means_).max() > 1e-6


def test_float32_fit_agrees_with_sklearn_to_single_precision():
    x = np.asarray(mixture.sample(jax.random.key(5), mixture.paper_mixture(), 1000))
    init = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), _INIT)
    sk = _sklearn(x.astype(np.float64), _INIT, 1e-6, 1e-6, max_iter=200)
    # The same number of EM iterations: a stopping rule |Δ mean log-likelihood| < 1e-6 sits a
    # few float32 ulps above the log-likelihood's rounding, so float32 may stop an iteration
    # earlier or later than float64, and EM converges linearly (one step moves the means by
    # ~1e-4 here).  At equal iterations float32 rounding of sums over 1000 points leaves
    # relative errors ~1e-5 in the parameters.
    f = gmm.fit(x, init, tol=0.0, reg_covar=1e-6, em_steps=int(sk.n_iter_))
    np.testing.assert_allclose(np.asarray(f.mixture.means), sk.means_, atol=1e-4)
    np.testing.assert_allclose(np.asarray(f.mixture.cov), sk.covariances_, atol=1e-4)


def test_empty_and_singular_components_stay_finite_and_are_counted():
    with jax.enable_x64(True):
        x = np.asarray(mixture.sample(jax.random.key(0), mixture.paper_mixture(), 20))
        far = Mixture(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [200.0, 200.0]]),
                      np.stack([np.eye(2), 0.1 * np.eye(2)]))
        f = gmm.fit(x, far)
        assert int(f.empty) == 1 and int(f.singular) == 0
        assert np.all(np.isfinite(np.asarray(f.mixture.weights)))
        np.testing.assert_array_equal(np.asarray(f.mixture.means[1]), [200.0, 200.0])  # kept
        assert float(f.mixture.weights[1]) < 1e-6
        # Identical points with no floor: a zero covariance, Cholesky fails, factor kept.
        same = np.repeat([[1.0, 2.0]], 10, axis=0)
        one = Mixture(np.array([1.0]), np.array([[0.0, 0.0]]), np.eye(2)[None])
        g = gmm.fit(same, one, reg_covar=0.0)
        assert int(g.singular) == 1 and np.all(np.isfinite(np.asarray(g.mixture.chol)))
        np.testing.assert_array_equal(np.asarray(g.mixture.means[0]), [1.0, 2.0])
        # With the floor the same data fit, floored: reg_covar is all of the covariance.
        h = gmm.fit(same, one, reg_covar=1e-6)
        assert int(h.singular) == 0 and bool(h.floored)
        np.testing.assert_allclose(np.asarray(h.mixture.cov[0]), 1e-6 * np.eye(2), rtol=1e-6)


# Chains of one shape (M = 50, 200 fits, records 0, 1, 200, chunks of 8) compile once.
_SHARED = {"sample_size": 50, "generations": 200, "record": [0, 1, 200]}


def test_chain_counts_empty_components_without_nan():
    """A component of weight 1e-8 gets no sample in 8·200 fits of M = 50 (P ≈ 1e-3) and
    empties at fit 1 and every fit after."""
    orig = mixture.from_cov([1 - 1e-8, 1e-8], [[0.0, 0.0], [30.0, 30.0]], [np.eye(2)] * 2)
    res = gmm.simulate(jax.random.key(0), trials=8, original=orig, **_SHARED)
    for leaf in jax.tree.leaves(res):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64)))
    empty = np.asarray(res.empty_events)
    assert np.all(empty[:, 0] == 0) and np.all(empty[:, 1] >= 1) and np.all(empty[:, 2] >= 200)


def test_trial_results_do_not_depend_on_trials_or_chunks():
    a = gmm.simulate(jax.random.key(7), trials=8, **_SHARED)
    b = gmm.simulate(jax.random.key(7), trials=24, chunk_size=8, **_SHARED)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y)[:8] if np.ndim(x) > 1
                                      else np.asarray(y))
    # A fit in a batch (frozen lanes under vmap) is the same fit as alone: same iterations,
    # same parameters up to float32 rounding (XLA may order a batched reduction differently).
    x = jax.vmap(lambda k: mixture.sample(k, mixture.paper_mixture(), 1000))(
        jax.random.split(jax.random.key(1), 8))
    init = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), _INIT)
    batched = jax.vmap(lambda xi: gmm._em(xi, jnp.ones(1000), init, 100, 1e-3, 1e-6))(x)
    assert len(set(np.asarray(batched.iterations).tolist())) > 1  # lanes stop at different steps
    for i in range(8):
        alone = gmm.fit(x[i], init)
        np.testing.assert_allclose(np.asarray(alone.mixture.means),
                                   np.asarray(batched.mixture.means[i]), rtol=1e-5, atol=1e-6)
        assert int(alone.iterations) == int(batched.iterations[i])


def _live_std(res, g, m):
    """Component std at record ``g`` of components holding at least one point (weight·M ≥ 1);
    an empty component keeps its last covariance and is left out (NaN)."""
    std = np.asarray(mixture.component_std(res.mixture))[:, g]
    return np.where(np.asarray(res.weights)[:, g] * m >= 1, std, np.nan)


def test_paper_record_scaled_component_std_falls_by_orders_of_magnitude():
    """The paper's record (std 0.90 → 0.010 over 2000 generations at M = 1000), scaled.

    Component k is refitted by the MLE on N_k ≤ M points, so (docs/theory.md §3, d = 2)
    log std = ¼ log det Σ drifts by ¼ Σ_j[ψ((N−j)/2) + log(2/N)] ≈ −1.25/N ≤ −1.25/M per
    generation, with variance ¼² Σ_j ψ₁((N−j)/2) ≈ 1/(4N) per generation.  At M = 50 over 200
    generations even a component holding all M points moves by ≤ −5 (std 0.9 → ≤ 0.006) with
    sd ≈ 1, so P(std > 0.09) ≤ P(Z > 2.7) ≈ 0.004 per trial: we assert that ≥ 90% of trials
    have every live component below 0.09 (an order of magnitude; ~2 in expectation) and that
    the median L2 distance to D0 grew > 10× from generation 1 (a component of weight a and
    std s contributes ≈ a²/(4π s²) to ∫f²).  Control: the same chain with fresh:0.5 real data
    is pulled back to D0 and keeps std > 0.5 in ≥ 90% of trials, failing the first assertion.
    """
    m = 50
    kw = {**_SHARED, "trials": 64, "chunk_size": 8}
    res = gmm.simulate(jax.random.key(3), **kw)
    std = _live_std(res, -1, m)
    assert np.allclose(np.asarray(mixture.component_std(res.mixture))[:, 0], 0.9, rtol=1e-5)
    assert np.mean(np.nanmax(std, axis=-1) < 0.09) >= 0.9
    l2 = np.asarray(mixture.l2_distance(res.mixture, mixture.paper_mixture()))
    assert np.median(l2[:, 2]) > 10 * np.median(l2[:, 1])
    fresh = gmm.simulate(jax.random.key(3), policy="fresh:0.5", **kw)
    std_fresh = _live_std(fresh, -1, m)
    assert np.mean(np.nanmin(std_fresh, axis=-1) > 0.5) >= 0.9
    assert not np.mean(np.nanmax(std_fresh, axis=-1) < 0.09) >= 0.9


def test_long_float32_chain_stays_finite_and_reports_the_floor():
    """2000 generations in float32 at M = 30: live components reach the floor and count it.

    Drift of log std ≈ −1.25/30 per generation (see above), ≈ −80 over 2000 generations, so
    the chain ends at the floor's equilibrium: a component refitted on N points has
    E s'² = s² (N−1)/N + reg_covar, whose fixed point is s² = N·reg_covar; with N ≤ M = 30
    and the floor itself as a lower bound, √reg_covar ≤ std ≤ √(M reg_covar) ≈ 0.0055 up to
    fluctuations (asserted with a factor 3 on the upper end: log s² fluctuates by ~√(2/N)).
    The fits are flagged as floored (reg_covar ≥ 1% of the smallest eigenvalue).
    """
    m, reg = 30, 1e-6
    res = gmm.simulate(jax.random.key(2), sample_size=m, generations=2000, trials=8,
                       record=[0, 2000], reg_covar=reg)
    for leaf in jax.tree.leaves(res):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64)))
    assert res.weights.dtype == jnp.float32
    std = _live_std(res, -1, m)
    live = ~np.isnan(std)
    assert np.all(std[live] >= 0.999 * np.sqrt(reg))
    assert np.all(std[live] <= 3 * np.sqrt(m * reg))
    assert np.all(np.asarray(res.floored_fits)[:, -1] > 0)
    # A trial whose weights were absorbed (one component empty) counted the empty fits.
    absorbed = ~np.all(live, axis=-1)
    assert np.all(np.asarray(res.empty_events)[absorbed, -1] > 0)


def test_kmeanspp_start_finds_the_warm_start_optimum():
    """Fit 1 draws the same points whatever the init: k-means++ and Lloyd reach the optimum of
    the warm start from D0 (two separated blobs) up to labels and EM's stopping error at
    tol = 1e-3 (≲ 0.1, see the fixed-policy test); another optimum (a blob split in two)
    moves a mean by ≥ 1."""
    pp = gmm.simulate(jax.random.key(4), trials=8, init="kmeans++", **_SHARED)
    warm = gmm.simulate(jax.random.key(4), trials=8, **_SHARED)
    means = np.asarray(pp.means)[:, 1]
    order = np.argsort(means[..., 0], axis=-1)[..., None]
    err = np.abs(np.take_along_axis(means, order, axis=-2) - np.asarray(warm.means)[:, 1])
    assert err.max() < 0.25
    # Control: the warm-start fit against the label-swapped one is rejected.
    assert np.abs(np.asarray(warm.means)[:, 1, ::-1] - np.asarray(warm.means)[:, 1]).max() > 1


def test_fixed_zero_policy_is_em_continued_on_one_real_set():
    """fixed:0: every fit sees the same M_1 real points and starts from the previous fit, so
    the chain continues EM on one data set: its log-likelihood never decreases (EM's ascent
    property, a deterministic fact) and successive fits move less and less."""
    fixed = gmm.simulate(jax.random.key(4), trials=8, policy="fixed:0", sample_size=50,
                         generations=20, record=None)
    ll = np.asarray(fixed.log_likelihood)[:, 1:]
    assert np.all(np.diff(ll, axis=1) >= -1e-5)  # float32 rounding of a mean of ~3
    step = np.abs(np.diff(np.asarray(fixed.means), axis=1)).max(axis=(-2, -1))  # (T, 20)
    assert np.all(step[:, -1] <= step[:, 1] + 1e-6)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"trials": 0}, ValueError, "trials must be >= 1"),
    ({"generations": -1}, ValueError, "generations must be >= 0"),
    ({"sample_size": 2}, ValueError, "sample_size must be >= 3"),
    ({"init": "random"}, ValueError, "init must be one of"),
    ({"em_steps": 0}, ValueError, "em_steps must be >= 1"),
    ({"tol": -1.0}, ValueError, "tol must be >= 0"),
    ({"reg_covar": -1e-6}, ValueError, "reg_covar must be >= 0"),
    ({"policy": "bogus"}, ValueError, "policy must be one of"),
    ({"policy": "fresh:2"}, ValueError, "gamma must be <= 1"),
    ({"components": 3}, ValueError, "components=3 needs an original"),
    ({"dim": 3}, ValueError, "dim=3 needs an original"),
    ({"original": "paper"}, TypeError, "original must be a mixture.Mixture"),
    ({"trials": 1.5}, TypeError, "trials must be an integer"),
])
def test_simulate_validates(kwargs, err, match):
    args = {"generations": 2, "trials": 2} | kwargs
    with pytest.raises(err, match=match):
        gmm.simulate(jax.random.key(0), **args)


def test_fit_validates():
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        gmm.fit(np.zeros((10, 3)), _INIT)
    with pytest.raises(ValueError, match="em_steps must be >= 1"):
        gmm.fit(np.zeros((10, 2)), _INIT, em_steps=0)


def test_weighted_em_zero_weights_is_em_on_the_subset():
    """The family's fit honours weights: zero-weight points are absent (the same EM iterates as
    on the subset, float64 to 1e-12) and weight 2 is a duplicated point; control: dropping the
    zero weights' points from the subset's complement instead changes the fit."""
    with jax.enable_x64(True):
        x = np.asarray(mixture.sample(jax.random.key(6), mixture.paper_mixture(), 60))
        w = np.ones(60)
        w[::3] = 0.0
        fam = gmm.family(2, 2)
        prev = gmm.start(_INIT)
        key = jax.random.key(0)
        weighted = fam.fit(jnp.asarray(x), jnp.asarray(w), key=key, previous=prev)
        subset = gmm.fit(x[w > 0], _INIT)
        assert int(weighted.iterations) == int(subset.iterations)
        for a, b in zip(weighted.mixture, subset.mixture):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)
        w2 = np.ones(60)
        w2[0] = 2.0
        double = fam.fit(jnp.asarray(x), jnp.asarray(w2), key=key, previous=prev)
        dup = gmm.fit(np.concatenate([x, x[:1]]), _INIT)
        np.testing.assert_allclose(np.asarray(double.mixture.means), np.asarray(dup.mixture.means),
                                   rtol=0, atol=1e-12)
        other = gmm.fit(x[w == 0], _INIT)
        assert np.abs(np.asarray(other.mixture.means) - np.asarray(subset.mixture.means)).max() > 1e-3


def test_accumulate_policies_run_and_fit_one_is_replace():
    """Under accumulate the pool is a buffer of points (unused rows weight 0): fit 1 sees the
    same batch as under replace (same key), so it is the same fit up to float32 summation
    order; later fits are finite and the subsampled pool runs too."""
    kw = {"sample_size": 20, "generations": 3, "trials": 3, "record": None}
    acc = gmm.simulate(jax.random.key(8), policy="accumulate", **kw)
    rep = gmm.simulate(jax.random.key(8), **kw)
    np.testing.assert_allclose(np.asarray(acc.means)[:, 1], np.asarray(rep.means)[:, 1],
                               rtol=1e-4, atol=1e-5)
    assert np.abs(np.asarray(acc.means)[:, 3] - np.asarray(rep.means)[:, 3]).max() > 1e-3
    sub = gmm.simulate(jax.random.key(8), policy="accumulate-subsample", **kw)
    for res in (acc, sub):
        for leaf in jax.tree.leaves(res):
            assert np.all(np.isfinite(np.asarray(leaf, np.float64)))
