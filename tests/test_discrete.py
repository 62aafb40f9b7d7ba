"""The discrete resampling chain against its exact references.

Statistical checks use fixed seeds and decide at a stated rate:

* chi-square goodness of fit (bins pooled left to right until each expects ≥ 5, where the χ²
  approximation holds) passes when ``p > ALPHA = 1e-6``; for a correct simulator the p-value is
  uniform, so a check fails by chance with probability 1e-6;
* z-tests of moments pass when ``|z| < 5`` (two-sided chance ≈ 6e-7), ``z`` built from the Monte
  Carlo standard error of the same draws (sample sd/√n; for a variance, √((m₄ − s⁴)/n)).

Each check also runs against a deliberately wrong reference on the same draws (the law one
generation later, a 10 % larger p0, diploid instead of haploid drift, M + 2, ...) and asserts that
one is rejected, so the check has the power to see an error of that size.

Three chains are shared by the tests (module fixtures, same shapes): the plain chain on ``P0``,
the smoothed chain, and the plain chain with a sample-size schedule on a *relabelled* ``P0``.
"""

import textwrap

import jax
import numpy as np
import pytest

from collapse_theory import discrete
from collapse_theory.testing.statistics import chi_square, pool_bins, z_variance
from collapse_theory.testing.statistics import z_mean as z_mean_test
from collapse_theory.theory import discrete as td

ALPHA = 1e-6
Z_MAX = 5.0
P0 = np.array([0.4, 0.3, 0.15, 0.1, 0.05, 0.0])
M = 16
G = 60
TRIALS = 8192
# The schedule run relabels P0: its category j has probability P0[PERM[j]].
PERM = np.array([5, 3, 0, 4, 2, 1])
SCHEDULE = 8 + (np.arange(G) % 7) * 3  # M_g cycles 8, 11, ..., 26
ALPHA_SMOOTH, EPS_SMOOTH = 0.5, 0.1


# ------------------------------------------------------------------------------------------------
# statistics helpers


def chi2_gof(values, probs):
    """p-value of integer ``values`` (in ``0..len(probs)−1``) against the law ``probs``
    (:func:`collapse_theory.testing.statistics.chi_square`: bins pooled until each expects ≥ 5)."""
    values = np.asarray(values).ravel()
    assert values.min() >= 0 and values.max() < len(probs)
    assert pool_bins(values.size * np.asarray(probs)).max() >= 1, "degenerate law: no test"
    return chi_square(np.bincount(values, minlength=len(probs)), probs).p_value


def noncentrality(true, wrong, n=TRIALS):
    """Expected excess of :func:`chi2_gof`'s statistic when testing draws of ``true`` against
    ``wrong``: ``n Σ (true − wrong)²/wrong`` over its bins.

    A negative control is used only where this is ≥ ``POWER_LAMBDA`` = 150: the statistic is then
    ≈ χ²_k(λ) with mean k + 150 and sd ≈ √(2k + 600) ≈ 25 for k ≲ 20 bins, ≥ 4 sd above the
    χ²_20 critical value at ALPHA (≈ 60), so the control is rejected with near certainty.
    """
    ids = pool_bins(n * np.asarray(wrong))
    t, w = np.bincount(ids, weights=true), np.bincount(ids, weights=wrong)
    return n * np.sum((t - w) ** 2 / w)


POWER_LAMBDA = 150.0
POWER_Z = 10.0  # a z-test control is used where its expected |z| is ≥ 10 (rejected at |z| > 5)


def z_mean(x, mu):
    return z_mean_test(x, mu).statistic


def z_var(x, sigma2):
    return z_variance(x, sigma2).statistic


def with_tail(pmf):
    """Append the mass beyond the last generation (censored chains)."""
    return np.append(pmf, max(0.0, 1.0 - pmf.sum()))


# ------------------------------------------------------------------------------------------------
# shared chains


@pytest.fixture(scope="module")
def plain():
    return discrete.simulate(jax.random.key(11), P0, sample_size=M, generations=G, trials=TRIALS)


@pytest.fixture(scope="module")
def smoothed():
    return discrete.simulate(jax.random.key(12), P0, sample_size=M, generations=G, trials=TRIALS,
                             pseudocount=ALPHA_SMOOTH, mix=EPS_SMOOTH)


@pytest.fixture(scope="module")
def scheduled():
    return discrete.simulate(jax.random.key(13), P0[PERM], sample_size=SCHEDULE, generations=G,
                             trials=TRIALS)


