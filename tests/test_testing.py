"""collapse_theory.testing: calibration, power, negative controls and argument checks.

Calibration: each assertion is run on 1000 independent *null* cases (the claim is true) at
``α = 0.05``.  Its false-fail count is Binomial(1000, ≤ α); the suite asserts it stays below
the binomial quantile at ``1 − 10⁻⁴`` (a wrong calibration fails; a right one fails this check
with probability ≤ 10⁻⁴).  Tests with an exact or asymptotically exact null law (z on normal
data, KS, χ²) must also fail *at least* the lower ``10⁻⁴`` quantile: a test that never fails is
as mis-calibrated as one that fails too often; the DKWM tests are conservative by construction
and are checked from above only.

Power: with ``trials_needed(δ, α, β)`` samples, a ``δ``-wrong claim is caught in at least the
lower ``10⁻⁴`` binomial quantile of ``(1 − β)`` over 300 cases.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

import collapse_theory as ct
from collapse_theory import discrete, gaussian
from collapse_theory import testing as T

CASES, ALPHA, BETA = 1000, 0.05, 0.2
POWER_CASES = 300
TAIL = 1e-4  # rate at which each binomial count check below fails by chance

FAMILY = gaussian.family(1)
P0 = gaussian.Params(jnp.zeros(1), jnp.zeros(1), jnp.eye(1))


def mean0(p):
    return p.mean[0]


def log_sigma(p):
    return p.log_diag[0]


def zeros(g):
    return np.zeros(g.shape)


def _failures(run, cases=CASES) -> int:
    """How many of ``cases`` calls ``run(i)`` raise StatisticalAssertionError."""
    n = 0
    for i in range(cases):
        try:
            run(i)
        except T.StatisticalAssertionError:
            n += 1
    return n


def _within_null(fails: int, exact: bool):
    hi = stats.binom.isf(TAIL, CASES, ALPHA)
    assert fails <= hi, f"{fails}/{CASES} false fails at nominal {ALPHA}: above {hi:g}"
    if exact:
        lo = stats.binom.ppf(TAIL, CASES, ALPHA)
        assert fails >= lo, f"{fails}/{CASES} false fails at nominal {ALPHA}: below {lo:g}"


def _rng(i):
    return np.random.default_rng([20261202, i])


NULL_CASES = {
    "assert_mean z": (lambda i: T.assert_mean(_rng(i).normal(1.0, 2.0, 40), 1.0,
                                              false_fail_rate=ALPHA), True),
    "assert_mean z, 3 components": (
        lambda i: T.assert_mean(_rng(i).normal([0, 1, 2], 1.0, (60, 3)), [0, 1, 2],
                                false_fail_rate=ALPHA), True),
    "assert_mean DKWM": (lambda i: T.assert_mean(_rng(i).beta(2, 5, 80), 2 / 7, bounds=(0, 1),
                                                 false_fail_rate=ALPHA), False),
    "assert_law cdf": (lambda i: T.assert_law(_rng(i).gamma(2.0, size=100),
                                              cdf=stats.gamma(2.0).cdf,
                                              false_fail_rate=ALPHA), True),
    "assert_law cdf with atoms": (
        lambda i: T.assert_law(np.maximum(_rng(i).normal(size=100), 0.0),  # atom 1/2 at 0
                               cdf=lambda v: np.where(v < 0, 0.0, stats.norm.cdf(v)),
                               false_fail_rate=ALPHA), False),
    "assert_law pmf": (lambda i: T.assert_law(_rng(i).poisson(4.0, 300),
                                              pmf=stats.poisson(4.0).pmf,
                                              false_fail_rate=ALPHA), True),
    "assert_same_law KS": (lambda i: T.assert_same_law(_rng(i).normal(size=70),
                                                       _rng(i + CASES).normal(size=90),
                                                       false_fail_rate=ALPHA), True),
    "assert_same_law chi-square": (
        lambda i: T.assert_same_law(_rng(i).binomial(12, 0.3, 200),
                                    _rng(i + CASES).binomial(12, 0.3, 150),
                                    false_fail_rate=ALPHA), True),
}


@pytest.mark.parametrize("name", NULL_CASES)
def test_calibration(name):
    run, exact = NULL_CASES[name]
    fails = _failures(run)
    print(f"{name}: {fails}/{CASES} false fails at {ALPHA}")
    _within_null(fails, exact)


def test_calibration_of_assert_closed_form():
    """1000 null chains: the fitted mean of the unbiased Gaussian chain is a martingale, so
    ``E μ_g = 0`` at every recorded generation (Bonferroni over 3 of them)."""
    fails = _failures(lambda i: T.assert_closed_form(
        FAMILY, P0, mean0, zeros, key=jax.random.key(i), sample_size=5, generations=3,
        trials=20, record=[1, 2, 3], false_fail_rate=ALPHA))
    print(f"assert_closed_form: {fails}/{CASES} false fails at {ALPHA}")
    # Bonferroni over correlated generations is conservative: check from above only.
    _within_null(fails, exact=False)


def _caught(run) -> int:
    caught = _failures(run, POWER_CASES)
    lo = stats.binom.ppf(TAIL, POWER_CASES, 1 - BETA)
    assert caught >= lo, f"caught {caught}/{POWER_CASES}, below {lo:g} at power {1 - BETA}"
    return caught


def test_power_of_the_mean_tests_at_trials_needed():
    delta, sigma = 0.3, 2.0
    n = T.trials_needed(delta, false_fail_rate=ALPHA, false_pass_rate=BETA, scale=sigma)
    assert T.detectable_discrepancy(n, false_fail_rate=ALPHA, false_pass_rate=BETA,
                                    scale=sigma) <= delta
    _caught(lambda i: T.assert_mean(_rng(i).normal(delta, sigma, n), 0.0,
                                    false_fail_rate=ALPHA))
    # DKWM: Bernoulli(1/2 + δ) against 1/2 on [0, 1]
    n = T.trials_needed(0.1, false_fail_rate=ALPHA, false_pass_rate=BETA, bounds=(0, 1))
    _caught(lambda i: T.assert_mean(_rng(i).binomial(1, 0.6, n), 0.5, bounds=(0, 1),
                                    false_fail_rate=ALPHA))


def test_power_of_the_law_test_at_trials_needed():
    """trials_needed's law design is one-sample (DKWM); two-sample power is not claimed."""
    shift = 0.25  # N(shift, 1) vs N(0, 1): sup |F − G| = 2Φ(shift/2) − 1
    delta = 2 * stats.norm.cdf(shift / 2) - 1
    n = T.trials_needed(delta, false_fail_rate=ALPHA, false_pass_rate=BETA)
    _caught(lambda i: T.assert_law(_rng(i).normal(shift, 1, n), cdf=stats.norm.cdf,
                                   false_fail_rate=ALPHA))


