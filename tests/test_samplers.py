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
from itertools import combinations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

from collapse_theory import engine, rng, samplers
from collapse_theory.testing.statistics import chi_square

ALPHA = 1e-3
N = 200_000


def chi2_pvalue(x, dist, bins=40):
    """Chi-square goodness-of-fit p-value of integer draws ``x`` against a scipy discrete law.

    Bin edges are the law's integer quantiles (so each bin has probability ≈ 1/bins); a tail
    bin with expected count < 5 is pooled with its neighbour
    (:func:`collapse_theory.testing.statistics.chi_square`).
    """
    edges = np.unique(dist.ppf(np.arange(1, bins) / bins))
    cdf = dist.cdf(edges)
    prob = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    obs = np.bincount(np.searchsorted(edges, x, side="left"), minlength=prob.size).astype(float)
    assert prob.size >= 2, "degenerate law: nothing to test"
    return chi_square(obs, prob).p_value


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
        x = _binomial_x64()(jax.random.key(3), jnp.int64(n), jnp.float64(p))
        assert x.dtype == jnp.int64
        x = np.asarray(x)
    assert x.min() >= 0 and x.max() <= n
    assert chi2_pvalue(x, st.binom(n, p)) > ALPHA
    assert chi2_pvalue(x, st.binom(n, perturbed_p(p))) < ALPHA  # negative control


_X64_CACHE = {}


def _binomial_x64():
    """One jitted sampler for all x64 cases (traced under jax_enable_x64)."""
    if "f" not in _X64_CACHE:
        _X64_CACHE["f"] = jax.jit(lambda key, n, p: samplers.binomial(key, n, p, (N,)))
    return _X64_CACHE["f"]


def test_binomial_edges_are_exact():
    key = jax.random.key(0)
    for n, p, expected in [(0, 0.3, 0), (7, 0.0, 0), (7, 1.0, 7), (2 ** 24, 0.0, 0),
                           (2 ** 24, 1.0, 2 ** 24), (0, 1.0, 0)]:
        np.testing.assert_array_equal(_binomial(key, jnp.int32(n), jnp.float32(p)), expected)


def test_binomial_is_deterministic_for_a_key():
    a = _binomial(jax.random.key(5), jnp.int32(100), jnp.float32(0.3))
    b = _binomial(jax.random.key(5), jnp.int32(100), jnp.float32(0.3))
    c = _binomial(jax.random.key(6), jnp.int32(100), jnp.float32(0.3))
    np.testing.assert_array_equal(a, b)
    assert np.mean(np.asarray(a) == np.asarray(c)) < 0.2  # P(equal) ≈ Σ f(k)² ≈ 0.087


def test_vmap_gives_each_member_what_it_gets_alone():
    """The compacted rounds pool all members' elements; each member's draws must not change.

    ``n = 40, p = ½`` uses BTRS (some candidates rejected) and ``a = 1`` is Marsaglia–Tsang's
    least efficient shape, so later rounds run in both.  Also: ``n`` traced per member,
    ``p`` broadcast against the requested shape.
    """
    keys = jax.random.split(jax.random.key(11), 4)
    n = jnp.array([0, 3, 40, 2 ** 20], dtype=jnp.int32)
    p = jnp.array([[0.5], [0.25]])

    def draw(k, m):
        return samplers.binomial(k, m, p, (2, 150)), samplers.log_gamma(k, 1.0, (300,))

    batched = jax.jit(jax.vmap(draw))(keys, n)
    alone = jax.jit(draw)
    for i, k in enumerate(keys):
        for b, a in zip(batched, alone(k, n[i])):
            np.testing.assert_array_equal(b[i], a)
    x = np.asarray(batched[0], np.int64)
    assert batched[0].dtype == jnp.int32 and x.shape == (4, 2, 150)
    assert np.all(x[0] == 0) and np.all(x[1] <= 3) and np.all(x[2] <= 40)
    # n = 2**20: mean 2**19 (p = ½) or 2**18 (p = ¼), sd ≤ 512: a 10-sd window.
    assert np.all(np.abs(x[3] - np.array([[2 ** 19], [2 ** 18]])) < 5120)


