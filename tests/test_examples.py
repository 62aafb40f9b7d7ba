"""The user-family examples (``examples/*.py``) run, and their families obey the protocol's laws.

Statistical tests use a fixed seed; tolerances are 5 Monte Carlo standard errors (written next
to each assertion) and each has a negative control that must be rejected.
"""

import functools
import importlib.util
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import collapse_theory as ct
from collapse_theory.theory import counting

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


robust = _load("robust_gaussian")
poisson = _load("poisson")
bernoulli = _load("bernoulli")
dirichlet = _load("dirichlet")

KEY = jax.random.key(0)
P0 = {"mu": 0.0, "log_sigma": 0.0}


def _z(x):
    """z of the mean of ``x`` against 0: SE = sd/sqrt(N)."""
    x = np.asarray(x, np.float64)
    return x.mean() / (x.std(ddof=1) / np.sqrt(x.size))


# --- robust Gaussian (median / MAD) -----------------------------------------------------------


def test_robust_main_runs_under_every_policy():
    out = robust.main(trials=5, sample_size=6, generations=2, verbose=False)
    assert set(out) == set(robust.POLICIES)
    assert all(np.isfinite(mean) for mean, _ in out.values())


def test_robust_fit_matches_numpy_and_ignores_zero_weights():
    x = np.random.default_rng(0).normal(3.0, 2.0, 12).astype(np.float32)
    for keep in (12, 11):  # even and odd counts; zero weights = absent points
        w = (np.arange(12) < keep).astype(np.float32)
        got = jax.jit(robust.fit)(jnp.asarray(x), jnp.asarray(w))
        med = np.median(x[:keep])
        np.testing.assert_allclose(got["mu"], med, rtol=1e-6)
        np.testing.assert_allclose(np.exp(got["log_sigma"]),
                                   1.4826 * np.median(np.abs(x[:keep] - med)), rtol=1e-5)
    singular = robust.fit(jnp.ones(5), jnp.ones(5))
    assert singular["log_sigma"] == -np.inf  # a singular fit is −inf, never NaN


def test_robust_first_fit_of_real_data_matches_numpy():
    """``real=`` data of M points, batch of M drawn without replacement: fit 1 sees them all."""
    x = np.random.default_rng(1).normal(0.0, 1.0, 11).astype(np.float32)
    res = ct.simulate(KEY, robust.ROBUST, real=x, sample_size=11, generations=1, trials=1)
    med = np.median(x)
    np.testing.assert_allclose(res.params["mu"][0, 1], med, rtol=1e-6)
    np.testing.assert_allclose(np.exp(res.params["log_sigma"][0, 1]),
                               1.4826 * np.median(np.abs(x - med)), rtol=1e-5)


def test_robust_is_bit_identical_across_trials_and_chunks():
    kw = dict(sample_size=5, generations=4, policy="accumulate-subsample")
    a = ct.simulate(KEY, robust.ROBUST, P0, trials=7, **kw)
    b = ct.simulate(KEY, robust.ROBUST, P0, trials=13, chunk_size=3, **kw)
    for name in ("mu", "log_sigma"):
        np.testing.assert_array_equal(np.asarray(a.params[name]),
                                      np.asarray(b.params[name])[:7])


def test_robust_collapses_under_replace_and_not_under_fresh():
    """Replace is location–scale equivariant: log σ_n is a random walk with i.i.d. increments,
    so ``E log σ_2n = 2 E log σ_n`` (``Y = log σ_2n − 2 log σ_n`` has mean 0).  Under fresh:0.2
    that fails (control: E log σ_n settles, it does not drift)."""
    n, trials = 8, 400
    log_s = {}
    for policy in ("replace", "fresh:0.2"):
        res = ct.simulate(KEY, robust.ROBUST, P0, sample_size=10, generations=2 * n,
                          trials=trials, policy=policy, record=[n, 2 * n])
        log_s[policy] = np.asarray(res.params["log_sigma"], np.float64)
    rep, fresh = log_s["replace"], log_s["fresh:0.2"]
    assert np.all(np.isfinite(rep)) and np.all(np.isfinite(fresh))
    assert abs(_z(rep[:, 1] - 2 * rep[:, 0])) < 5  # 5 SE, SE = sd(Y)/sqrt(trials)
    assert _z(rep[:, 1]) < -5  # collapse: E log σ_2n < 0 by more than 5 SE
    assert _z(fresh[:, 1] - 2 * fresh[:, 0]) > 5  # control: the random-walk law is rejected
    # Bounded: from n to 2n fresh drifts by less than half of replace's n δ (independent runs,
    # 5 SE, SE² = SE_fresh² + SE_replace²/4).
    d_fresh, d_rep = fresh[:, 1] - fresh[:, 0], rep[:, 1] - rep[:, 0]
    se = np.sqrt(d_fresh.var(ddof=1) / trials + d_rep.var(ddof=1) / (4 * trials))
    assert d_fresh.mean() - d_rep.mean() / 2 > 5 * se