# ------------------------------------------------------------------------------------------------
# contract and invariants


def test_contract_of_the_plain_chain(plain):
    counts = np.asarray(plain.counts)
    assert plain.generation.tolist() == list(range(1, G + 1))
    assert counts.shape == (TRIALS, G, P0.size) and np.issubdtype(counts.dtype, np.integer)
    assert np.all(counts >= 0) and np.all(counts.sum(-1) == M)
    assert np.all(counts[..., 5] == 0)  # p0 = 0 is never sampled
    np.testing.assert_array_equal(plain.probs0, P0)
    # extinction/fixation equal the first zero count / single category, and both absorb
    zero = counts == 0
    first = np.where(zero.any(1), zero.argmax(1) + 1, -1)
    first[:, 5] = 0
    np.testing.assert_array_equal(np.asarray(plain.extinction), first)
    gens = np.arange(1, G + 1)[None, :, None]
    assert np.all(zero | (gens < np.where(first > 0, first, G + 1)[:, None, :]))
    single = (counts > 0).sum(-1) == 1
    fix = np.asarray(plain.fixation)
    np.testing.assert_array_equal(fix, np.where(single.any(1), single.argmax(1) + 1, -1))
    assert np.all(single | (np.arange(1, G + 1)[None] < np.where(fix > 0, fix, G + 1)[:, None]))


def test_record_schedule_and_largest_float32_size():
    """Recording maps to fits 1..G; M_g = 2^24 is exact in float32; M = 1 works."""
    sched = [2**24, 3, 1, 7]
    res = discrete.simulate(jax.random.key(0), [0.5, 0.25, 0.0, 0.25], sample_size=sched,
                            generations=4, trials=16, record=[3, 1])
    assert res.generation.tolist() == [1, 3]
    counts = np.asarray(res.counts)
    assert counts.shape == (16, 2, 4) and counts.dtype == np.int32
    np.testing.assert_array_equal(counts.sum(-1), np.broadcast_to([2**24, 1], (16, 2)))
    assert np.all(counts[:, :, 2] == 0)
    # the fit-4 extinction/fixation is tracked although fit 4 is not recorded
    assert np.all(np.asarray(res.fixation) <= 3) and np.all(np.asarray(res.fixation) >= 2)
    np.testing.assert_array_equal(res.sample_size, sched)


def test_no_generations_and_delta():
    res = discrete.simulate(jax.random.key(0), [0.0, 1.0], sample_size=5, generations=0, trials=3)
    assert res.generation.shape == (0,) and res.counts.shape == (3, 0, 2)
    np.testing.assert_array_equal(res.extinction, [[0, -1]] * 3)
    np.testing.assert_array_equal(res.fixation, [0, 0, 0])


def test_x64_sample_size_of_a_billion():
    m, p0 = 10**9, np.array([0.5, 0.3, 0.2])
    with jax.enable_x64(True):
        res = discrete.simulate(jax.random.key(5), p0, sample_size=m, generations=3, trials=512)
        counts = np.asarray(res.counts)
    assert counts.dtype == np.int64 and np.all(counts.sum(-1) == m)
    p3 = counts[:, -1, 1] / m
    var3 = td.prob_variance(p0, m, 3)[3, 1]
    # Mean: SE = sd/√512 ≈ 1.6e-6; a shift of 1e-4 is ~60 SE.
    assert abs(z_mean(p3, 0.3)) < Z_MAX
    assert abs(z_mean(p3, 0.3 + 1e-4)) > Z_MAX
    # Variance: relative SE ≈ √(2/512) ≈ 6 %; diploid drift (half the variance) is ~8 SE away.
    assert abs(z_var(p3, var3)) < Z_MAX
    assert abs(z_var(p3, td.prob_variance(p0, 2 * m, 3)[3, 1])) > Z_MAX


def test_large_sample_size_needs_x64():
    with pytest.raises(ValueError, match="sample_size must be <= 2\\*\\*24.*x64"):
        discrete.simulate(jax.random.key(0), [0.5, 0.5], sample_size=2**24 + 1, generations=1,
                          trials=1)