def test_negative_controls_are_rejected():
    rng = _rng(0)
    x = rng.normal(size=2000)
    with pytest.raises(T.StatisticalAssertionError, match="z \\(mean\\)"):
        T.assert_mean(x, 0.1, false_fail_rate=0.01)
    with pytest.raises(T.StatisticalAssertionError, match="index \\(2,\\)"):
        T.assert_mean(rng.normal([0, 0, 0.2], 1, (2000, 3)), 0.0, false_fail_rate=0.01)
    with pytest.raises(T.StatisticalAssertionError, match="DKWM"):
        T.assert_mean(rng.uniform(size=2000), 0.55, bounds=(0, 1), false_fail_rate=0.01)
    with pytest.raises(T.StatisticalAssertionError, match="KS one-sample"):
        T.assert_law(x, cdf=stats.norm(scale=1.1).cdf, false_fail_rate=0.01)
    with pytest.raises(T.StatisticalAssertionError, match="chi-square"):
        T.assert_law(rng.poisson(4.0, 2000), pmf=stats.poisson(4.3).pmf, false_fail_rate=0.01)
    with pytest.raises(T.StatisticalAssertionError, match="p = 0"):  # a draw off the support
        T.assert_law(np.array([0, 1, 3]), pmf=[0.5, 0.5], false_fail_rate=0.01)
    with pytest.raises(T.StatisticalAssertionError, match="KS two-sample"):
        T.assert_same_law(x, rng.normal(0.15, 1, 2000), false_fail_rate=0.01)
    with pytest.raises(T.StatisticalAssertionError, match="homogeneity"):
        T.assert_same_law(rng.binomial(12, 0.3, 2000), rng.binomial(12, 0.33, 2000),
                          false_fail_rate=0.01)


def test_ks_is_exact_at_atoms_and_matches_scipy_without():
    x = _rng(1).normal(size=300)
    ours = T.assert_law(x, cdf=stats.norm.cdf, false_fail_rate=1e-9)
    ref = stats.kstest(x, stats.norm.cdf)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    # a point mass: every draw equals the atom, D = 0 (scipy's kstest would give D = 1)
    delta = T.assert_law(np.zeros(50), cdf=lambda v: (v >= 0).astype(float),
                         false_fail_rate=0.01)
    assert delta.statistic == 0.0


def test_dkwm_mean_interval_is_exact_at_its_edge():
    """The DKWM p-value is ``2 exp(−2Nε*²)`` at the ε* where the interval reaches ``expected``:
    moving ε* of mass from the bottom to ``high`` gives back ``expected`` exactly."""
    x = np.sort(_rng(2).uniform(size=100))
    out = T.assert_mean(x, 0.62, bounds=(0, 1), false_fail_rate=1e-12)
    eps = out.statistic
    k = int(np.floor(eps * 100))
    moved = x.mean() - x[:k].sum() / 100 - (eps - k / 100) * x[k] + eps * 1.0
    assert moved == pytest.approx(0.62, abs=1e-12)
    assert out.p_value == pytest.approx(2 * np.exp(-2 * 100 * eps ** 2))


