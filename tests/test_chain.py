"""The generic chain (``ct.simulate``/``ct.summarize``) on a user's own family.

The family is the 1-D Gaussian MLE written as a user would (weighted mean and variance), with
and without the exact shortcuts.  Closed forms are z-tests ``z = (mean − closed form)/SE``,
SE = s/√T from the same T i.i.d. trials, accepted at ``|z| < 5`` (two-sided P ≈ 6e-7 under
the null), each with a negative control (another M) that the same test must reject.  Under
these policies σ²_n concentrates (every fit sees ≥ M points of a non-collapsing chain), so its
mean is a well-behaved statistic; under replace we test E log σ²_n, which concentrates while
σ²_n does not.
"""

import functools
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import collapse_theory as ct
from collapse_theory import discrete
from collapse_theory.testing import statistics
from collapse_theory.theory import gaussian as gtheory
from collapse_theory.theory import policies as ptheory

Z_MAX = 5.0
M, G, T = 10, 8, 4000
POLICIES = ("replace", "accumulate", "accumulate-subsample", "fresh:0.3", "fixed:1")


def sample(key, params, n):
    mu, var = params
    return mu + jnp.sqrt(var) * jax.random.normal(key, (n,), jnp.result_type(var))


def fit(x, w):
    n = jnp.sum(w)
    mu = jnp.sum(w * x) / n
    return mu, jnp.sum(w * (x - mu) ** 2) / n


def stats_(x, w):
    n = jnp.sum(w)
    mu = jnp.sum(w * x) / jnp.maximum(n, 1.0)
    return n, mu, jnp.sum(w * (x - mu) ** 2)


def merge(a, b):
    """Chan et al.'s pooled (n, mean, M2); n = 0 is the identity."""
    (na, ma, sa), (nb, mb, sb) = a, b
    n = na + nb
    d = mb - ma
    frac = nb / jnp.maximum(n, 1.0)
    return n, ma + d * frac, sa + sb + d * d * na * frac


def fit_stats(s):
    n, mu, m2 = s
    return mu, m2 / n


def sample_stats(key, params, n):
    """(n, x̄, M2) of n draws in law: x̄ ~ N(μ, σ²/n), M2 ~ σ² χ²_{n−1}."""
    mu, var = params
    k1, k2 = jax.random.split(key)
    nf = n.astype(var.dtype)
    chi2 = 2.0 * jax.random.gamma(k2, jnp.maximum(nf - 1.0, 1e-6) / 2.0, dtype=var.dtype)
    return nf, mu + jnp.sqrt(var / nf) * jax.random.normal(k1, (), var.dtype), var * chi2


POINTS = ct.Family(sample, fit, name="mle")
EXACT = ct.Family(sample, fit, stats_, merge, fit_stats, sample_stats, name="mle-exact")
P0 = (0.0, 1.0)


@functools.lru_cache(maxsize=None)
def variance(family_name, policy, m=M, g=G, trials=T, key=0):
    fam = POINTS if family_name == "points" else EXACT
    res = ct.simulate(jax.random.key(key), fam, P0, sample_size=m, generations=g,
                      trials=trials, policy=policy, record=[g])
    return np.asarray(res.params[1][:, 0], np.float64)


def z_mean(x, expected):
    """z of the mean of i.i.d. trials, SE = s/√T (collapse_theory.testing.statistics)."""
    return statistics.z_mean(x, expected).statistic


def closed_form(policy, m):
    if policy == "accumulate":
        return ptheory.accumulate_variance_factor(m, G)[-1]
    if policy.startswith("fresh"):
        return ptheory.fresh_gaussian_moments(m, 0.3, G)[0][-1]
    return ptheory.fixed_gaussian_variance(m, 1.0, G)[-1]


@pytest.mark.parametrize("family_name", ["points", "exact"])
@pytest.mark.parametrize("policy", ["accumulate", "fresh:0.3", "fixed:1"])
def test_policies_match_closed_forms(family_name, policy):
    v = variance(family_name, policy)
    assert abs(z_mean(v, closed_form(policy, M))) < Z_MAX
    # negative control: the closed form of M = 7 (|Δ| ≈ 6–20 SE at T = 4000).
    assert abs(z_mean(v, closed_form(policy, 7))) > Z_MAX