@pytest.mark.parametrize("probs, kwargs, match", [
    ([0.5, -0.1, 0.6], {}, "probs must be >= 0"),
    ([0.5, float("nan")], {}, "probs must be finite"),
    ([0.0, 0.0], {"normalize": True}, "probs must have a positive sum"),
    ([], {}, "probs must be a non-empty 1-D"),
    ([[0.5, 0.5]], {}, "probs must be a non-empty 1-D"),
    ([0.5, 0.3], {}, "probs must sum to 1, got sum 0.8"),
    ([0.5, 0.5], {"sample_size": 0}, "sample_size must be >= 1"),
    ([0.5, 0.5], {"generations": -1}, "generations must be >= 0"),
    ([0.5, 0.5], {"trials": 0}, "trials must be >= 1"),
    ([0.5, 0.5], {"record": [0, 1]}, r"record generations must lie in \[1, generations=3\]"),
    ([0.5, 0.5], {"pseudocount": -1.0}, "pseudocount must be >= 0"),
    ([0.5, 0.5], {"mix": 1.5}, "mix must be <= 1"),
])
def test_bad_input_names_the_parameter(probs, kwargs, match):
    args = dict(sample_size=4, generations=3, trials=2) | kwargs
    with pytest.raises(ValueError, match=match):
        discrete.simulate(jax.random.key(0), probs, **args)


def test_normalize_on_request():
    assert discrete.check_probs([2.0, 6.0], normalize=True).tolist() == [0.25, 0.75]
    np.testing.assert_allclose(discrete.zipf(3, 1.0), np.array([1, 1 / 2, 1 / 3]) / (11 / 6))


# ------------------------------------------------------------------------------------------------
# laws and moments against the exact references


# (category, generation, relative error of p0 in the control): larger errors where the law is
# nearly absorbed and a 10 % error is too small to see with 8192 chains (see `noncentrality`).
@pytest.mark.parametrize("i, n, factor", [(0, 1, 1.1), (1, 3, 1.1), (2, 8, 1.2), (3, 20, 1.5),
                                          (4, 4, 1.3), (0, 45, 1.25)])
def test_count_law_is_the_binomial_chain(plain, i, n, factor):
    x = np.asarray(plain.counts[:, n - 1, i])
    law = td.count_law(P0[i], M, n)
    assert chi2_gof(x, law) > ALPHA
    # negative controls: p0 off by `factor`; the law one generation later (where it has power)
    wrong = td.count_law(P0[i] * factor, M, n)
    assert noncentrality(law, wrong) >= POWER_LAMBDA
    assert chi2_gof(x, wrong) < ALPHA
    later = td.count_law(P0[i], M, n + 1)
    if noncentrality(law, later) >= POWER_LAMBDA:
        assert chi2_gof(x, later) < ALPHA


@pytest.mark.parametrize("n", [1, 10, 40])
def test_moments_of_the_fitted_probabilities(plain, n):
    q = np.asarray(plain.counts[:, n - 1], np.float64) / M
    var = td.prob_variance(P0, M, n)[n]
    diploid = td.prob_variance(P0, 2 * M, n)[n]  # the factor-2 pitfall
    grid = np.arange(M + 1) / M
    controls = 0
    for i in range(5):
        # E p_n = p0; SE ≤ √(0.24/8192) ≈ 0.0054, so p0 + 0.05 is ≥ 9 SE away.
        assert abs(z_mean(q[:, i], P0[i])) < Z_MAX
        assert abs(z_mean(q[:, i], P0[i] + 0.05)) > Z_MAX
        assert abs(z_var(q[:, i], var[i])) < Z_MAX
        # expected z of the diploid control from the exact law's fourth central moment
        law = td.count_law(P0[i], M, n)
        m4 = law @ (grid - P0[i]) ** 4
        if abs(var[i] - diploid[i]) / np.sqrt((m4 - var[i] ** 2) / TRIALS) >= POWER_Z:
            assert abs(z_var(q[:, i], diploid[i])) > Z_MAX
            controls += 1
    assert controls >= 3
    h = np.asarray(discrete.gini_simpson(plain)[:, n - 1], np.float64)
    assert abs(z_mean(h, td.expected_gini_simpson(P0, M, n)[n])) < Z_MAX
    assert abs(z_mean(h, td.expected_gini_simpson(P0, 2 * M, n)[n])) > Z_MAX


