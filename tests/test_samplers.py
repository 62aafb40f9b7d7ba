"""Exact samplers against scipy: goodness of fit at a stated rate, with negative controls.

Every distributional check is a chi-square (discrete) or Kolmogorov–Smirnov (continuous) test
with a fixed seed.  A check passes when the p-value is above ``ALPHA = 1e-3``: for a correct
sampler the p-value is uniform, so each check fails by chance with probability 1e-3 (the
chi-square bins keep every expected count ≥ 5, where the χ² approximation holds).  Each check
also runs against a deliberately wrong law (a 2 % perturbation of the smallest probability,
shape·1.02, n + 1, ...) on the same draws and asserts that one is rejected (p < ALPHA), so the
test has the power to see an error of that size.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st


from collapse_theory import samplers

ALPHA = 1e-3
N = 200_000


def chi2_pvalue(x, dist, bins=40):
    """Chi-square goodness-of-fit p-value of integer draws ``x`` against a scipy discrete law.

    Bin edges are the law's integer quantiles (so each bin has probability ≈ 1/bins); a tail
    bin with expected count < 5 is merged into its neighbour.
    """
    edges = np.unique(dist.ppf(np.arange(1, bins) / bins))
    cdf = dist.cdf(edges)
    prob = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    obs = np.bincount(np.searchsorted(edges, x, side="left"), minlength=prob.size).astype(float)
    n = x.size
    while prob.size > 1 and prob[-1] * n < 5:
        prob[-2] += prob[-1]
        obs[-2] += obs[-1]
        prob, obs = prob[:-1], obs[:-1]
    while prob.size > 1 and prob[0] * n < 5:
        prob[1] += prob[0]
        obs[1] += obs[0]
        prob, obs = prob[1:], obs[1:]
    assert prob.size >= 2, "degenerate law: nothing to test"
    stat = np.sum((obs - n * prob) ** 2 / (n * prob))
    return st.chi2.sf(stat, prob.size - 1)


def perturbed_p(p):
    """``p`` with its smaller side ``min(p, 1 − p)`` inflated by 2 %."""
    return p * 1.02 if p <= 0.5 else 1.0 - (1.0 - p) * 1.02


_binomial = jax.jit(lambda key, n, p: samplers.binomial(key, n, p, (N,)))


# (n, p): inversion (n·min(p,1−p) < 10) and BTRS (≥ 10) on both sides of p = ½ and of the
# threshold, and n = 2**24, the largest count float32 holds exactly.
BINOMIAL_CASES = [(1, 0.3), (5, 0.3), (30, 0.3), (50, 0.7), (100, 0.0999), (100, 0.1001),
                  (1000, 0.5), (1000, 0.99), (2 ** 24, 0.5), (2 ** 24, 1e-6), (2 ** 24, 0.75)]


@pytest.mark.parametrize("n,p", BINOMIAL_CASES)
def test_binomial_matches_scipy(n, p):
    x = np.asarray(_binomial(jax.random.key(n % 1000 + int(p * 1e4)), jnp.int32(n), jnp.float32(p)))
    assert x.dtype == np.int32 and x.min() >= 0 and x.max() <= n
    p32 = float(np.float32(p))  # the law actually requested
    assert chi2_pvalue(x, st.binom(n, p32)) > ALPHA
    assert chi2_pvalue(x, st.binom(n, perturbed_p(p32))) < ALPHA  # negative control


@pytest.mark.parametrize("n,p", [(10 ** 9, 0.3), (10 ** 9, 5e-9), (2 ** 40, 2.0 ** -20),
                                 (3 * 10 ** 12, 0.999)])
def test_binomial_x64_huge_n(n, p):
    with jax.enable_x64(True):
        x = samplers.binomial(jax.random.key(3), jnp.int64(n), p, (N,))
        assert x.dtype == jnp.int64
        x = np.asarray(x)
    assert x.min() >= 0 and x.max() <= n
    assert chi2_pvalue(x, st.binom(n, p)) > ALPHA
    assert chi2_pvalue(x, st.binom(n, perturbed_p(p))) < ALPHA  # negative control


def test_binomial_edges_are_exact():
    key = jax.random.key(0)
    n = jnp.array([0, 0, 7, 7, 2 ** 24, 2 ** 24, 3])
    p = jnp.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.5])
    x = np.asarray(samplers.binomial(key, n, p, (1000, 7)))
    np.testing.assert_array_equal(x[:, :6], np.broadcast_to([0, 0, 0, 7, 0, 2 ** 24], (1000, 6)))
    assert set(np.unique(x[:, 6])) == {0, 1, 2, 3}


def test_binomial_traced_n_under_jit_and_vmap():
    keys = jax.random.split(jax.random.key(1), 4)
    n = jnp.array([0, 3, 40, 2 ** 20], dtype=jnp.int32)
    x = jax.jit(jax.vmap(lambda k, m: samplers.binomial(k, m, 0.25)))(keys, n)
    assert x.shape == (4,) and x.dtype == jnp.int32
    assert x[0] == 0 and 0 <= x[1] <= 3 and 0 <= x[2] <= 40
    # 2**20 · 0.25 = 262144 with sd 443: a 10-sd window.
    assert abs(int(x[3]) - 262144) < 4430


def test_binomial_is_deterministic_for_a_key():
    a = samplers.binomial(jax.random.key(5), 100, 0.3, (50,))
    b = samplers.binomial(jax.random.key(5), 100, 0.3, (50,))
    c = samplers.binomial(jax.random.key(6), 100, 0.3, (50,))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_binomial_validation():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        samplers.binomial(key, 5, 1.5)
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        samplers.binomial(key, -1, 0.5)
    with pytest.raises(ValueError, match="n must be <= 16777216"):
        samplers.binomial(key, 2 ** 24 + 1, 0.5)
    with pytest.raises(ValueError, match="n must hold integers"):
        samplers.binomial(key, 2.5, 0.5)
    with pytest.raises(TypeError, match="dtype must be an integer dtype"):
        samplers.binomial(key, 3, 0.5, dtype=jnp.float32)
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        samplers.binomial(3, 3, 0.5)
    with pytest.raises(ValueError, match=r"shape=\(2,\) is not compatible"):
        samplers.binomial(key, jnp.array([1, 2, 3]), 0.5, (2,))


# ------------------------------------------------------------------------------------------
# Multinomial


def test_multinomial_counts_are_integers_summing_to_n():
    key = jax.random.key(2)
    probs = jnp.array([0.0, 0.5, 0.0, 0.3, 0.2, 0.0])  # zero categories, incl. the last
    x = jax.jit(jax.vmap(lambda k: samplers.multinomial(k, 1000, probs)))(
        jax.random.split(key, 2000))
    assert x.dtype == jnp.int32 and x.shape == (2000, 6)
    np.testing.assert_array_equal(x.sum(axis=1), 1000)
    np.testing.assert_array_equal(x[:, [0, 2, 5]], 0)  # extinct stays extinct
    big = samplers.multinomial(key, 2 ** 24, jnp.full((3, 7), 1.0 / 7))
    np.testing.assert_array_equal(big.sum(axis=-1), 2 ** 24)
    zero = samplers.multinomial(key, jnp.array([0, 5]), jnp.ones((2, 4)))
    np.testing.assert_array_equal(zero.sum(axis=-1), [0, 5])
    with jax.enable_x64(True):
        huge = samplers.multinomial(key, 10 ** 12, jnp.array([0.1, 0.0, 0.6, 0.3]))
        assert huge.dtype == jnp.int64 and int(huge.sum()) == 10 ** 12 and int(huge[1]) == 0


def test_multinomial_joint_law_matches_scipy():
    """All 15 outcomes of Multinomial(4, (.2, .5, .3)) against their exact probabilities."""
    probs = np.array([0.2, 0.5, 0.3])
    x = np.asarray(jax.jit(jax.vmap(lambda k: samplers.multinomial(k, 4, probs)))(
        jax.random.split(jax.random.key(4), N)))
    outcomes = [(a, b, 4 - a - b) for a in range(5) for b in range(5 - a)]
    index = {o: i for i, o in enumerate(outcomes)}
    obs = np.bincount([index[tuple(r)] for r in x.tolist()], minlength=len(outcomes))

    def pvalue(pr):
        exp = N * st.multinomial(4, pr).pmf(np.array(outcomes))
        return st.chi2.sf(np.sum((obs - exp) ** 2 / exp), len(outcomes) - 1)

    assert pvalue(probs) > ALPHA
    wrong = np.array([0.2 * 1.05, 0.5 - 0.01, 0.3])  # negative control: p_0 5 % larger
    assert pvalue(wrong) < ALPHA


def test_multinomial_marginals_zipf():
    """K = 100 Zipf, n = 1000 (the discrete chain's setting): marginals X_k ~ Bin(n, p_k)."""
    probs = 1.0 / np.arange(1, 101)
    probs = probs / probs.sum()
    x = np.asarray(jax.jit(jax.vmap(lambda k: samplers.multinomial(k, 1000, probs)))(
        jax.random.split(jax.random.key(9), N)))
    for k in (0, 5, 40, 99):
        p = float(np.float32(probs[k]))
        assert chi2_pvalue(x[:, k], st.binom(1000, p)) > ALPHA
        assert chi2_pvalue(x[:, k], st.binom(1000, perturbed_p(p))) < ALPHA  # negative control


def test_multinomial_validation():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="probs must be finite and >= 0"):
        samplers.multinomial(key, 5, jnp.array([0.5, -0.1]))
    with pytest.raises(ValueError, match="positive sum"):
        samplers.multinomial(key, 5, jnp.zeros(3))
    with pytest.raises(ValueError, match="at least one axis"):
        samplers.multinomial(key, 5, 0.5)
    with pytest.raises(ValueError, match="does not broadcast"):
        samplers.multinomial(key, jnp.array([1, 2, 3]), jnp.ones((2, 4)))