@pytest.mark.parametrize("family_name", ["points", "exact"])
def test_replace_log_variance(family_name):
    """E log σ²_n = n[ψ((M−1)/2) + log(2/M)] (MLE); σ²_n itself is heavy-tailed."""
    res = ct.simulate(jax.random.key(1), POINTS if family_name == "points" else EXACT, P0,
                      sample_size=M, generations=G, trials=T, record=[G])
    logv = np.log(np.asarray(res.params[1][:, 0], np.float64))
    expected = gtheory.expected_log_det(G, M, estimator="mle")
    assert abs(z_mean(logv, expected)) < Z_MAX
    assert abs(z_mean(logv, gtheory.expected_log_det(G, M))) > Z_MAX  # unbiased: ≈ 10 SE off


def test_subsample_points_are_distinct_and_pool_grows():
    """accumulate-subsample fits M points drawn WITHOUT replacement from the N_g-point pool."""

    def fit_distinct(x, w):
        same = (x[:, None] == x[None, :]) & (w[:, None] > 0) & (w[None, :] > 0)
        return jnp.sum(w), jnp.sum(same).astype(x.dtype)  # n, n + 2 × duplicate pairs

    fam = ct.Family(sample, fit_distinct, name="distinct")
    res = ct.simulate(jax.random.key(2), fam, P0, sample_size=M, generations=6, trials=64,
                      policy="accumulate-subsample")
    n, pairs = (np.asarray(a) for a in res.params)
    assert np.all(n[:, 1:] == M) and np.all(pairs[:, 1:] == M)
    assert res.size.tolist() == [0] + [M] * 6


def test_subsample_is_uniform_over_the_pool():
    """At fit 2 the pool holds M real points (batch 1) and M of model 1; a uniform M-subset takes
    a hypergeometric number of batch-1 points: mean M/2, var M²/(4(2M − 1))."""
    real = np.arange(1.0, 1.0 + M)  # batch 1 = every real point (M of M, without replacement)

    def fit_count(x, w):
        return jnp.sum(w * (x >= 1.0) * (x == jnp.round(x))), jnp.sum(w)

    def sample_neg(key, params, n):  # model 1 draws negative non-integers
        return -0.5 - jax.random.uniform(key, (n,))

    fam = ct.Family(sample_neg, fit_count, name="count")
    res = ct.simulate(jax.random.key(3), fam, None, real=real, sample_size=M, generations=2,
                      trials=4000, policy="accumulate-subsample", record=[2])
    k = np.asarray(res.params[0][:, 0], np.float64)
    expected = stats.hypergeom(2 * M, M, M)
    assert abs(z_mean(k, expected.mean())) < Z_MAX
    # the variance too: χ² on the counts against the hypergeometric pmf (bins pooled ≥ 5)
    obs = np.bincount(k.astype(int), minlength=M + 1)
    exp = expected.pmf(np.arange(M + 1)) * k.size
    keep = exp >= 5
    chi2 = stats.chisquare(np.append(obs[keep], obs[~keep].sum()),
                           np.append(exp[keep], exp[~keep].sum()) * k.size /
                           exp.sum())
    assert chi2.pvalue > 1e-4
    # control: a subsample biased to the pool's first rows would take all M real points.
    assert abs(z_mean(k, M)) > Z_MAX


def test_real_array_first_fit_uses_every_point():
    """D0 as data: with M_1 = len(real) the first fit sees every real point (without
    replacement), so every trial's fit 1 equals the fit of the array."""
    real = np.random.default_rng(0).standard_t(5, size=M)
    res = ct.simulate(jax.random.key(4), POINTS, None, real=real, sample_size=M,
                      generations=3, trials=5)
    mu1, var1 = (np.asarray(a[:, 1], np.float64) for a in res.params)
    np.testing.assert_allclose(mu1, real.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var1, real.var(), rtol=1e-5)
    assert np.all(np.isnan(np.asarray(res.params[0][:, 0])))  # no params0: generation 0 is NaN