@pytest.mark.parametrize("i", [0, 2, 4])
def test_absorption_time_law(plain, i):
    t = np.asarray(discrete.absorption_generation(plain)[:, i])
    t = np.where(t >= 0, t, G + 1)  # not absorbed by G: the tail bin
    law = with_tail(td.absorption_time_pmf(P0[i], M, G))
    assert chi2_gof(t, law) > ALPHA
    # negative control: M + 4 (25 %; M + 2 lacks power for the small categories)
    wrong = with_tail(td.absorption_time_pmf(P0[i], M + 4, G))
    assert noncentrality(law, wrong) >= POWER_LAMBDA
    assert chi2_gof(t, wrong) < ALPHA


def test_time_to_one_category(plain):
    fix = np.asarray(plain.fixation)
    t = np.where(fix >= 0, fix, G + 1)
    law = with_tail(td.fixation_time_pmf(P0, M, G))
    assert chi2_gof(t, law) > ALPHA
    wrong = with_tail(td.fixation_time_pmf(P0, M + 2, G))
    assert noncentrality(law, wrong) >= POWER_LAMBDA
    assert chi2_gof(t, wrong) < ALPHA


def test_fixation_probability_is_p0(plain):
    fix = np.asarray(plain.fixation)
    alive = np.asarray(plain.extinction) < 0
    winner = np.where(fix >= 0, alive.argmax(1), P0.size)  # P0.size: not fixed by G
    fixed_by_g = np.array([td.fixation_probability(p, M, G)[G] for p in P0])
    assert chi2_gof(winner, np.append(fixed_by_g, 1 - fixed_by_g.sum())) > ALPHA
    # The exact limit is p0; at G = 60 almost all chains have fixed.
    assert np.all(fixed_by_g <= P0) and fixed_by_g.sum() > 0.9
    law = np.append(fixed_by_g, 1 - fixed_by_g.sum())
    swapped = law[[1, 0, 2, 3, 4, 5, 6]]  # categories 0 and 1 exchanged
    assert noncentrality(law, swapped) >= POWER_LAMBDA
    assert chi2_gof(winner, swapped) < ALPHA


@pytest.mark.parametrize("n", [1, 5, 20])
def test_expected_number_of_surviving_categories(plain, n):
    support = np.asarray(discrete.support_size(plain)[:, n - 1], np.float64)
    assert abs(z_mean(support, td.expected_support(P0, M, n)[n])) < Z_MAX
    assert abs(z_mean(support, td.expected_support(P0, M + 2, n)[n])) > Z_MAX


# ------------------------------------------------------------------------------------------------
# summaries


def test_summaries_match_numpy(plain):
    c = np.asarray(plain.counts[:64], np.float64)
    q = c / M
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.sum(np.where(q > 0, q * np.log(q), 0.0), -1)
        kl = np.sum(np.where(P0 > 0, P0 * np.log(P0 / q), 0.0), -1)
    sub = plain._replace(counts=plain.counts[:64])
    np.testing.assert_array_equal(sub.probs, q.astype(np.float32))  # c/M exactly
    np.testing.assert_array_equal(discrete.support_size(sub), (c > 0).sum(-1))
    np.testing.assert_allclose(discrete.gini_simpson(sub), 1 - np.sum(q**2, -1), atol=1e-6)
    np.testing.assert_allclose(discrete.entropy(sub), ent, atol=1e-5)
    np.testing.assert_allclose(discrete.total_variation(sub), 0.5 * np.abs(q - P0).sum(-1),
                               atol=1e-6)
    got_kl = np.asarray(discrete.kl_divergence(sub))
    lost = ((c == 0) & (P0 > 0)).any(-1)
    assert lost.any() and (~lost).any()
    assert np.all(np.isposinf(got_kl[lost])) and not np.any(np.isnan(got_kl))
    np.testing.assert_allclose(got_kl[~lost], kl[~lost], atol=1e-5)
    tail = np.where(P0 < 0.12, P0, 0.0)
    np.testing.assert_allclose(discrete.tail_mass_lost(sub, 0.12),
                               np.sum(np.where(c == 0, tail, 0.0), -1), atol=1e-7)
    summary = discrete.summarize(sub)
    assert summary.support.shape == (G,)
    assert np.all(np.diff(summary.kl_infinite) >= 0) and np.all(np.diff(summary.fixed) >= 0)
    np.testing.assert_allclose(summary.kl_infinite, lost.mean(0))


# ------------------------------------------------------------------------------------------------
# smoothed fits and schedules