def test_a_member_draws_the_same_in_a_batch_of_any_size():
    """The rejection rounds' buffers are sized by the batch (a chain's: 304 trials per device
    for 301 trials on one device, 80 on four); a member's draws must not depend on it.  χ² with
    the Gaussian chain's degrees of freedom, one per member (Marsaglia–Tsang rejects some), over
    304 members at once and in batches of 80.

    Issue 14: buffers of ``L // 256`` lanes were one lane here, and XLA:CPU compiles small or
    odd sizes apart from its vector loop and rounds differently there (the control): 2 of
    29 184 χ² draws differed in their last bit, and the Gaussian chain with them on 4 devices.
    """
    opts = engine.compiler_options()
    chi = jax.jit(jax.vmap(lambda k, dof: samplers.log_chisquare(k, dof), (0, None)),
                  compiler_options=opts)
    keys = jax.random.split(jax.random.key(3), 320)
    for g in range(12):
        k = jax.vmap(jax.random.fold_in, (0, None))(keys, g)
        for dof in (6, 8, 11, 19):
            whole = np.asarray(chi(k[:304], jnp.float32(dof)))
            parts = np.concatenate([chi(k[i:i + 80], jnp.float32(dof)) for i in (0, 80, 160, 240)])
            np.testing.assert_array_equal(whole, parts[:304], err_msg=f"generation {g}, dof {dof}")
    # The control: float32 logs of a 3-element array against the same elements of a long one.
    x = np.random.default_rng(0).random(4095).astype(np.float32)
    log = jax.jit(jnp.log)
    short = np.concatenate([np.asarray(log(x[i:i + 3])) for i in range(0, 4095, 3)])
    if np.array_equal(short, np.asarray(log(x))):
        pytest.skip("this machine's XLA code rounds a 3-element log as a long one's")


def test_shared_parameters_give_the_per_element_draws(backend_compiles):
    """Scalar ``n, p`` (BTRS prepares its constants once, not per lane) draw exactly what the
    same values given per element draw, also where some of BTRS's candidates are rejected.
    Called eagerly, the sampler compiles once per shape: new values compile nothing."""
    key = jax.random.key(12)

    def both(n, p):
        shared = samplers.binomial(key, n, p, (4099,))
        each = samplers.binomial(key, jnp.full(4099, n), jnp.full(4099, p, jnp.float32))
        np.testing.assert_array_equal(shared, each)

    both(1000, 0.3)
    with backend_compiles() as count:
        for n, p in [(40, 0.5), (100, 0.9), (2 ** 20, 0.25)]:
            both(n, p)
    assert count[0] == 0


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


def test_multinomial_exact_counts_and_joint_law():
    """Integer counts summing to ``n`` exactly (up to ``2**24`` in float32), zero-probability
    categories (the last one included) always 0, and the joint law of
    ``Multinomial(4, (0, .2, 0, .5, .3, 0))`` on all 15 outcomes against scipy."""
    probs = jnp.array([0.0, 0.2, 0.0, 0.5, 0.3, 0.0])
    n = jnp.array([4] * N + [0, 1, 1000, 2 ** 24, 2 ** 24], dtype=jnp.int32)
    x = jax.jit(jax.vmap(lambda k, m: samplers.multinomial(k, m, probs)))(
        jax.random.split(jax.random.key(2), n.size), n)
    assert x.dtype == jnp.int32 and x.shape == (n.size, 6)
    np.testing.assert_array_equal(x.sum(axis=1), n)
    np.testing.assert_array_equal(x[:, [0, 2, 5]], 0)  # extinct stays extinct
    live = np.asarray(x[:N][:, [1, 3, 4]])
    outcomes = [(a, b, 4 - a - b) for a in range(5) for b in range(5 - a)]
    index = {o: i for i, o in enumerate(outcomes)}
    obs = np.bincount([index[tuple(r)] for r in live.tolist()], minlength=len(outcomes))

    def pvalue(pr):
        exp = N * st.multinomial(4, pr).pmf(np.array(outcomes))
        return st.chi2.sf(np.sum((obs - exp) ** 2 / exp), len(outcomes) - 1)

    assert pvalue([0.2, 0.5, 0.3]) > ALPHA
    assert pvalue([0.2 * 1.05, 0.5 - 0.01, 0.3]) < ALPHA  # negative control: p_1 5 % larger
    with jax.enable_x64(True):
        huge = jax.jit(lambda k: samplers.multinomial(k, 10 ** 12, jnp.array([0.1, 0.0, 0.6, 0.3])))(
            jax.random.key(2))
        assert huge.dtype == jnp.int64 and int(huge.sum()) == 10 ** 12 and int(huge[1]) == 0