def test_equal_real_arrays_reuse_the_compiled_chain(backend_compiles):
    """real= points are hashed by content: an equal copy compiles nothing new; different
    points do compile."""
    real = np.random.default_rng(1).standard_normal(M)
    run = lambda r: ct.simulate(jax.random.key(4), POINTS, None, real=r,  # noqa: E731
                                sample_size=M, generations=2, trials=3)
    first = run(real)
    with backend_compiles() as count:
        again = run(real.copy())
        reused = count[0]
        run(real + 1.0)  # control: other points are another chain
    assert reused == 0
    assert count[0] > 0
    np.testing.assert_array_equal(np.asarray(first.params[1]), np.asarray(again.params[1]))


def test_real_sampler_and_fresh_draw_from_d0():
    """fresh:1 refits to M fresh points of D0 every generation: σ²_g has the one-fit law."""
    def d0(key, n):
        return 3.0 + 2.0 * jax.random.normal(key, (n,))

    res = ct.simulate(jax.random.key(5), POINTS, None, real=d0, sample_size=M, generations=4,
                      trials=T, policy="fresh:1", record=[4])
    v = np.asarray(res.params[1][:, 0], np.float64)
    assert abs(z_mean(v, 4.0 * (M - 1) / M)) < Z_MAX  # E σ̂² = σ²(M − 1)/M
    assert abs(z_mean(v, 4.0)) > Z_MAX  # control: the unbiased mean (≈ 9 SE off)


@pytest.mark.parametrize("policy", POLICIES)
def test_same_key_same_result_whatever_trials_and_chunks(policy):
    key = jax.random.key(6)
    run = functools.partial(ct.simulate, key, EXACT if policy != "accumulate-subsample" else
                            POINTS, P0, sample_size=[5, 6, 7, 5, 9], generations=5,
                            policy=policy, record="log")
    full = run(trials=13)
    few = run(trials=7)
    chunked = run(trials=13, chunk_size=3)
    for a, b, c in zip(jax.tree.leaves(full.params), jax.tree.leaves(few.params),
                       jax.tree.leaves(chunked.params)):
        np.testing.assert_array_equal(np.asarray(a)[:7], np.asarray(b))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


def test_first_passage_tally_and_summary():
    fam = EXACT
    key = jax.random.key(7)
    kw = dict(sample_size=5, generations=40, trials=50)
    res = ct.simulate(key, fam, P0, record=None, first_passage=lambda p: p[1] < 0.2,
                      tally=lambda p: (p[1] < 0.5).astype(jnp.int32), **kw)
    v = np.asarray(res.params[1])
    below = v < 0.2
    first = np.where(below.any(1), below.argmax(1), -1)
    np.testing.assert_array_equal(np.asarray(res.first_passage), first)
    np.testing.assert_array_equal(np.asarray(res.tally), np.cumsum(v < 0.5, axis=1))
    summ = ct.summarize(key, fam, P0, statistics=lambda p: {"log_var": jnp.log(p[1])},
                        record=None, **kw)
    np.testing.assert_allclose(summ.mean["log_var"], np.log(v).mean(0), rtol=1e-5, atol=1e-5)
    assert summ.count == 50


def test_long_replace_chain_stays_finite_in_log_scale():
    """A family whose params are in log scale never turns into NaN (5000 fits, float32)."""

    def sample_log(key, params, n):
        mu, log_var = params
        return mu + jnp.exp(0.5 * log_var) * jax.random.normal(key, (n,))

    def fit_log(x, w):
        mu = jnp.sum(w * x) / jnp.sum(w)
        scale = jnp.max(jnp.abs(x - mu) * (w > 0))
        z = (x - mu) / jnp.where(scale > 0, scale, 1.0)
        return mu, jnp.log(jnp.sum(w * z * z) / jnp.sum(w)) + 2.0 * jnp.log(scale)

    res = ct.simulate(jax.random.key(8), ct.Family(sample_log, fit_log), (0.0, 0.0),
                      sample_size=4, generations=5000, trials=8, record=[5000])
    assert not np.any(np.isnan(np.asarray(res.params[1])))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(family=object()), TypeError, "family must be a collapse_theory.Family"),
    (dict(family=ct.Family(1, fit)), TypeError, "family.sample must be callable"),
    (dict(family=ct.Family(sample, fit, stats=stats_)), ValueError, "merge, fit_stats"),
    (dict(params0=None), ValueError, "params0 .* or as real= data"),
    (dict(params0=None, real=np.zeros((0,))), ValueError, "non-empty array"),
    (dict(params0=None, real=np.array([1.0, np.nan])), ValueError, "finite"),
    (dict(params0=None, real=np.ones(3)), ValueError, "holds 3 points"),
    (dict(policy="fresh:2"), ValueError, "gamma"),
    (dict(sample_size=0), ValueError, "sample_size must be >= 1"),
    (dict(trials=0), ValueError, "trials must be >= 1"),
    (dict(first_passage=3), TypeError, "first_passage must be callable"),
])
def test_bad_input_is_rejected(kwargs, exc, match):
    args = dict(family=POINTS, params0=P0, sample_size=M, generations=2, trials=3)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        ct.simulate(jax.random.key(0), args.pop("family"), args.pop("params0"), **args)
    with pytest.raises(TypeError, match="statistics must be callable"):
        ct.summarize(jax.random.key(0), POINTS, P0, statistics=None, sample_size=M,
                     generations=2, trials=3)