def test_smoothed_chain_has_no_absorbing_state(smoothed):
    counts = np.asarray(smoothed.counts)
    assert np.all(counts.sum(-1) == M)
    assert np.all(np.asarray(discrete.support_size(smoothed)) == P0.size)  # q > 0 everywhere
    assert counts[:, -1, 5].mean() > 0.5  # the category with p0 = 0 comes back (mutation)
    kl = np.asarray(discrete.kl_divergence(smoothed))
    assert np.all(np.isfinite(kl))


@pytest.mark.parametrize("i, n", [(0, 2), (5, 3), (2, 60)])
def test_smoothed_count_law(smoothed, i, n):
    x = np.asarray(smoothed.counts[:, n - 1, i])
    law = td.count_law(P0[i], M, n, categories=P0.size, pseudocount=ALPHA_SMOOTH, mix=EPS_SMOOTH)
    assert chi2_gof(x, law) > ALPHA
    # negative controls: the pseudocount dropped; the mixing weight doubled
    for kwargs in (dict(pseudocount=0.0, mix=EPS_SMOOTH),
                   dict(pseudocount=ALPHA_SMOOTH, mix=2 * EPS_SMOOTH)):
        wrong = td.count_law(P0[i], M, n, categories=P0.size, **kwargs)
        assert noncentrality(law, wrong) >= POWER_LAMBDA
        assert chi2_gof(x, wrong) < ALPHA


@pytest.mark.parametrize("n", [5, 60])
def test_smoothed_gini_simpson(smoothed, n):
    h = np.asarray(discrete.gini_simpson(smoothed)[:, n - 1], np.float64)
    mom = td.moments(P0, M, n, pseudocount=ALPHA_SMOOTH, mix=EPS_SMOOTH)
    assert abs(z_mean(h, mom.gini_simpson[n])) < Z_MAX
    assert abs(z_mean(h, td.expected_gini_simpson(P0, M, n)[n])) > Z_MAX  # the plain chain


def test_schedule(scheduled):
    counts = np.asarray(scheduled.counts)
    np.testing.assert_array_equal(counts.sum(-1), np.broadcast_to(SCHEDULE, (TRIALS, G)))
    for n in (7, 30):
        h = np.asarray(discrete.gini_simpson(scheduled)[:, n - 1], np.float64)
        assert abs(z_mean(h, td.expected_gini_simpson(P0, SCHEDULE[:n], n)[n])) < Z_MAX
        # negative control: the constant M with the same mean 1/M
        m_eff = int(round(1 / np.mean(1 / SCHEDULE[:n])))
        assert abs(z_mean(h, td.expected_gini_simpson(P0, m_eff + 2, n)[n])) > Z_MAX
    j = 2  # P0[PERM[2]] = 0.4
    n = 7
    x = counts[:, n - 1, j]
    law = td.count_law(P0[PERM[j]], SCHEDULE[:n], n)
    assert chi2_gof(x, law) > ALPHA
    # negative controls: the last M_7 = 26 for every fit; M_1..M_6 in reverse order
    for sched in ([SCHEDULE[n - 1]] * n, list(SCHEDULE[: n - 1][::-1]) + [SCHEDULE[n - 1]]):
        wrong = td.count_law(P0[PERM[j]], sched, n)
        assert noncentrality(law, wrong) >= POWER_LAMBDA
        assert chi2_gof(x, wrong) < ALPHA


# ------------------------------------------------------------------------------------------------
# relabelling


def test_relabelling_permutes_the_result_in_law(scheduled):
    """Claim: the law of ``counts[..., PERM]`` under ``P0`` is that of ``counts`` under ``P0[PERM]``.

    Conditional binomials draw categories in order, so a relabelled ``p0`` gives a different draw
    with the same law; we test that law.  Each relabelled category's count follows the exact
    law of its own ``p0`` (the marginal chain knows no labels), and symmetric functionals (the
    time to one category, the number of survivors) do not depend on the labels.
    """
    for j in range(P0.size):
        x = np.asarray(scheduled.counts[:, 4, j])
        if P0[PERM[j]] == 0:
            assert np.all(x == 0)
            continue
        assert chi2_gof(x, td.count_law(P0[PERM[j]], SCHEDULE[:5], 5)) > ALPHA
        unrelabelled = td.count_law(P0[j], SCHEDULE[:5], 5)  # another law where P0[j] differs
        if P0[j] > 0 and noncentrality(td.count_law(P0[PERM[j]], SCHEDULE[:5], 5),
                                       unrelabelled) >= POWER_LAMBDA:
            assert chi2_gof(x, unrelabelled) < ALPHA
    # the time to one category is a symmetric functional of p0: same law under relabelling
    pmf = td.fixation_time_pmf(P0[PERM], SCHEDULE, G)
    np.testing.assert_allclose(pmf, td.fixation_time_pmf(P0, SCHEDULE, G), rtol=1e-12, atol=1e-15)
    fix = np.asarray(scheduled.fixation)
    t = np.where(fix >= 0, fix, G + 1)
    assert chi2_gof(t, with_tail(pmf)) > ALPHA
    wrong = with_tail(td.fixation_time_pmf(P0, SCHEDULE + 3, G))
    assert noncentrality(with_tail(pmf), wrong) >= POWER_LAMBDA
    assert chi2_gof(t, wrong) < ALPHA