def test_multinomial_marginals_zipf():
    """K = 100 Zipf, n = 1000 (the discrete chain's setting): marginals X_k ~ Bin(n, p_k).

    Conditional means: category 0 ≈ 193 and 5 ≈ 32 (BTRS, rejections and stragglers), 10 ≈ 17.5
    and 20 ≈ 9.2 (inversion, the former past its unrolled steps now and then), 40 and 99 < 5."""
    probs = 1.0 / np.arange(1, 101)
    probs = probs / probs.sum()
    x = np.asarray(jax.jit(jax.vmap(lambda k: samplers.multinomial(k, 1000, probs)))(
        jax.random.split(jax.random.key(9), N)))
    for k in (0, 5, 10, 20, 40, 99):
        p = float(np.float32(probs[k]))
        assert chi2_pvalue(x[:, k], st.binom(1000, p)) > ALPHA
        assert chi2_pvalue(x[:, k], st.binom(1000, perturbed_p(p))) < ALPHA  # negative control


def test_multinomial_walk_skips_the_last_live_category(backend_compiles):
    """A lane's last positive category takes the remainder with no draw, so a pool of lanes
    with one live category each runs no walk step; mixed with lanes that do walk, each row
    draws what it draws alone (its counters do not depend on the pool).  Called eagerly, the
    sampler compiles once for rows of one shape (not each of its loops at each call)."""
    eye = jnp.eye(5)[jnp.array([4, 0, 2, 2])]
    n = jnp.array([7, 0, 2 ** 24, 1], dtype=jnp.int32)
    one = jax.jit(jax.vmap(lambda k, m, p: samplers.multinomial(k, m, p)))
    keys = jax.random.split(jax.random.key(13), 4)
    np.testing.assert_array_equal(one(keys, n, eye), np.asarray(n)[:, None] * np.asarray(eye))
    probs = eye.at[1].set(jnp.array([0.1, 0.0, 0.3, 0.0, 0.6])).at[3, 3].set(0.5)
    n = jnp.array([7, 1000, 50, 9], dtype=jnp.int32)
    pooled = one(keys, n, probs)
    alone = [samplers.multinomial(keys[0], n[0], probs[0])]
    with backend_compiles() as count:
        alone += [samplers.multinomial(keys[i], n[i], probs[i]) for i in range(1, 4)]
    assert count[0] == 0
    for i in range(4):
        np.testing.assert_array_equal(pooled[i], alone[i])
    np.testing.assert_array_equal(pooled.sum(axis=1), n)
    assert pooled[0, 4] == 7 and pooled[2, 2] == 50 and pooled[1, 1] == pooled[1, 3] == 0


def test_multinomial_walk_gathers_the_lanes_still_walking():
    """Lane ``i`` of a pool of 64 has ``2 + i`` live categories, so one lane stops walking per
    step: the pool walks in place, then in a buffer of 8 lanes (``_WALK``), and every row
    still draws what it draws alone."""
    k_cat, lanes = 70, 64
    probs = (jnp.arange(k_cat)[None, :] < 2 + jnp.arange(lanes)[:, None]).astype(jnp.float32)
    n = jnp.full(lanes, 1000, jnp.int32).at[5].set(0).at[40].set(3)
    keys = jax.random.split(jax.random.key(14), lanes)
    draw = jax.jit(lambda k, m, p: samplers.multinomial(k, m, p))
    pooled = np.asarray(jax.jit(jax.vmap(draw))(keys, n, probs))
    for i in range(lanes):
        np.testing.assert_array_equal(pooled[i], draw(keys[i], n[i], probs[i]))
    np.testing.assert_array_equal(pooled.sum(axis=1), n)
    np.testing.assert_array_equal(pooled[np.asarray(probs) == 0], 0)
    assert (pooled[63, :65] > 0).sum() > 50  # the longest walk spread its 1000 draws


