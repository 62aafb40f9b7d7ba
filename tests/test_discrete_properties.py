"""Invariants of the discrete chain that hold for every draw (hypothesis property tests).

All examples share one shape (K = 4 categories, G = 5 fits, 8 trials), so the chain compiles
once; ``p_0`` (with zeros and deltas), the sample sizes (constant up to 2^24 or a schedule), the
smoothing and the key vary.  Relabelling is a statement about laws, tested in
``test_discrete.py``; here only its exact consequence is checked: a delta stays where it is.
"""

import jax
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collapse_theory import discrete

K, G, TRIALS = 4, 5, 8

weights = st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1.0)), min_size=K, max_size=K).filter(
    lambda w: sum(w) > 0)
sizes = st.one_of(st.integers(1, 2**24), st.lists(st.integers(1, 60), min_size=G, max_size=G))
smoothing = st.sampled_from([(0.0, 0.0), (0.0, 0.0), (0.5, 0.0), (0.0, 0.2), (1.0, 0.05)])
seeds = st.integers(0, 2**32 - 1)


def _first(mask):
    """First fit (1-based) where ``mask`` holds along axis 1, else −1."""
    return np.where(mask.any(1), mask.argmax(1) + 1, -1)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(w=weights, m=sizes, smooth=smoothing, seed=seeds)
def test_invariants(w, m, smooth, seed):
    alpha, eps = smooth
    res = discrete.simulate(jax.random.key(seed), w, sample_size=m, generations=G, trials=TRIALS,
                            normalize=True, pseudocount=alpha, mix=eps)
    counts = np.asarray(res.counts)
    m_g = np.broadcast_to(np.asarray(m), (G,))
    p0 = np.asarray(w) / np.sum(w)

    assert counts.shape == (TRIALS, G, K) and np.issubdtype(counts.dtype, np.integer)
    assert np.all(counts >= 0)
    np.testing.assert_array_equal(counts.sum(-1), np.broadcast_to(m_g, (TRIALS, G)))
    # extinction and fixation are the first zero count / the first single category
    ext = _first(counts == 0)
    ext[:, p0 == 0] = 0
    np.testing.assert_array_equal(np.asarray(res.extinction), ext)
    single = _first((counts > 0).sum(-1) == 1)
    if np.count_nonzero(p0) == 1:
        single[:] = 0
    np.testing.assert_array_equal(np.asarray(res.fixation), single)

    if alpha == 0 and eps == 0:
        # a category with p0 = 0 is never sampled and an extinct category stays extinct
        assert np.all(counts[:, :, p0 == 0] == 0)
        zero = counts == 0
        assert np.all(~zero[:, :-1] | zero[:, 1:])
        # a delta stays a delta, at its own label
        if np.count_nonzero(p0) == 1:
            i = int(np.flatnonzero(p0)[0])
            np.testing.assert_array_equal(counts[:, :, i], np.broadcast_to(m_g, (TRIALS, G)))
    else:
        assert np.all(np.asarray(discrete.support_size(res)) == K)  # no absorbing state


@settings(max_examples=5, deadline=None, derandomize=True)
@given(w=weights, seed=seeds)
def test_trial_depends_only_on_key_and_index(w, seed):
    key = jax.random.key(seed)
    full = discrete.simulate(key, w, sample_size=30, generations=G, trials=TRIALS, normalize=True)
    few = discrete.simulate(key, w, sample_size=30, generations=G, trials=3, normalize=True)
    np.testing.assert_array_equal(np.asarray(few.counts), np.asarray(full.counts)[:3])
    np.testing.assert_array_equal(np.asarray(few.extinction), np.asarray(full.extinction)[:3])
