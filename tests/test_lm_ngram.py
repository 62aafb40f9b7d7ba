"""lm.ngram: counts exact against numpy, normalised laws, back-off, decoders, validation."""

from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_theory.lm import ngram, points
from collapse_theory.testing.statistics import chi_square

V, L = 6, 5


def _data(seed=0, n_tokens=160):
    tokens = np.random.default_rng(seed).integers(0, V, n_tokens)
    return points(tokens, L)


def _fit(mdl, pts, weights=None):
    w = jnp.ones(len(pts)) if weights is None else jnp.asarray(weights, jnp.float32)
    return mdl.family.fit(jnp.asarray(pts), w, previous=None)


def _counts(pts, weights, j):
    """numpy: ``N_j(c, w)`` and ``N_j(c)`` over the continuation positions."""
    grams, ctx = Counter(), Counter()
    for row, wt in zip(pts, weights):
        for t in range(L, 2 * L):
            grams[tuple(row[t - j:t + 1])] += wt
            ctx[tuple(row[t - j:t])] += wt
    return grams, ctx


def _all_contexts(k):
    return np.stack(np.meshgrid(*[np.arange(V)] * k, indexing="ij"), -1).reshape(-1, k)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_fit_is_the_weighted_count_formula(alpha):
    """Q(w|c) = (N(c,w)+α)/(N(c)+αV) from a numpy count with 0/1 weights (zero = absent); with
    α = 0 an unseen context backs off to the longest seen suffix."""
    k = 2
    pts = _data()
    weights = (np.arange(len(pts)) % 3 != 0).astype(float)
    mdl = ngram.model(V, k, pts[:, :L], alpha=alpha, decode="sample")
    params = _fit(mdl, pts, weights)
    ctx = _all_contexts(k)
    got = np.exp(np.asarray(ngram.log_q(mdl, params)(ctx, np.tile(np.arange(V), (len(ctx), 1)))))
    tables = [_counts(pts, weights, j) for j in range(k + 1)]
    unseen = 0
    for c, row in zip(ctx, got):
        j = k
        if alpha == 0:
            while j > 0 and tables[j][1][tuple(c[k - j:])] == 0:
                j -= 1
        unseen += j < k
        grams, cc = tables[j]
        n = cc[tuple(c[k - j:])]
        want = [(grams[tuple(c[k - j:]) + (w,)] + alpha) / (n + alpha * V) for w in range(V)]
        np.testing.assert_allclose(row, want, rtol=1e-5)
    assert (unseen > 0) == (alpha == 0)  # α = 0: the back-off was exercised
    np.testing.assert_array_equal(np.asarray(ngram.unigram_counts(mdl, params)),
                                  np.bincount(pts[:, L:].ravel(), np.repeat(weights, L), V))


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_laws_are_normalised_and_log_prob_agrees(k, alpha):
    pts = _data(1)
    mdl = ngram.model(V, k, pts[:, :L], alpha=alpha, decode="sample")
    params = _fit(mdl, pts[:6])  # few points: many unseen contexts and words
    ctx = _all_contexts(max(k, 1))
    lq = np.asarray(ngram.log_q(mdl, params)(ctx, np.tile(np.arange(V), (len(ctx), 1))))
    np.testing.assert_allclose(np.exp(lq).sum(1), 1.0, rtol=1e-5)
    assert not np.isnan(lq).any()
    lp = np.asarray(mdl.log_prob(params, pts))
    assert lp.shape == (len(pts), L) and not np.isnan(lp).any()
    idx = np.arange(L)[:, None] + L - max(k, 1) + np.arange(max(k, 1))
    want = np.asarray(ngram.log_q(mdl, params)(pts[:, idx].reshape(-1, max(k, 1)),
                                                pts[:, L:].reshape(-1, 1))).reshape(lp.shape)
    np.testing.assert_array_equal(lp, want)
    if alpha == 0 and k == 2:
        assert np.isneginf(lp).any()  # an unseen word of a seen context: -inf, never NaN


def test_beam_of_one_is_greedy():
    pts = _data(2)
    mdl = ngram.model(V, 2, pts[:, :L], alpha=0.3, decode="beam", beams=1)
    params = _fit(mdl, pts)
    out = np.asarray(mdl.family.sample(jax.random.key(0), params, len(pts)))
    lq = ngram.log_q(mdl, params)
    for t in range(L, 2 * L):
        scores = np.asarray(lq(out[:, t - 2:t], np.tile(np.arange(V), (len(out), 1))))
        np.testing.assert_array_equal(out[:, t], scores.argmax(1))


@pytest.mark.parametrize("options", [dict(alpha=0.0), dict(alpha=0.5),
                                     dict(alpha=0.5, top_k=V)])
def test_sampling_frequencies_match_q(options):
    """The first continuation token of n prompts sharing their last token c is i.i.d.
    Q(·|c): Pearson χ² at level 1e-3 (fixed seed); the control (Q of another context) is
    rejected.  ``top_k=V`` takes lm.decode.sample's path, the others the direct sampler."""
    pts = _data(3)
    n = 3000
    prompts = np.repeat(pts[:1, :L], n, 0)
    mdl = ngram.model(V, 1, prompts, decode="sample", **options)
    params = _fit(mdl, pts)
    draws = np.asarray(mdl.family.sample(jax.random.key(1), params, n))[:, L]
    counts = np.bincount(draws, minlength=V)
    q = np.exp(np.asarray(ngram.log_q(mdl, params)(prompts[:1, -1:], np.arange(V)[None])))[0]
    assert chi_square(counts, q).p_value > 1e-3
    other = (prompts[0, -1] + 1) % V
    q_other = np.exp(np.asarray(ngram.log_q(mdl, params)(np.array([[other]]),
                                                          np.arange(V)[None])))[0]
    assert chi_square(counts, q_other).p_value < 1e-3


def test_same_arguments_same_object_and_prompts_by_content():
    pts = _data()
    a = ngram.model(V, 1, pts[:, :L], alpha=0.5)
    assert ngram.model(V, 1, pts[:, :L].copy(), alpha=0.5) is a
    assert ngram.model(V, 1, pts[1:, :L], alpha=0.5) is not a
    assert ngram.parts(a).order == 1
    with pytest.raises(TypeError, match="lm_model"):
        ngram.parts(object())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(vocab=1), ValueError, "vocab"),
    (dict(vocab=2.0), TypeError, "vocab"),
    (dict(order=-1), ValueError, "order"),
    (dict(order=6), ValueError, "order"),
    (dict(vocab=1000, order=3), ValueError, "order"),
    (dict(alpha=-0.1), ValueError, "alpha"),
    (dict(block=4), ValueError, "block"),
    (dict(decode="greedy"), ValueError, "decode"),
    (dict(beams=0), ValueError, "beams"),
    (dict(temperature=0.0), ValueError, "temperature"),
    (dict(top_k=V + 1), ValueError, "top_k"),
    (dict(penalty=0.5), ValueError, "penalty"),
    (dict(prompts=np.zeros((2, L), float)), TypeError, "prompts"),
    (dict(prompts=np.full((2, L), V)), ValueError, "prompts"),
])
def test_bad_input_names_the_parameter(kwargs, error, match):
    args = dict(vocab=V, order=1, prompts=np.zeros((2, L), np.int32)) | kwargs
    with pytest.raises(error, match=match):
        ngram.model(**args)