@pytest.mark.parametrize("index", [1, 3])
def test_streams_are_independent_of_a_sampler_that_splits_its_key(index):
    # A sampler that splits its key (split(k, 4)[i] is fold_in(k, i)) must not reuse the real
    # batch's or the fit's noise.  Under fresh:0.5 with M = 4 the fit sees 2 real points, then
    # 2 synthetic ones; it returns x_real,0 · x_syn,0 and x_syn,0 · z_fit (z_fit a normal of the
    # fit's key): each has E = 0 and SE = 1/√T over T chains; |z| < 5.  Control: shared noise
    # (correlation 1) gives z = √T ≈ 63.
    def split_sample(key, params, n):
        return jax.random.normal(jax.random.split(key, 4)[index], (n,))

    def corr(x, w, *, key):
        return jnp.stack([x[0] * x[2], x[2] * jax.random.normal(key, (2,))[0]])

    real = lambda key, n: jax.random.normal(key, (n,))  # noqa: E731
    res = ct.simulate(jax.random.key(1), ct.Family(split_sample, corr), None, sample_size=4,
                      generations=3, trials=T, policy="fresh:0.5", real=real)
    z = np.asarray(res.params)[:, 2:].mean(0) * np.sqrt(T)
    assert np.all(np.abs(z) < Z_MAX), z
    shared = np.asarray(jax.random.normal(jax.random.key(2), (T,)))
    assert abs((shared * shared).mean() * np.sqrt(T)) > 10 * Z_MAX


def test_observe_records_a_function_of_the_params():
    full = ct.simulate(jax.random.key(0), POINTS, P0, sample_size=M, generations=3, trials=5)
    var = ct.simulate(jax.random.key(0), POINTS, P0, sample_size=M, generations=3, trials=5,
                      observe=lambda p: p[1])
    assert np.array_equal(np.asarray(var.params), np.asarray(full.params[1]))
    with pytest.raises(TypeError, match="observe must be callable"):
        ct.simulate(jax.random.key(0), POINTS, P0, sample_size=M, generations=3, trials=5,
                    observe=1)


def test_fit_keywords_are_passed():
    seen = {}

    def fit_kw(x, w, *, key, previous):
        seen["key"], seen["previous"] = key, previous
        return fit(x, w)

    ct.simulate(jax.random.key(0), ct.Family(sample, fit_kw), P0, sample_size=M,
                generations=1, trials=2)
    assert jax.dtypes.issubdtype(seen["key"].dtype, jax.dtypes.prng_key)
    assert len(seen["previous"]) == 2