def test_martingale_closed_form_and_collapse_rate_of_a_family():
    common = dict(key=jax.random.key(3), sample_size=10, generations=20, trials=1000)
    T.assert_martingale(FAMILY, P0, mean0, false_fail_rate=0.01, **common)
    # negative control: a fit whose mean is biased by +0.05 is not a martingale
    biased = ct.Family(FAMILY.sample, lambda x, w: FAMILY.fit(x, w)._replace(
        mean=FAMILY.fit(x, w).mean + 0.05), name="biased mean")
    with pytest.raises(T.StatisticalAssertionError, match="generation"):
        T.assert_martingale(biased, P0, mean0, false_fail_rate=0.01, **common)
    # E log σ_g = g/2 (ψ((M−1)/2) + log(2/(M−1))) (Shumailov et al. 2024, §3.2; theory/gaussian)
    m = 10
    drift = 0.5 * (special.digamma((m - 1) / 2) + np.log(2 / (m - 1)))
    T.assert_closed_form(FAMILY, P0, log_sigma, lambda g: drift * g, false_fail_rate=0.01,
                         **common)
    with pytest.raises(T.StatisticalAssertionError):  # control: the MLE's drift (M−1 → M)
        T.assert_closed_form(FAMILY, P0, log_sigma,
                             lambda g: (drift + 0.5 * np.log((m - 1) / m)) * g,
                             false_fail_rate=0.01, **common)
    with T.spending() as spent:
        rate = T.collapse_rate(FAMILY, P0, log_sigma, false_fail_rate=0.01, **common)
    assert spent == [0.01]
    rate.assert_within(drift, drift)  # fails with probability 0.01
    rate.assert_within(high=0.0)
    with pytest.raises(T.StatisticalAssertionError, match="lies outside"):  # control: the MLE's
        rate.assert_within(drift + 0.5 * np.log((m - 1) / m), drift + 0.5 * np.log((m - 1) / m))
    stable = T.collapse_rate(FAMILY, P0, log_sigma, false_fail_rate=0.01, policy="fresh:0.5",
                             **common)
    assert stable.drift > rate.high  # fresh data slows the drift toward 0


def test_absorbing_and_its_control():
    fam = discrete.family(5)
    p0 = discrete.initial(np.full(5, 0.2))

    def support(p):  # categories seen by the fit (a fit with smoothing may revive one)
        return jnp.sum(p.counts > 0)

    T.assert_absorbing(fam, p0, support, key=jax.random.key(4), sample_size=6, generations=12,
                       trials=32)
    smoothed = discrete.family(5, pseudocount=0.5)  # add-α: an extinct category comes back
    with pytest.raises(AssertionError, match="size grew"):
        T.assert_absorbing(smoothed, p0, support, key=jax.random.key(4), sample_size=6,
                           generations=12, trials=32)


def test_reproducible_and_its_control():
    T.assert_reproducible(FAMILY, P0, key=jax.random.key(5), sample_size=4, generations=6,
                          trials=(3, 11), chunk_sizes=(None, 4), policy="accumulate")
    draws = iter(range(10 ** 9))

    def impure(key, params, n):  # ignores its key: a fresh host draw on every call
        noise = jax.pure_callback(lambda: np.float32(next(draws)),
                                  jax.ShapeDtypeStruct((), jnp.float32),
                                  vmap_method="expand_dims")
        return FAMILY.sample(key, params, n) + noise

    with pytest.raises(AssertionError, match="assert_reproducible failed"):
        T.assert_reproducible(ct.Family(impure, FAMILY.fit, name="impure"), P0,
                              key=jax.random.key(5), sample_size=4, generations=2,
                              trials=(3, 11), chunk_sizes=(None,))


