"""lm.simulate: the n-gram chain measured per generation; reproducibility; KL; validation."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_theory.lm import english, ngram, points
from collapse_theory.lm.simulate import EXAMPLES, POINTS, rank_bands, simulate

V, L, G = 30, 6, 3


@functools.lru_cache(maxsize=1)
def _setup():
    source = english(order=1, vocab=V, successors=8)
    tokens = source.sample(jax.random.key(0), 61 * L)
    real, test = points(tokens[:51 * L], L), points(tokens[51 * L:], L)
    mdl = ngram.model(V, 1, real[:, :L], alpha=0.1, decode="sample")
    return source, real, test, mdl


def _run(trials, **kw):
    source, real, test, mdl = _setup()
    return simulate(jax.random.key(3), mdl, real=real, test=test, generations=G,
                    trials=trials, source=source, **kw)


def test_fields_shapes_generation_zero_and_kl():
    source, real, test, mdl = _setup()
    res = _run(3)
    p = min(POINTS, len(real))
    np.testing.assert_array_equal(res.generation, np.arange(G + 1))
    np.testing.assert_array_equal(res.size, [0] + [len(real)] * G)
    assert res.test_perplexity.shape == res.vocabulary.shape == res.kl.shape == (3, G + 1)
    assert res.sequence_perplexity.shape == (3, G + 1, p)
    assert res.examples.shape == (3, G + 1, EXAMPLES, 2 * L)
    assert np.isnan(res.test_perplexity[:, 0]).all() and np.isnan(res.kl[:, 0]).all()
    assert (res.vocabulary[:, 0] == np.unique(real[:p, L:]).size).all()
    np.testing.assert_array_equal(res.examples[0, 0], real[:EXAMPLES])
    # Fit 1 sees every real point (replace: N of N): its model, KL and the real points'
    # per-sequence perplexities under it are deterministic.
    fit1 = mdl.family.fit(jnp.asarray(real), jnp.ones(len(real)), previous=None)
    np.testing.assert_allclose(res.kl[:, 1], source.kl(ngram.log_q(mdl, fit1), 1), rtol=1e-4)
    seq = np.exp(-np.asarray(mdl.log_prob(fit1, real[:p])).mean(1))
    np.testing.assert_allclose(res.sequence_perplexity[:, 0], np.broadcast_to(seq, (3, p)),
                               rtol=1e-5)
    tp = np.exp(-np.asarray(mdl.log_prob(fit1, test)).mean())
    np.testing.assert_allclose(res.test_perplexity[:, 1], tp, rtol=1e-5)
    assert np.isfinite(res.kl[:, 1:]).all() and (res.kl[:, 1:] > 0).all()
    assert np.isfinite(res.sequence_perplexity).all()


def test_same_key_same_result_whatever_trials_and_chunks():
    a = _run(3)
    b = _run(5, chunk_size=2)
    for name in ("test_perplexity", "sequence_perplexity", "vocabulary", "kl", "examples"):
        np.testing.assert_array_equal(np.asarray(getattr(a, name)),
                                      np.asarray(getattr(b, name))[:3], err_msg=name)


def test_policies_run_through_the_chain():
    res = _run(3, policy="fresh:0.5", record=[0, G])
    np.testing.assert_array_equal(res.generation, [0, G])
    assert np.isfinite(res.kl[:, 1]).all()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(lm_model="ngram"), TypeError, "lm_model"),
    (dict(real=np.zeros((4, L), np.int32)), ValueError, "real"),
    (dict(real=np.zeros((4, 2 * L))), TypeError, "real"),
    (dict(test=np.full((4, 2 * L), V)), ValueError, "test"),
    (dict(generations=-1), ValueError, "generations"),
    (dict(trials=0), ValueError, "trials"),
    (dict(policy="sometimes"), ValueError, "policy"),
    (dict(source=object()), TypeError, "source"),
    (dict(record=[G + 1]), ValueError, "record"),
])
def test_bad_input_names_the_parameter(kwargs, error, match):
    source, real, test, mdl = _setup()
    args = dict(lm_model=mdl, real=real, test=test, generations=G, trials=2) | kwargs
    with pytest.raises(error, match=match):
        simulate(jax.random.key(0), args.pop("lm_model"), **args)


def test_kl_needs_order_within_the_source():
    source, real, test, _ = _setup()
    mdl = ngram.model(V, 2, real[:, :L])
    with pytest.raises(ValueError, match="source"):
        simulate(jax.random.key(0), mdl, real=real, test=test, generations=1,
                 trials=1, source=source)


def test_rank_bands_partition_the_generated_types():
    """band_types sums to vocabulary; generation 0's bands are numpy's count of the first P real
    points' types by rank of the real continuations' counts."""
    _, real, _, mdl = _setup()
    res = _run(3)
    band, edges = rank_bands(real, mdl.vocab)
    counts = np.bincount(real[:, L:].ravel(), minlength=mdl.vocab)
    assert edges[0] == 0 and edges[-1] == (counts > 0).sum() and (np.diff(edges) > 0).all()
    ranked = np.argsort(-counts, kind="stable")
    assert (band[ranked[:edges[1]]] == 0).all() and (band[counts == 0] == edges.size - 1).all()
    np.testing.assert_array_equal(np.asarray(res.band_edges), edges)
    np.testing.assert_array_equal(np.asarray(res.band_types).sum(-1), np.asarray(res.vocabulary))
    p = min(POINTS, len(real))
    want = np.bincount(band[np.unique(real[:p, L:])], minlength=edges.size)
    np.testing.assert_array_equal(np.asarray(res.band_types)[:, 0], np.tile(want, (3, 1)))
    assert (np.asarray(res.band_types)[:, 1:, :-1] <= np.diff(edges)).all()


def test_same_result_on_one_and_two_devices(on_host_devices):
    """An order-2 n-gram chain (α = 0: back-off; odd trials; fresh real points) records the
    same values on 1 and 2 host devices (each device runs the one-device program)."""
    code = """
import json, jax, numpy as np
from collapse_theory.lm import english, ngram, points, simulate
source = english(order=1, vocab=30, successors=8)
tokens = source.sample(jax.random.key(0), 61 * 6)
real, test = points(tokens[:51 * 6], 6), points(tokens[51 * 6:], 6)
mdl = ngram.model(30, 2, real[:, :6], decode="sample")
res = simulate(jax.random.key(5), mdl, real=real, test=test, generations=7, trials=7,
               policy="fresh:0.25", chunk_size=3)
print(json.dumps({k: np.nan_to_num(np.asarray(getattr(res, k), np.float64), nan=-1.0).tolist()
                  for k in ("test_perplexity", "sequence_perplexity", "band_types", "examples")}))
"""
    one, two = on_host_devices(code, 1), on_host_devices(code, 2)
    assert one == two