def test_multinomial_gathers_the_few_walking_rows_with_their_table():
    """A pool of 160 lanes, 12 of them with categories alive to walk (at most L/16 = 16) and
    the rest with one: only the 12 are gathered and walked, on the table of their own rows.
    They draw what they draw in a pool where every lane walks (which walks in place on the
    whole table); the others take ``n`` at their category; with none walking, every lane
    does."""
    k_cat, lanes = 5, 160
    rng = np.random.default_rng(18)
    walking = rng.dirichlet(np.full(k_cat, 0.5), size=lanes)
    walking[::2, 1] = 0.0  # some with categories dead inside the walk
    single = np.eye(k_cat)[rng.integers(k_cat, size=lanes)]
    few = np.where((np.arange(lanes) % 13 == 0)[:, None], walking, single)  # 12 lanes walk
    n = jnp.asarray(rng.integers(0, 1000, size=lanes), jnp.int32)
    keys = jax.random.split(jax.random.key(18), lanes)
    draw = jax.jit(jax.vmap(lambda k, m, p: samplers.multinomial(k, m, p)))
    every, gathered, none = (np.asarray(draw(keys, n, p)) for p in (walking, few, single))
    rows = np.arange(lanes) % 13 == 0
    np.testing.assert_array_equal(gathered[rows], every[rows])
    np.testing.assert_array_equal(gathered[~rows], none[~rows])
    np.testing.assert_array_equal(none, np.asarray(n)[:, None] * single)
    np.testing.assert_array_equal(every.sum(axis=1), n)
    assert (every[::2, 1] == 0).all() and ((gathered[rows] > 0).sum(axis=1) > 1).sum() >= 8


def test_multinomial_rows_draw_alone_through_rounds_in_place():
    """128 rows with three live categories among 300 (the walk's table in int16), every
    conditional mean large: ~16 % of the BTRS candidates are rejected (~20 lanes), more than
    the L/16 (8) lanes a gathered buffer holds, so the pool redraws in place one round at a
    time before it gathers; every row still draws what it draws alone (a pool of one lane
    gathers at once)."""
    k_cat, lanes = 300, 128
    probs = jnp.zeros((lanes, k_cat)).at[:, jnp.array([0, 150, 299])].set(
        jnp.array([0.3, 0.3, 0.4]))
    keys = jax.random.split(jax.random.key(17), lanes)
    draw = jax.jit(lambda k, p: samplers.multinomial(k, 5000, p))
    pooled = np.asarray(jax.jit(jax.vmap(draw))(keys, probs))
    alone = np.stack([np.asarray(draw(keys[i], probs[i])) for i in range(lanes)])
    np.testing.assert_array_equal(pooled, alone)
    np.testing.assert_array_equal(pooled.sum(axis=1), 5000)
    assert (pooled[:, [0, 150, 299]] > 1000).all()


def test_multinomial_n_max_changes_the_program_not_the_counts():
    """With ``n_max`` < 60 no conditional mean ``n·min(s, 1−s)`` reaches BTRS, and up to 48 the
    unrolled inversion finds every count: those paths are not compiled (fewer while loops in
    the program), and every count, at every ``n ≤ 48``, is the one drawn without a bound."""
    lanes = 4096
    probs = jnp.tile(jnp.array([0.5, 0.02, 0.48]), (lanes, 1))  # means up to n/2 at k = 0
    n = jnp.arange(lanes, dtype=jnp.int32) % 49
    keys = jax.random.split(jax.random.key(16), lanes)

    def draw(bound):
        return jax.jit(jax.vmap(lambda k, m, p: samplers.multinomial(k, m, p, n_max=bound)))

    full = np.asarray(draw(None)(keys, n, probs))
    assert (full[:, 0] > 24).sum() > 100  # the largest means were drawn
    loops = {}
    for bound in (None, 59, 48):
        if bound is not None:
            np.testing.assert_array_equal(np.asarray(draw(bound)(keys, n, probs)), full)
        loops[bound] = str(jax.make_jaxpr(draw(bound))(keys, n, probs)).count("while[")
    assert loops[None] > loops[59] > loops[48], loops  # the paths are left out