def test_counts_identical_for_any_trials_chunks_and_devices(on_host_devices):
    """Trial i's counts depend only on (key, i): the multinomial pools all trials' stragglers
    (BTRS rejections, long inversions) into shared buffers, yet each lane's draw must not change
    with the number of trials, the chunk size or the device count (1 or 4 host devices).
    M = 1000 on a K = 40 Zipf law has conditional means on both sides of the inversion/BTRS
    threshold."""
    code = textwrap.dedent("""
        import json, jax, numpy as np
        from collapse_theory import discrete
        p0 = discrete.zipf(40, 1.0)
        run = lambda **kw: np.asarray(discrete.simulate(
            jax.random.key(3), p0, sample_size=1000, generations=4, **kw).counts).tolist()
        print(json.dumps({"n": jax.device_count(), "a": run(trials=20),
                          "b": run(trials=7, chunk_size=3)}))
    """)
    out = {n: on_host_devices(code, n) for n in (1, 4)}
    assert out[1]["n"] == 1 and out[4]["n"] == 4
    assert out[1]["a"] == out[4]["a"] and out[1]["b"] == out[4]["b"]
    assert out[1]["a"][:7] == out[1]["b"]
    assert np.all(np.sum(out[1]["a"], axis=-1) == 1000)


def test_streaming_summary_matches_records_of_the_same_chains():
    """simulate_summary sees the same chains as simulate (odd trials, chunks of 16): its
    moments, extremes and sample agree with the statistics of the recorded counts."""
    p0 = discrete.zipf(20, 1.1)
    kw = dict(sample_size=30, generations=40, trials=41)
    res = discrete.simulate(jax.random.key(5), p0, record=[1, 7, 40], **kw)
    summ = discrete.simulate_summary(jax.random.key(5), p0, record=[0, 1, 7, 40], keep=16,
                                     statistics=discrete.SUMMARY_STATISTICS, chunk_size=16, **kw)
    assert summ.count == 41 and summ.generation.tolist() == [0, 1, 7, 40]
    h0 = 1.0 - np.sum(p0 ** 2)
    for name, values, at0 in (
            ("support", discrete.support_size(res), 20.0),
            ("gini_simpson", discrete.gini_simpson(res), h0),
            ("entropy", discrete.entropy(res), -np.sum(p0 * np.log(p0))),
            ("total_variation", discrete.total_variation(res), 0.0),
            ("lost_mass", discrete.tail_mass_lost(res, 1.0), 0.0)):
        v = np.asarray(values, np.float64)
        # float32 statistics, merged in float64: agreement to float32 rounding.
        np.testing.assert_allclose(summ.mean[name], [at0, *v.mean(0)], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(summ.minimum[name][1:], v.min(0), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(summ.sample[name][1:], v[:16].T, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(summ.variance[name][1:], v.var(0, ddof=1), rtol=1e-4,
                                   atol=1e-7)
    with pytest.raises(ValueError, match="statistics must be one of"):
        discrete.simulate_summary(jax.random.key(5), p0, statistics=("kl",), **kw)


def test_streaming_summary_memory_does_not_grow_with_generations(peak_rss):
    """Peak memory of a 10 000-generation summary run (K = 100) is that of a 100-generation one:
    records of its 100 trials would hold 100 x 10 001 x 100 int32 counts = 400 MB."""
    code = ("import jax; from collapse_theory import discrete; "
            "discrete.simulate_summary(jax.random.key(0), discrete.zipf(100, 1.1), "
            "sample_size=1000, generations={g}, trials=100)")
    peak = [peak_rss(code.format(g=g)) for g in (100, 10_000)]
    assert peak[1] - peak[0] < 50_000, peak  # ru_maxrss is in KiB on Linux: within 50 MB
