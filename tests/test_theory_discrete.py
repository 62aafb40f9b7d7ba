"""Exact references of the discrete chain against independent computations.

Every reference in ``collapse_theory.theory.discrete`` (sparse propagation, fundamental-matrix
solves, the marginal decomposition of the time to one category) is compared with a separate
dense or brute-force computation: dense matrix powers, an explicit inverse, and for ``K = 3`` the
full multinomial chain on all compositions of ``M``.  These are deterministic float64
computations, so tolerances are rounding-level.
"""

import itertools

import numpy as np
import pytest
import scipy.stats as st

from collapse_theory.theory import discrete as td


def dense_transition(m_from, m_to=None, a=1.0, b=0.0):
    m_to = m_from if m_to is None else m_to
    x = np.arange(m_from + 1)
    return st.binom.pmf(np.arange(m_to + 1)[None, :], m_to, a * x[:, None] / m_from + b)


def test_transition_matrix_is_the_binomial_kernel():
    m = 30
    mat = td.transition_matrix(m)
    np.testing.assert_allclose(mat.toarray(), dense_transition(m), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.asarray(mat.sum(axis=1)).ravel(), 1.0, rtol=0, atol=1e-13)
    assert mat[0, 0] == 1.0 and mat[m, m] == 1.0  # 0 and M absorb