@pytest.mark.parametrize("call, error, match", [
    (lambda: T.assert_mean([], 0.0, false_fail_rate=0.01), ValueError, "samples"),
    (lambda: T.assert_mean([1.0, np.nan, 2.0], 0.0, false_fail_rate=0.01), ValueError, "NaN"),
    (lambda: T.assert_mean([1.0, 2.0], 0.0, false_fail_rate=1.0), ValueError, "false_fail_rate"),
    (lambda: T.assert_mean([1.0, 2.0], 0.0, false_fail_rate=0), ValueError, "false_fail_rate"),
    (lambda: T.assert_mean([1.0, 2.0], 0.0, false_fail_rate="0.1"), TypeError,
     "false_fail_rate"),
    (lambda: T.assert_mean([1.0, 2.0], 0.0, false_fail_rate=0.1, bounds=(1, 0)), ValueError,
     "bounds"),
    (lambda: T.assert_mean(np.ones((5, 2)), [0, 1, 2], false_fail_rate=0.1), ValueError,
     "expected"),
    (lambda: T.assert_law([0.1], false_fail_rate=0.1), TypeError, "cdf= .* pmf="),
    (lambda: T.assert_law([0.5], pmf=[1.0], false_fail_rate=0.1), ValueError, "integers"),
    (lambda: T.assert_law([1.0], cdf=3, false_fail_rate=0.1), TypeError, "cdf"),
    (lambda: T.assert_same_law([], [1.0], false_fail_rate=0.1), ValueError, "a must"),
    (lambda: T.trials_needed(0.0, false_fail_rate=0.1), ValueError, "discrepancy"),
    (lambda: T.trials_needed(0.1, false_fail_rate=0.1, false_pass_rate=2), ValueError,
     "false_pass_rate"),
    (lambda: T.trials_needed(0.1, false_fail_rate=0.1, scale=1, bounds=(0, 1)), TypeError,
     "not both"),
    (lambda: T.detectable_discrepancy(1, false_fail_rate=0.1), ValueError, "trials"),
    (lambda: T.assert_closed_form(ct.Family(3, FAMILY.fit), P0, mean0, zeros,
                                  key=jax.random.key(0), sample_size=4, generations=2,
                                  trials=8, false_fail_rate=0.1), TypeError, "family.sample"),
    (lambda: T.assert_closed_form(FAMILY, P0, mean0, 0.0, key=jax.random.key(0),
                                  sample_size=4, generations=2, trials=8,
                                  false_fail_rate=0.1), TypeError, "expected_fn"),
    (lambda: T.assert_closed_form(FAMILY, P0, mean0, zeros, key=jax.random.key(0),
                                  sample_size=4, generations=2, trials=8,
                                  false_fail_rate=-0.1), ValueError, "false_fail_rate"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_closed_form_refuses_a_statistic_that_is_not_finite():
    """A naive fit (the standard deviation itself, not its log) underflows to σ = 0 at M = 2
    after ~150 generations in float32: log σ = −inf, and the assertion says so instead of
    testing a mean of −inf."""
    def fit(x, w):
        mu = jnp.sum(w * x) / jnp.sum(w)
        return {"mu": mu, "log_sigma": jnp.log(jnp.sqrt(jnp.sum(w * (x - mu) ** 2)))}

    def sample(key, p, n):
        return p["mu"] + jnp.exp(p["log_sigma"]) * jax.random.normal(key, (n,))

    naive = ct.Family(sample, fit, name="naive")
    p0 = {"mu": jnp.float32(0), "log_sigma": jnp.float32(0)}
    with pytest.raises(ValueError, match="not finite at generation"):
        T.assert_closed_form(naive, p0, lambda p: p["log_sigma"], zeros, key=jax.random.key(0),
                             sample_size=2, generations=400, trials=16, record=[400],
                             false_fail_rate=0.1)


PLUGIN_TEST = """
import numpy as np
from collapse_theory.testing import assert_mean

def test_true(ct_seed, ct_false_fail_rate):
    x = np.random.default_rng(ct_seed).normal(size=30)
    assert_mean(x, 0.0, false_fail_rate=ct_false_fail_rate)

def test_overspends(ct_false_fail_rate):
    assert_mean(np.arange(5.0), 2.0, false_fail_rate=2 * ct_false_fail_rate)

def test_biased(ct_seed):
    x = np.random.default_rng(ct_seed).normal(0.5, size=30)
    assert_mean(x, 0.0, false_fail_rate=0.05)
"""


def test_plugin_budget_and_vary_seed(pytester):
    pytester.makepyfile(test_demo=PLUGIN_TEST)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ct-budget", "0.5",
                                        "-k", "true or overspends")
    # two tests ask for the budget: each gets 0.25; test_overspends spends 0.5
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*spent a false-fail rate of 0.5*share 0.25*"])
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--ct-vary-seed", "40",
                                        "--ct-seed", "7", "--ct-budget", "0.2",
                                        "-k", "true or biased")
    res.stdout.fnmatch_lines([
        "collapse_theory: --ct-vary-seed 40 from --ct-seed 7*",
        "*observed false-fail rates*",
        "test_demo.py::test_biased: * statistical failures *vs nominal <= 0.05: ABOVE nominal",
        "test_demo.py::test_true: * statistical failures *vs nominal <= 0.2: consistent",
    ])


def test_plugin_loads_without_jax_or_the_package():
    """Every pytest session in an environment with collapse_theory loads the plugin: it must
    import neither JAX nor the package until a test uses them."""
    code = ("import sys, collapse_theory_pytest; "
            "print(sorted(m for m in ('jax', 'collapse_theory', 'numpy', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