def test_sample_stats_gets_a_static_bound_on_n():
    """A ``sample_stats`` that declares ``n_max`` gets 32 where every batch of the chain (the
    model's draws and D0's, under fresh) is at most 32, else ``None``; the discrete family's
    counts with it are those drawn without it (the multinomial leaves BTRS out)."""
    def bounded(seen):  # a new family each time (compiled steps are cached on the family)
        def sample_stats(key, params, n, *, n_max):
            seen.append(n_max)
            return stats_(sample(key, params, 128), (jnp.arange(128) < n).astype(jnp.float32))
        return ct.Family(sample, fit, stats_, merge, fit_stats, sample_stats)

    cases = (([10, 30], "replace", 32), (1, "replace", 32), (32, "replace", 32),
             ([3, 33], "accumulate", None), (10**6, "replace", None),
             ([10, 64], "fresh:0.5", 32))  # 32 draws of the model and 32 of D0
    for sizes, policy, bound in cases:
        seen = []
        ct.simulate(jax.random.key(3), bounded(seen), P0, sample_size=sizes, generations=2,
                    trials=5, policy=policy)
        assert set(seen) == {bound}, (sizes, policy, seen)

    fam = discrete.family(3)
    counts = [np.asarray(ct.simulate(
        jax.random.key(3), fam._replace(sample_stats=draw),
        discrete.initial(np.array([0.5, 0.3, 0.2])), sample_size=[10, 20, 30],
        generations=3, trials=301).params.counts)
        for draw in (fam.sample_stats, lambda k, p, n: fam.sample_stats(k, p, n))]
    np.testing.assert_array_equal(counts[0], counts[1])


def test_same_result_on_one_two_and_four_devices(on_host_devices):
    """A user's family through ct.simulate with odd trial counts gives the same values on 1,
    2 and 4 host devices (each device runs the one-device program on its own trials), with a
    pool of points (accumulate-subsample), fresh real draws, small samples (M = 2, 3), many
    generations and first passages; ct.summarize's per-trial sample is the same too.

    Issue 14: partitioned over the devices, XLA's SPMD pipeline CSE'd the two fits' shared
    ``sum(w)`` before the algebraic simplifier, which then kept ``a / sum(w)`` where the
    one-device program has ``a * (1 / sum(w))``: trials differed in their last bits.  And the
    Gaussian chain with statistics under fixed (a schedule, 301 trials: batches of 304, 152 and
    80 per device) drew its χ² from rejection buffers sized by the batch, one of them a single
    lane, which XLA:CPU rounds apart: trial 257 differed on 4 devices from generation 9 on."""
    code = textwrap.dedent("""
        import json, jax, jax.numpy as jnp, numpy as np
        import collapse_theory as ct

        def sample(key, p, n):
            return p[0] + jnp.sqrt(p[1]) * jax.random.normal(key, (n,))

        def fit(x, w):
            mu = jnp.sum(w * x) / jnp.sum(w)
            return mu, jnp.sum(w * (x - mu) ** 2) / jnp.sum(w)

        fam = ct.Family(sample, fit)
        run = lambda policy, m=5, g=6, t=13, **kw: ct.simulate(
            jax.random.key(9), fam, (0.0, 1.0), sample_size=m, generations=g, trials=t,
            policy=policy, record=[g], **kw)
        var = lambda r: np.asarray(r.params[1]).ravel().tolist()
        out = {"n": jax.device_count(), "sub": var(run("accumulate-subsample")),
               "fresh": var(run("fresh:0.4"))}
        for m in (2, 3):
            out[f"replace{m}"] = var(run("replace", m=m, g=40, t=7))
            out[f"acc{m}"] = var(run("accumulate", m=m, g=12, t=9))
        r = run("replace", m=3, g=300, t=11, first_passage=lambda p: p[1] < 0.05)
        out["long"], out["first"] = var(r), np.asarray(r.first_passage).tolist()
        s = ct.summarize(jax.random.key(9), fam, (0.0, 1.0), statistics=lambda p: {"v": p[1]},
                         sample_size=3, generations=20, trials=13, record=[20])
        out["summary_n"], out["summary"] = s.count, np.asarray(s.sample["v"]).tolist()
        out["summary_mean"] = np.asarray(s.mean["v"]).tolist()
        g = ct.gaussian.simulate(jax.random.key(3), sample_size=[7, 20, 9, 12] * 3,
                                 generations=12, trials=301, policy="fixed:1")
        out["gaussian_fixed"] = np.asarray(g.log_det).tolist()
        print(json.dumps(out))
    """)
    out = {n: on_host_devices(code, n) for n in (1, 2, 4)}
    assert [out[n]["n"] for n in (1, 2, 4)] == [1, 2, 4]
    for n in (2, 4):
        for name in out[1]:
            if name not in ("n", "summary_mean"):
                assert out[n][name] == out[1][name], (n, name)
        # chunks of trials are merged in float64 (Chan et al.), per device on several devices
        np.testing.assert_allclose(out[n]["summary_mean"], out[1]["summary_mean"], rtol=1e-6)