@pytest.mark.parametrize("p", [0.3, 0.123])  # on and off the grid x/M
def test_count_law_matches_dense_matrix_power(p):
    m, n = 12, 6
    law1 = st.binom.pmf(np.arange(m + 1), m, p)
    expected = law1 @ np.linalg.matrix_power(dense_transition(m), n - 1)
    np.testing.assert_allclose(td.count_law(p, m, n), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(td.count_law([p, 0.5], m, n)[0], expected, rtol=1e-12, atol=1e-15)


def test_count_law_with_a_schedule_and_smoothing():
    sched = [5, 9, 4, 11]
    k, alpha, eps = 3, 0.5, 0.1
    law = st.binom.pmf(np.arange(6), 5, 0.2)
    for g in range(1, 4):
        a, b = td.smoothing(sched[g - 1], k, alpha, eps)
        law = law @ dense_transition(sched[g - 1], sched[g], a, b)
    got = td.count_law(0.2, sched, 4, categories=k, pseudocount=alpha, mix=eps)
    np.testing.assert_allclose(got, law, rtol=1e-12, atol=1e-15)
    plain = td.count_law(0.2, sched, 4)
    assert plain.shape == (12,) and not np.allclose(plain, got)
    with pytest.raises(ValueError, match="categories"):
        td.count_law(0.2, sched, 4, mix=0.1)


def test_fixation_probability_is_p0():
    p = np.array([0.0, 0.02, 0.1, 0.37, 0.5, 0.9, 1.0])
    for m in (5, 40, 300):
        np.testing.assert_allclose(td.fixation_probability(p, m), p, rtol=1e-10, atol=1e-12)
    path = td.fixation_probability(0.3, 20, 2000)
    assert path[0] == 0.0 and np.all(np.diff(path) >= -1e-15)
    assert abs(path[-1] - 0.3) < 1e-10  # P(X_n = M) increases to p0


def test_extinction_and_support():
    m, g = 20, 400
    lost = td.extinction_probability([0.0, 0.05, 0.3], m, g)
    assert lost.shape == (g + 1, 3)
    np.testing.assert_array_equal(lost[0], [1.0, 0.0, 0.0])
    assert np.all(np.diff(lost, axis=0) >= -1e-15)  # absorbing
    np.testing.assert_allclose(lost[-1], [1.0, 0.95, 0.7], atol=1e-10)  # loss prob = 1 − p0
    np.testing.assert_allclose(lost[1], (1 - np.array([0.0, 0.05, 0.3])) ** m, rtol=1e-12)
    probs = np.array([0.6, 0.25, 0.1, 0.05])
    sup = td.expected_support(probs, m, g)
    assert sup[0] == 4 and abs(sup[1] - td.one_step_expected_support(probs, m)) < 1e-12
    assert abs(sup[-1] - 1.0) < 1e-6  # fixation: one category left


def test_absorption_time_against_an_explicit_fundamental_matrix():
    m = 25
    q = dense_transition(m)[1:m, 1:m]
    big_n = np.linalg.inv(np.eye(m - 1) - q)
    t = big_n @ np.ones(m - 1)
    var = (2 * big_n - np.eye(m - 1)) @ t - t**2
    x = np.arange(1, m)
    np.testing.assert_allclose(td.absorption_time_mean(x / m, m), t, rtol=1e-10)
    np.testing.assert_allclose(td.absorption_time_variance(x / m, m), var, rtol=1e-9)
    assert td.absorption_time_mean(0.0, m) == 0.0 and td.absorption_time_mean(1.0, m) == 0.0
    # Off the grid: T = 1 + t(X_1).
    p = 0.2345
    law1 = st.binom.pmf(np.arange(m + 1), m, p)
    t_full = np.concatenate([[0.0], t, [0.0]])
    assert abs(td.absorption_time_mean(p, m) - (1 + law1 @ t_full)) < 1e-9
    pmf = td.absorption_time_pmf(p, m, 5000)
    n = np.arange(5001)
    assert abs(pmf.sum() - 1) < 1e-12
    np.testing.assert_allclose(n @ pmf, td.absorption_time_mean(p, m), rtol=1e-10)


def _compositions(m, k):
    return [c for c in itertools.product(range(m + 1), repeat=k) if sum(c) == m]


def test_time_to_one_category_against_the_full_multinomial_chain():
    """K = 3, M = 8: solve the 45-state multinomial chain directly."""
    m, probs = 8, np.array([0.5, 0.3, 0.2])
    states = _compositions(m, 3)
    trans = np.array([[st.multinomial.pmf(t, m, np.array(s) / m) for t in states] for s in states])
    transient = [i for i, s in enumerate(states) if sum(v > 0 for v in s) > 1]
    q = trans[np.ix_(transient, transient)]
    t = np.linalg.solve(np.eye(len(transient)) - q, np.ones(len(transient)))
    t_full = np.zeros(len(states))
    t_full[transient] = t
    first = np.array([st.multinomial.pmf(s, m, probs) for s in states])
    exact = 1 + first @ t_full
    assert abs(td.fixation_time_mean(probs, m) - exact) < 1e-9 * exact
    # and the law: P(T_fix ≤ n) by powering the full chain
    cdf, law = [], first.copy()
    fixed = np.array([max(s) == m for s in states])
    for _ in range(30):
        cdf.append(law[fixed].sum())
        law = law @ trans
    np.testing.assert_allclose(np.cumsum(td.fixation_time_pmf(probs, m, 30))[1:], cdf,
                               rtol=1e-10, atol=1e-14)


def test_diffusion_approximations_are_compared_not_hidden():
    probs = np.array([0.5, 0.3, 0.2])
    errs = []
    for m in (50, 100, 200, 400):
        cmp = td.compare_diffusion(probs, m)
        np.testing.assert_allclose(cmp.kimura, td.kimura_absorption_time(probs, m))
        assert cmp.littler == pytest.approx(td.littler_fixation_time(probs, m))
        errs.append(cmp.littler_relative_error)
        assert np.all(cmp.kimura_relative_error > 0)  # the diffusion time is too long
    errs = np.array(errs)
    assert np.all(errs > 0)
    # The error is O(1/M): doubling M halves it (within 20 %).
    ratio = errs[1:] / errs[:-1]
    assert np.all((ratio > 0.4) & (ratio < 0.6)), ratio
    # K = 2: Littler's time is Kimura's.
    assert td.littler_fixation_time([0.3, 0.7], 90) == pytest.approx(td.kimura_absorption_time(0.3, 90))


def test_moments_closed_forms_and_smoothing():
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    m, g = 10, 30
    mom = td.moments(probs, m, g)
    np.testing.assert_allclose(mom.mean, np.broadcast_to(probs, (g + 1, 4)), rtol=1e-13)
    np.testing.assert_allclose(mom.gini_simpson, td.expected_gini_simpson(probs, m, g), rtol=1e-12)
    np.testing.assert_allclose(td.expected_gini_simpson(probs, m, g),
                               (1 - np.sum(probs**2)) * (1 - 1 / m) ** np.arange(g + 1), rtol=1e-12)
    np.testing.assert_allclose(mom.variance, td.prob_variance(probs, m, g), rtol=1e-10, atol=1e-15)
    sm = td.moments(probs, m, 400, pseudocount=1.0, mix=0.2)
    np.testing.assert_allclose(sm.mean[-1], 0.25, rtol=1e-10)  # stationary mean 1/K
    # stationary E Σq² solves S = a²[(1 − 1/M)S + 1/M] + 2ab + K b²
    a, b = td.smoothing(m, 4, 1.0, 0.2)
    s = (a * a / m + 2 * a * b + 4 * b * b) / (1 - a * a * (1 - 1 / m))
    assert abs(sm.gini_simpson[-1] - (1 - s)) < 1e-10


def test_one_step_facts():
    q, m = 0.013, 200
    assert abs(td.no_sample_probability(q, m) - td.count_law(q, m, 1)[0]) < 1e-14
    assert td.no_sample_probability(1.0, m) == 0.0
    probs = np.array([0.9, 0.09, 0.009, 0.001])
    assert abs(td.one_step_expected_support(probs, m)
               - np.sum(1 - td.count_law(probs, m, 1)[:, 0])) < 1e-12


def test_scales_to_m_in_the_thousands():
    m = 1000
    t = td.absorption_time_mean(0.5, m)
    assert 0 < td.kimura_absorption_time(0.5, m) / t - 1 < 0.005
    assert abs(td.fixation_probability(0.5, m) - 0.5) < 1e-9


@pytest.mark.parametrize("call, match", [
    (lambda: td.count_law(1.2, 10, 3), "p must lie in"),
    (lambda: td.count_law(0.2, 0, 3), "sample_size must be >= 1"),
    (lambda: td.count_law(0.2, 10, 0), "generations must be >= 1"),
    (lambda: td.extinction_probability(0.2, 10, -1), "generations must be >= 0"),
    (lambda: td.expected_support([0.5, 0.4], 10, 3), "probs must sum to 1, got sum 0.9"),
    (lambda: td.expected_support([], 10, 3), "probs must be a non-empty"),
    (lambda: td.moments([0.5, 0.5], 10, 3, mix=1.5), "mix must be <= 1"),
    (lambda: td.absorption_time_mean(float("nan"), 10), "p must lie in"),
])
def test_bad_arguments_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