# --- Poisson and Bernoulli (exact shortcuts) --------------------------------------------------

M, N, TRIALS = 10, 5, 2000


@functools.lru_cache(maxsize=None)  # shared by the law, moment and control tests
def _final(family, rate0, policy="replace", seed=0):
    res = ct.simulate(jax.random.key(seed), family, rate0, sample_size=M, generations=N,
                      trials=TRIALS, policy=policy, record=[N])
    return np.asarray(res.params, np.float64)[:, -1]


def test_counting_mains_run():
    for module in (poisson, bernoulli):
        out = module.main(trials=50, generations=3, verbose=False)
        assert out and all(np.isfinite(v) for v in jax.tree.leaves(out))


@pytest.mark.parametrize("policy", ["replace", "accumulate"])
def test_poisson_stats_path_equals_points_path_in_law(policy):
    """Totals Σx = λ_n N_n from the stats path (one Poisson(nλ) per fit) vs the points path."""
    size = M if policy == "replace" else M * N
    stats_path = np.rint(_final(poisson.POISSON, 2.0, policy) * size)
    points = np.rint(_final(poisson.POISSON_POINTS, 2.0, policy, seed=1) * size)
    wrong = np.rint(_final(poisson.POISSON_POINTS, 2.6, policy, seed=1) * size)
    assert dirichlet.homogeneity(stats_path, points) > 1e-4
    assert dirichlet.homogeneity(stats_path, wrong) < 1e-4  # control: λ_0 = 2.6


def test_poisson_variance_z_test():
    lam = _final(poisson.POISSON, 2.0)
    sq = (lam - 2.0) ** 2
    se = sq.std(ddof=1) / np.sqrt(TRIALS)  # SE = sd/sqrt(N) of the squared deviation
    assert abs(sq.mean() - counting.poisson_variance(2.0, M, N)[N]) < 5 * se
    assert abs(sq.mean() - counting.poisson_variance(2.0, 2 * M, N)[N]) > 5 * se  # wrong M
    assert abs(lam.mean() - 2.0) < 5 * lam.std(ddof=1) / np.sqrt(TRIALS)  # martingale


def test_bernoulli_stats_path_equals_points_path_in_law_and_moments():
    p = _final(bernoulli.BERNOULLI, 0.3)
    points = _final(bernoulli.BERNOULLI_POINTS, 0.3, seed=1)
    wrong = _final(bernoulli.BERNOULLI_POINTS, 0.4, seed=1)
    assert dirichlet.homogeneity(np.rint(p * M), np.rint(points * M)) > 1e-4
    assert dirichlet.homogeneity(np.rint(p * M), np.rint(wrong * M)) < 1e-4  # control p_0 = 0.4
    h = p * (1 - p)
    se = h.std(ddof=1) / np.sqrt(TRIALS)  # SE = sd/sqrt(N)
    assert abs(h.mean() - counting.bernoulli_heterozygosity(0.3, M, N)[N]) < 5 * se
    assert abs(h.mean() - counting.bernoulli_heterozygosity(0.3, 2 * M, N)[N]) > 5 * se
    hits = np.isin(p, (0.0, 1.0))
    expected = counting.bernoulli_absorption(0.3, M, N)[N]
    assert abs(hits.mean() - expected) < 5 * np.sqrt(expected * (1 - expected) / TRIALS)


def test_poisson_is_bit_identical_across_trials_and_chunks():
    kw = dict(sample_size=M, generations=N, policy="accumulate")
    a = ct.simulate(KEY, poisson.POISSON, 2.0, trials=7, **kw)
    b = ct.simulate(KEY, poisson.POISSON, 2.0, trials=13, chunk_size=3, **kw)
    np.testing.assert_array_equal(np.asarray(a.params), np.asarray(b.params)[:7])


# --- Dirichlet posterior mean vs the built-in add-α smoothing -----------------------------------


def test_dirichlet_agrees_in_law_with_builtin_smoothing():
    out = dirichlet.main(trials=1000, generations=8, verbose=False)
    assert out["same alpha"] > 1e-4  # χ² two-sample test at level 1e-4
    assert out["control 2 alpha"] < 1e-4  # control: the built-in chain with 2α is rejected


# --- the tutorial's property tests (docs/testing.md) ---------------------------------------------


def test_shrinkage_property_tests_pass():
    """``examples/test_shrinkage.py``, the file docs/testing.md walks through, passes as a user
    runs it: its own pytest session, the plugin's default budget and seed (fixed: the same
    verdict every run)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n",
                           "0", str(EXAMPLES / "test_shrinkage.py")], cwd=EXAMPLES.parent,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "9 passed" in proc.stdout, proc.stdout[-2000:]