def test_multinomial_of_no_rows_is_empty():
    key = jax.random.key(15)
    assert samplers.multinomial(key, 10, jnp.ones((0, 5))).shape == (0, 5)
    keys = jax.random.split(key, 0)
    assert jax.vmap(lambda k: samplers.multinomial(k, 10, jnp.ones(5)))(keys).shape == (0, 5)


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
    with pytest.raises(ValueError, match=r"n must be <= n_max=9, got 10"):
        samplers.multinomial(key, jnp.array([3, 10]), jnp.ones((2, 4)), n_max=9)
    with pytest.raises(ValueError, match="n_max"):
        samplers.multinomial(key, 5, jnp.ones(4), n_max=-1)
    with pytest.raises(TypeError, match="n_max"):
        samplers.multinomial(key, 5, jnp.ones(4), n_max=5.5)


# ------------------------------------------------------------------------------------------
# Gamma, χ², Bartlett


def log_gamma_cdf(a):
    """CDF of ``log G``, ``G ~ Gamma(a)``: ``P(G ≤ e^y)``; for ``e^y < e^-40`` the series
    ``γ(a, x)/Γ(a) = x^a/Γ(a+1)·(1 + O(x))`` (``gammainc`` would see ``e^y`` underflow)."""
    def cdf(y):
        y = np.asarray(y, np.float64)
        tiny = y < -40
        return np.where(tiny, np.exp(a * np.minimum(y, 0) - sp.gammaln(a + 1)),
                        sp.gammainc(a, np.exp(np.maximum(y, -40))))
    return cdf


_log_gamma = jax.jit(lambda key, a: samplers.log_gamma(key, a, (N,)))


# Shapes < 1 (the boost), 1 (Marsaglia–Tsang's least efficient), the χ² shapes of the chains
# and up to 1e7, where the acceptance test must not cancel in float32.
@pytest.mark.parametrize("a", [1e-3, 0.3, 0.999, 1.0, 3.7, 49.5, 1e6, 1e7])
def test_log_gamma_matches_scipy(a):
    x = np.asarray(_log_gamma(jax.random.key(int(a * 1000) % 9973), jnp.float32(a)))
    assert x.dtype == np.float32 and np.all(np.isfinite(x))  # no underflow even at a = 1e-3
    a32 = float(np.float32(a))
    # KS at rate ALPHA; its sd-scale resolution 1/√N ≈ 0.002 sees the 2 % shape error below.
    assert st.kstest(x, log_gamma_cdf(a32)).pvalue > ALPHA
    assert st.kstest(x, log_gamma_cdf(a32 * 1.02)).pvalue < ALPHA  # negative control


@pytest.mark.parametrize("a", [1e-3, 0.5, 3.7, 1e6])
def test_log_gamma_x64(a):
    with jax.enable_x64(True):
        if "g" not in _X64_CACHE:
            _X64_CACHE["g"] = jax.jit(lambda key, a: samplers.log_gamma(key, a, (N,)))
        x = _X64_CACHE["g"](jax.random.key(8), jnp.float64(a))
        assert x.dtype == jnp.float64
        x = np.asarray(x)
    assert st.kstest(x, log_gamma_cdf(a)).pvalue > ALPHA
    assert st.kstest(x, log_gamma_cdf(a * 1.02)).pvalue < ALPHA  # negative control


def test_gamma_called_eagerly_compiles_once_per_shape(backend_compiles):
    """An eager call compiles the sampler's loops once per shape, not anew at each call (for
    ``a < 1`` and ``a ≥ 1`` alike: one program holds both)."""
    keys = list(jax.random.split(jax.random.key(5), 3))  # indexed outside the count
    samplers.log_chisquare(keys[0], 3.0, (64,))
    with backend_compiles() as count:
        for k, dof in zip(keys[1:], (0.5, 40.0)):
            assert np.isfinite(samplers.log_chisquare(k, dof, (64,))).all()
    assert count[0] == 0


