"""The categorical family on the protocol (:func:`collapse_theory.discrete.family`).

Exact checks: the fit against numpy's weighted ``bincount``, merged statistics against a fit on
the concatenated points, bit-identity of the replace chain with the pre-protocol code, and
trial ``i`` depending only on ``(key, i)``.  Law checks: the stats path (multinomial counts,
merged pools) against the points path (labels drawn one by one, pooled buffers) by a χ²
homogeneity test on ≤ 10 quantile bins of the Gini–Simpson index at fit 20, accepted at
``p > 1e-3``, with a negative control (the points path at a perturbed ``p_0``) that must be
rejected.  The law tests use ``test_policies``' shapes (K = 3, M = 10, G = 20, 6000 trials), so
the compiled chains are shared.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from collapse_theory import chain, discrete

P3 = np.array([0.5, 0.3, 0.2])
P_OFF = np.array([0.55, 0.27, 0.18])  # negative control: H_0 = 0.592 instead of 0.62
ALPHA = 1e-3
M, G, TRIALS = 10, 20, 6000


def test_fit_is_the_weighted_bincount():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 200).astype(np.int32)
    w = rng.integers(0, 4, 200).astype(np.float32)  # integer multiplicities, 0 = absent
    c = np.bincount(labels, weights=w, minlength=5)
    plain = discrete.family(5).fit(jnp.asarray(labels), jnp.asarray(w))
    np.testing.assert_array_equal(plain.counts, c.astype(np.int64))
    np.testing.assert_allclose(plain.probs, c / c.sum(), rtol=1e-6)  # float32 rounding
    a, e = 0.5, 0.1
    smooth = discrete.family(5, a, e).fit(jnp.asarray(labels), jnp.asarray(w))
    np.testing.assert_allclose(smooth.probs, (1 - e) * (c + a) / (c.sum() + 5 * a) + e / 5,
                               rtol=1e-6)
    # a label absent from the data has q = 0 exactly in the plain fit
    np.testing.assert_array_equal(discrete.family(5).fit(jnp.zeros(3, jnp.int32),
                                                         jnp.ones(3)).probs, [1, 0, 0, 0, 0])


def test_merged_statistics_fit_the_concatenation():
    fam = discrete.family(4, 0.25, 0.05)
    rng = np.random.default_rng(1)
    a, b = (jnp.asarray(rng.integers(0, 4, n), jnp.int32) for n in (17, 9))
    wa, wb = jnp.ones(17), jnp.asarray(rng.integers(0, 2, 9), jnp.float32)
    merged = fam.fit_stats(fam.merge(fam.stats(a, wa), fam.stats(b, wb)))
    whole = fam.fit(jnp.concatenate([a, b]), jnp.concatenate([wa, wb]))
    for x, y in zip(merged, whole):
        np.testing.assert_array_equal(x, y)
    assert fam is discrete.family(4, 0.25, 0.05)  # cached: compiled chains are reused


def test_family_validates_its_arguments():
    with pytest.raises(ValueError, match="categories must be >= 1"):
        discrete.family(0)
    with pytest.raises(ValueError, match="mix must be <= 1"):
        discrete.family(3, mix=2.0)
    with pytest.raises(ValueError, match="method must be one of"):
        discrete.simulate(jax.random.key(0), P3, sample_size=5, generations=2, trials=1,
                          method="labels")
    assert not discrete.family(3, method="samples").has_stats


def test_replace_is_bit_identical_to_the_old_chain():
    """Counts, extinction and fixation saved from the pre-protocol code (commit b4fc83c):
    ``discrete.simulate(jax.random.key(11), [0.4, 0.3, 0.2, 0.1], sample_size=25,
    generations=40, trials=7, record=[10, 40])`` printed as lists (float32, CPU)."""
    res = discrete.simulate(jax.random.key(11), [0.4, 0.3, 0.2, 0.1], sample_size=25,
                            generations=40, trials=7, record=[10, 40])
    counts = [[[5, 15, 5, 0], [25, 0, 0, 0]], [[0, 8, 6, 11], [0, 0, 0, 25]],
              [[4, 21, 0, 0], [0, 25, 0, 0]], [[10, 2, 4, 9], [0, 0, 0, 25]],
              [[17, 2, 6, 0], [25, 0, 0, 0]], [[12, 7, 6, 0], [0, 0, 25, 0]],
              [[18, 7, 0, 0], [0, 25, 0, 0]]]
    extinction = [[-1, 22, 40, 2], [8, 25, 24, -1], [21, -1, 9, 3], [16, 17, 33, -1],
                  [-1, 11, 27, 10], [27, 17, -1, 2], [31, -1, 9, 4]]
    np.testing.assert_array_equal(res.counts, counts)
    np.testing.assert_array_equal(res.extinction, extinction)
    np.testing.assert_array_equal(res.fixation, [40, 25, 21, 33, 27, 27, 31])


def test_generic_chain_with_the_family_is_discrete_simulate():
    """``discrete.simulate`` is ``chain.simulate`` on the family, from ``initial(p_0)`` with
    ``events`` as first passages (generation 0: extinct where p_0 = 0)."""
    p0 = [0.5, 0.0, 0.5]
    key = jax.random.key(4)
    res = discrete.simulate(key, p0, sample_size=6, generations=5, trials=7, policy="fresh:0.5")
    gen = chain.simulate(key, discrete.family(3), discrete.initial(p0), sample_size=6,
                         generations=5, trials=7, policy="fresh:0.5", first_passage=discrete.events)
    np.testing.assert_array_equal(gen.params.counts[:, 1:], res.counts)
    np.testing.assert_array_equal(gen.first_passage[0], res.extinction)
    np.testing.assert_array_equal(gen.first_passage[1], res.fixation)
    assert np.all(np.asarray(res.extinction)[:, 1] == 0)


@pytest.mark.parametrize("policy, method", [("fresh:0.2", "exact"), ("fresh:0.2", "samples"),
                                            ("accumulate-subsample", "exact")])
def test_trial_depends_only_on_key_and_index(policy, method):
    key = jax.random.key(9)
    kw = dict(sample_size=7, generations=6, policy=policy, method=method)
    a = discrete.simulate(key, P3, trials=13, **kw)
    b = discrete.simulate(key, P3, trials=7, chunk_size=3, **kw)
    for x, y in zip((a.counts, a.extinction, a.fixation), (b.counts, b.extinction, b.fixation)):
        np.testing.assert_array_equal(np.asarray(x)[:7], y)
    np.testing.assert_array_equal(np.asarray(a.counts).sum(-1), 7)


def _gini(key, p0, policy, method):
    res = discrete.simulate(jax.random.key(key), p0, sample_size=M, generations=G, trials=TRIALS,
                            policy=policy, method=method, record=[G])
    return np.asarray(discrete.gini_simpson(res), np.float64).ravel()


def _p_value(a, b):
    """χ² homogeneity on ≤ 10 quantile bins of the pooled sample (the index takes few values)."""
    edges = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0, 1, 11)))
    table = np.array([np.histogram(a, edges)[0], np.histogram(b, edges)[0]])
    return stats.chi2_contingency(table[:, table.sum(0) > 0])[1]


@pytest.mark.parametrize("policy", ["accumulate", "fresh:0.3"])
def test_stats_path_matches_points_path_in_law(policy):
    exact = _gini(0, P3, policy, "exact")
    labels = _gini(1, P3, policy, "samples")
    assert _p_value(exact, labels) > ALPHA
    # control: H_0 moves by 0.028 (times the same decay) while the SE of a mean over 6000
    # trials is ≈ 0.002
    assert _p_value(exact, _gini(1, P_OFF, policy, "samples")) < ALPHA