def test_chisquare_and_gamma_are_the_log_samplers_transformed():
    key = jax.random.key(4)

    @jax.jit
    def all_four(key, dof):
        return (samplers.log_gamma(key, dof / 2), samplers.log_chisquare(key, dof),
                samplers.gamma(key, dof / 2), samplers.chisquare(key, dof))

    dof = jnp.concatenate([jnp.array([0.5, 99.0]), jnp.full(2000, 2e-3), jnp.full(N, 3.0)])
    lg, lc, g, c = all_four(key, dof)
    np.testing.assert_allclose(lc, np.log(2.0) + lg, rtol=1e-6)
    np.testing.assert_array_equal(g, jnp.exp(lg))
    np.testing.assert_array_equal(c, jnp.exp(lc))
    assert g[2:2002].min() == 0.0 and np.all(np.isfinite(lg))  # gamma underflows, log_gamma not
    x = np.asarray(c[2002:])
    assert st.kstest(x, st.chi2(3.0).cdf).pvalue > ALPHA
    assert st.kstest(x, st.chi2(3.06).cdf).pvalue < ALPHA  # negative control: dof·1.02


def test_bartlett_factor_laws():
    """``2 log A_jj ~ log χ²_{dof−j+1}`` and ``A_jk ~ N(0, 1)`` below the diagonal, 0 above."""
    dof, dim = 5.5, 3
    log_diag, lower = jax.jit(jax.vmap(lambda k: samplers.bartlett(k, dof, dim)))(
        jax.random.split(jax.random.key(12), N // 4))
    assert log_diag.shape == (N // 4, dim) and lower.shape == (N // 4, dim, dim)
    np.testing.assert_array_equal(np.triu(lower), 0.0)
    for j in range(dim):  # j = 0..dim−1 ↔ χ²_{dof−j}
        y = 2.0 * np.asarray(log_diag[:, j])
        chi = lambda y, k=dof - j: st.chi2(k).cdf(np.exp(y))
        wrong = lambda y, k=dof - j + 1: st.chi2(k).cdf(np.exp(y))
        assert st.kstest(y, chi).pvalue > ALPHA
        assert st.kstest(y, wrong).pvalue < ALPHA  # negative control
    z = np.asarray(lower[:, 2, 0])
    assert st.kstest(z, st.norm.cdf).pvalue > ALPHA
    assert st.kstest(z, st.norm(scale=1.1).cdf).pvalue < ALPHA  # negative control: sd·1.1
    # Distinct entries are independent: the correlation of two below-diagonal entries is
    # N(0, 1/n) under independence (n = N/4 = 50000, sd 0.0045): |r| < 5 sd.
    assert abs(np.corrcoef(lower[:, 1, 0], lower[:, 2, 1])[0, 1]) < 5 / math.sqrt(N // 4)


def test_gamma_validation():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"a must be finite and > 0"):
        samplers.log_gamma(key, 0.0)
    with pytest.raises(ValueError, match=r"dof must be finite and > 0"):
        samplers.log_chisquare(key, -1.0)
    with pytest.raises(TypeError, match="dtype must be a floating dtype"):
        samplers.gamma(key, 1.0, dtype=jnp.int32)
    with pytest.raises(ValueError, match=r"dof must be > dim - 1 = 2"):
        samplers.bartlett(key, 2.0, 3)
    with pytest.raises(ValueError, match="dim must be >= 1"):
        samplers.bartlett(key, 2.0, 0)


@pytest.mark.parametrize("m_max, cap", [(4, 7), (60, 60)])  # Floyd; top-k (m_max² > 50 cap)
def test_subsample_is_a_uniform_subset(m_max, cap):
    """``rng.subsample`` of m = 3 of n = 6 rows (padded to ``m_max`` indices into a buffer of
    ``cap`` rows) gives each of the C(6, 3) = 20 subsets probability 1/20: chi-square over the 20
    subsets of 40 000 draws (expected count 2000 each).  Negative control: the same counts
    against a law that moves 10 % of the mass of the subsets holding row 0 to the others
    (200 of 2000 expected per subset: noncentrality 20 · 200² / 2000 = 400 on 19 degrees of
    freedom, rejected at ALPHA with overwhelming probability)."""
    n, m = 6, 3
    keys = jax.random.split(jax.random.key(3), 40_000)
    idx = np.asarray(jax.jit(jax.vmap(lambda k: rng.subsample(k, n, m, m_max, cap)))(keys))
    chosen = np.sort(idx[:, :m], axis=1)
    assert (chosen[:, 1:] > chosen[:, :-1]).all() and (chosen < n).all()  # distinct live rows
    assert ((idx >= 0) & (idx < cap)).all()  # padding rows index the buffer
    subsets = {c: i for i, c in enumerate(combinations(range(n), m))}
    counts = np.bincount([subsets[tuple(c)] for c in chosen], minlength=len(subsets))
    uniform = np.full(len(subsets), 1 / len(subsets))
    assert st.chisquare(counts, uniform * counts.sum()).pvalue > ALPHA
    has0 = np.array([0 in c for c in subsets])
    wrong = uniform * np.where(has0, 0.9, 1 + 0.1 * has0.sum() / (~has0).sum())
    assert st.chisquare(counts, wrong / wrong.sum() * counts.sum()).pvalue < ALPHA


@pytest.mark.parametrize("shape", [(N,), (N // 10, 10)])
def test_rng_normal_matches_scipy(shape):
    """``rng.normal`` (the Gaussian family's draws) is N(0, 1): KS against scipy on N draws.
    Control: scale 1.05, KS distance sup|Φ(x) − Φ(x/1.05)| ≈ 0.0116, against the 1e-3 critical
    value 1.95/√N = 0.0044 (the statistic's sd ≈ 0.002): rejected with overwhelming probability.
    Draws under two keys are uncorrelated (|r| < 5/√N, 5 standard errors)."""
    x = np.asarray(rng.normal(jax.random.key(11), shape, jnp.float32), np.float64).ravel()
    assert st.kstest(x, st.norm.cdf).pvalue > ALPHA
    assert st.kstest(x, st.norm(scale=1.05).cdf).pvalue < ALPHA  # negative control
    y = np.asarray(rng.normal(jax.random.key(12), shape, jnp.float32), np.float64).ravel()
    assert abs(np.corrcoef(x, y)[0, 1]) < 5 / math.sqrt(N)


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_rng_fold_in_is_jax_fold_in(impl):
    """``rng.fold_in`` (the engine's trial and generation keys) is ``jax.random.fold_in``
    element by element, bit for bit: keys with scalar or per-key data up to 2³² − 1, one key
    with many data, jitted and under ``vmap``; other key implementations go through
    ``jax.random.fold_in``."""
    keys = jax.random.split(jax.random.key(5, impl=impl), 33)
    data = np.array([0, 1, 7, 2**31, 2**32 - 3, 2**32 - 1] * 5 + [123, 456, 789], np.uint32)
    want = jax.vmap(jax.random.fold_in)(keys, data)
    data_of = lambda k: np.asarray(jax.random.key_data(k))  # noqa: E731
    np.testing.assert_array_equal(data_of(jax.jit(rng.fold_in)(keys, data)), data_of(want))
    np.testing.assert_array_equal(data_of(jax.vmap(rng.fold_in)(keys, data)), data_of(want))
    for d in (0, 2**32 - 1):
        want = jax.vmap(jax.random.fold_in, (0, None))(keys, np.uint32(d))
        np.testing.assert_array_equal(data_of(rng.fold_in(keys, d)), data_of(want))
    want = jax.vmap(jax.random.fold_in, (None, 0))(keys[3], data)  # one key, every datum
    np.testing.assert_array_equal(data_of(rng.fold_in(keys[3], data)), data_of(want))
    assert jax.random.key_impl(rng.fold_in(keys, 1)) == jax.random.key_impl(keys)
