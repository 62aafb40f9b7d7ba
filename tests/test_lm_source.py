"""lm.source (issue #13): the known Markov source D0, its exact entropy rate and cross-entropies;
sources.word_frequencies, the real-language D0 of the discrete chain (``--words``)."""

import re
import socket

import jax
import numpy as np
import pytest
from scipy import special, stats

from collapse_theory import discrete, sources
from collapse_theory.cli import main
from collapse_theory.lm import MarkovSource, english


def _invariance_residual(src: MarkovSource) -> float:
    """‖πP − π‖₁ over the contexts."""
    image = np.bincount(src.next_context.ravel(), (src.stationary[:, None] * src.probs).ravel(),
                        src.stationary.size)
    return float(np.abs(image - src.stationary).sum())


def _context_index(src: MarkovSource, windows: np.ndarray) -> np.ndarray:
    """The index in src.contexts of each row of ``windows`` (n, k)."""
    codes = np.zeros(src.contexts.shape[0], np.int64)
    want = np.zeros(windows.shape[0], np.int64)
    for j in range(src.order):
        codes = codes * src.vocab + src.contexts[:, j]
        want = want * src.vocab + windows[:, j]
    order = np.argsort(codes)
    idx = order[np.searchsorted(codes[order], want)]
    assert np.array_equal(codes[idx], want), "a sampled context is not a context of the source"
    return idx


def _log_p(src: MarkovSource, tokens: np.ndarray) -> np.ndarray:
    """log P(x_t | previous k) for t ≥ k along a run, read from the tables."""
    k = src.order
    windows = np.lib.stride_tricks.sliding_window_view(tokens[:-1], k)
    idx = _context_index(src, windows)
    hit = src.successors[idx] == tokens[k:, None]
    assert np.all(hit.any(1)), "the run took a transition the source does not have"
    return np.log(np.where(hit, src.probs[idx], 0.0).sum(1))


@pytest.fixture(scope="module")
def order2():
    return english(order=2, vocab=200, successors=12)


# ------------------------------------------------------------------------------------------------
# english(): structure and the exact stationary law


@pytest.mark.parametrize("order", [1, 2])
def test_stationary_law_is_invariant_and_is_the_word_frequencies(order, order2):
    src = english() if order == 1 else order2
    assert _invariance_residual(src) < 1e-12
    np.testing.assert_allclose(src.probs.sum(1), 1.0, rtol=0, atol=1e-12)
    assert np.all((src.probs > 0).any(1)) and np.all(src.stationary > 0)
    words, freq = sources.word_frequencies("en", src.vocab)
    assert src.words == words
    # the word marginal of π is the real frequency law (TV 0 up to rounding)
    assert 0.5 * np.abs(src.unigram - freq).sum() < 1e-12
    # the ring (rank i -> rank i+1) is in every context's support: irreducible
    ring = (src.contexts[:, -1] + 1) % src.vocab
    assert np.all((src.successors == ring[:, None]).any(1))


def test_english_is_cached_deterministic_and_sparse():
    assert english() is english(1, 1000, 32, 1.1, 0)
    other = english(vocab=1000, seed=1)
    assert not np.array_equal(other.successors, english().successors)
    assert english().successors.shape == (1000, 32) and english().contexts.shape == (1000, 1)


def test_order_two_depends_on_the_whole_context(order2):
    """Contexts sharing their last word share the support but not the law."""
    last = order2.contexts[:, -1]
    b = np.bincount(last).argmax()
    rows = np.flatnonzero(last == b)[:2]
    support = [set(order2.successors[r][order2.probs[r] > 0]) for r in rows]
    assert support[0] == support[1]
    law = [dict(zip(order2.successors[r], order2.probs[r])) for r in rows]
    assert max(abs(law[0][w] - law[1].get(w, 0.0)) for w in law[0]) > 0.05


# ------------------------------------------------------------------------------------------------
# sampling


def test_same_key_same_tokens_and_runs_start_with_a_context():
    src = english()
    a = src.sample(jax.random.key(3), 1000)
    assert a.dtype == np.int32 and a.shape == (1000,)
    np.testing.assert_array_equal(a, src.sample(jax.random.key(3), 1000))
    np.testing.assert_array_equal(a[:700], src.sample(jax.random.key(3), 700))  # one bucket
    assert not np.array_equal(a, src.sample(jax.random.key(4), 1000))
    assert src.sample(jax.random.key(3), 1).shape == (1,)


def test_entropy_rate_against_monte_carlo(order2):
    """−mean log P(x_t | context) of a stationary run estimates H; its standard error from 100
    batch means (the terms are dependent along the run; SE ≈ 0.003 nats).  Control: the
    entropy rate of a slightly different source (exponent 1.15 for 1.1: 0.03–0.04 nats lower,
    12–14 SE) must be rejected by the same estimate and test."""
    for src, control in ((english(), english(exponent=1.15)),
                         (order2, english(order=2, vocab=200, successors=12, exponent=1.15))):
        terms = -_log_p(src, src.sample(jax.random.key(11), 200_000))
        batches = terms[: terms.size // 100 * 100].reshape(100, -1).mean(1)
        est, se = terms.mean(), batches.std(ddof=1) / 10
        assert abs(est - src.entropy_rate()) < 4 * se, (est, se, src.entropy_rate())
        assert abs(est - control.entropy_rate()) > 4 * se, (est, se, control.entropy_rate())


def test_transition_frequencies_chi_square():
    """Given a context's visits, its next tokens are multinomial(P(· | c)) (Markov property):
    a chi-square over the 5 most visited contexts (expected counts ≥ 5, the rest pooled).
    Control: the same counts against the law of another context are rejected."""
    src = english()
    x = src.sample(jax.random.key(5), 200_000)
    prev, nxt = x[:-1], x[1:]
    stat, df, stat_c, df_c = 0.0, 0, 0.0, 0
    for c in np.bincount(prev, minlength=src.vocab).argsort()[-5:]:
        observed = np.bincount(nxt[prev == c], minlength=src.vocab)
        for law, acc in ((src.probs[c], "h0"), (src.probs[(c + 1) % src.vocab], "control")):
            expected = np.zeros(src.vocab)
            np.add.at(expected, src.successors[c if acc == "h0" else (c + 1) % src.vocab],
                      law * observed.sum())
            big = expected >= 5
            obs = np.append(observed[big], observed[~big].sum())
            exp = np.append(expected[big], expected[~big].sum())
            keep = exp > 0
            if np.any(obs[~keep] > 0):  # a token the law forbids: infinitely unlikely
                s = np.inf
            else:
                s = float(((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum())
            if acc == "h0":
                stat, df = stat + s, df + int(keep.sum()) - 1
            else:
                stat_c, df_c = stat_c + s, df_c + int(keep.sum()) - 1
    assert stats.chi2.sf(stat, df) > 1e-3, (stat, df)
    assert stats.chi2.sf(stat_c, df_c) < 1e-6, (stat_c, df_c)


# ------------------------------------------------------------------------------------------------
# exact cross-entropy, KL and perplexity


def _own_law(src: MarkovSource):
    """log_q of the source itself (reads the last k tokens of longer contexts)."""
    def log_q(contexts, nxt):
        idx = _context_index(src, contexts[:, -src.order:])
        succ, probs = src.successors[idx], src.probs[idx]
        p = np.stack([np.where(succ == nxt[:, [s]], probs, 0.0).sum(1)
                      for s in range(nxt.shape[1])], 1)
        with np.errstate(divide="ignore"):
            return np.log(p)
    return log_q


@pytest.mark.parametrize("order", [1, 2])
def test_the_source_has_kl_zero_at_its_order_and_beyond(order, order2):
    src = english() if order == 1 else order2
    assert abs(src.kl(_own_law(src), src.order)) < 1e-12
    assert abs(src.kl(_own_law(src), src.order + 1)) < 1e-12
    assert src.perplexity(_own_law(src), src.order) == pytest.approx(np.exp(src.entropy_rate()),
                                                                    rel=1e-12)


def test_unigram_model_cross_entropy_is_closed_form():
    """A unigram model q: H(P, q) = −Σ_w u(w) log q(w) (u the stationary word law), so
    KL(source ‖ u) = H(u) − H and KL(source ‖ q) − KL(source ‖ u) = KL(u ‖ q)."""
    src = english()
    u = src.unigram
    q = np.random.default_rng(0).dirichlet(np.ones(src.vocab))
    log_q = lambda contexts, nxt: np.log(q)[nxt]  # noqa: E731
    log_u = lambda contexts, nxt: np.log(u)[nxt]  # noqa: E731
    assert src.cross_entropy(log_q, 0) == pytest.approx(-(u @ np.log(q)), rel=1e-12)
    assert src.kl(log_u, 0) == pytest.approx(special.entr(u).sum() - src.entropy_rate(),
                                             rel=1e-12)
    assert src.kl(log_q, 0) - src.kl(log_u, 0) == pytest.approx(
        float(special.rel_entr(u, q).sum()), rel=1e-10)


def test_best_bigram_model_of_an_order_two_source(order2):
    """The bigram model Q(w | b) = P(X_t = w | X_{t−1} = b) has H(P, Q) = H(X_t | X_{t−1}), the
    conditional entropy of the pair law π₂(b, w) = Σ_a π(a, b) P(w | a, b), and KL > 0: the
    order-2 source is not a bigram chain."""
    src = order2
    v = src.vocab
    pair = np.zeros((v, v))
    np.add.at(pair, (np.repeat(src.contexts[:, -1], src.successors.shape[1]),
                     src.successors.ravel()), (src.stationary[:, None] * src.probs).ravel())
    cond = pair / pair.sum(1, keepdims=True)
    h_cond = float(special.entr(pair).sum() - special.entr(pair.sum(1)).sum())
    log_bigram = lambda contexts, nxt: np.log(cond[contexts[:, -1:], nxt])  # noqa: E731
    assert src.cross_entropy(log_bigram, 1) == pytest.approx(h_cond, rel=1e-12)
    assert src.kl(log_bigram, 1) > 0.05


def test_a_zero_probability_on_a_real_transition_is_infinite_not_nan():
    src = english()
    top = src.successors[0, 0]  # a positive-probability transition from context 0
    log_q = lambda contexts, nxt: np.where(  # noqa: E731
        (contexts[:, -1:] == 0) & (nxt == top), -np.inf, -np.log(src.vocab))
    with np.errstate(all="raise"):
        assert src.cross_entropy(log_q, 1) == np.inf
        assert src.perplexity(log_q, 1) == np.inf
    # a zero on a padding entry (probability 0) costs nothing; at order k the rows of
    # ``contexts`` are src.contexts, so the padding is where src.probs is 0
    assert np.any(src.probs == 0)
    log_pad = lambda contexts, nxt: np.where(  # noqa: E731
        src.probs == 0, -np.inf, np.log(src.unigram)[nxt])
    assert np.isfinite(src.cross_entropy(log_pad, 1))


# ------------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(order=0), ValueError, "order must be >= 1, got 0"),
    (dict(order=1.0), TypeError, "order must be an integer"),
    (dict(order=3), ValueError, "order=3 needs over 16777216 (context, next token) pairs"),
    (dict(vocab=2), ValueError, "vocab must be >= 3, got 2"),
    (dict(vocab=10 ** 9), ValueError, "vocab must be <= 321180"),
    (dict(successors=2), ValueError, "successors must be >= 3"),
    (dict(vocab=10, successors=11), ValueError, "successors must be <= 10"),
    (dict(exponent=-0.5), ValueError, "exponent must be >= 0"),
    (dict(seed=-1), ValueError, "seed must be in"),
])
def test_english_refuses_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        english(**kwargs)


def test_methods_refuse_bad_arguments():
    src = english()
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        src.sample(0, 10)
    with pytest.raises(ValueError, match="length must be >= 1, got 0"):
        src.sample(jax.random.key(0), 0)
    with pytest.raises(ValueError, match="order must be >= 0, got -1"):
        src.cross_entropy(lambda c, n: np.zeros(n.shape), -1)
    with pytest.raises(ValueError, match=r"log_q must return shape \(1000, 32\)"):
        src.cross_entropy(lambda c, n: np.zeros(3), 1)
    with pytest.raises(ValueError, match="log_q returned NaN"):
        src.cross_entropy(lambda c, n: np.full(n.shape, np.nan), 1)
    with pytest.raises(ValueError, match="probs must be >= 0 with rows summing to 1"):
        MarkovSource(src.words, 1, src.contexts, src.stationary, src.successors, src.probs * 2)
    with pytest.raises(ValueError, match=r"contexts must have shape \(C, order=2\)"):
        MarkovSource(src.words, 2, src.contexts, src.stationary, src.successors, src.probs)


# ------------------------------------------------------------------------------------------------
# sources.word_frequencies and the discrete chain's --words


def test_word_frequencies_is_a_deterministic_renormalised_law():
    words, p = sources.word_frequencies("en", 1000)
    assert words[:3] == ("the", "to", "and") and len(set(words)) == 1000
    assert p.dtype == np.float64 and p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(p) <= 0) and not p.flags.writeable
    assert sources.word_frequencies("en", 1000)[1] is p  # cached
    # the top-10 law is the top-1000 law's head, renormalised
    np.testing.assert_allclose(sources.word_frequencies("en", 10)[1], p[:10] / p[:10].sum())
    assert sources.word_count("en") >= 1000


def test_word_frequencies_download_nothing(monkeypatch):
    """wordfreq's lists ship in its wheel: a language not yet loaded is read with every socket
    connection refused."""
    def refuse(*args, **kwargs):
        raise AssertionError("word_frequencies tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    words, p = sources.word_frequencies("fr", 20)
    assert "de" in words and p.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("args, error, message", [
    (("xx", 10), ValueError, "lang must be a language code of wordfreq's 'best' lists, one of "),
    (("en", 0), ValueError, "top must be in [1, "),
    (("en", 10 ** 9), ValueError, "top must be in [1, "),
    (("en", 2.0), TypeError, "top must be an integer"),
    ((None, 10), TypeError, "lang must be a language code"),
])
def test_word_frequencies_refuses_bad_arguments(args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        sources.word_frequencies(*args)


class _Stop(Exception):
    pass


def test_discrete_cli_words_source_is_the_word_frequencies(monkeypatch):
    """``simulate discrete --words en,50`` hands the chain p0 = word_frequencies("en", 50)
    (the chain itself is stopped: running it compiles for ~15 s; --zipf's tests run it)."""
    seen = {}

    def simulate(key, probs, **kwargs):
        seen["probs"] = np.asarray(probs)
        raise _Stop

    monkeypatch.setattr(discrete, "simulate", simulate)
    with pytest.raises(_Stop):
        main(["simulate", "discrete", "--words", "en,50", "--sample-size", "200",
              "--generations", "3", "--trials", "8"])
    np.testing.assert_array_equal(seen["probs"], sources.word_frequencies("en", 50)[1])


@pytest.mark.parametrize("words, message", [
    ("xx,10", "--words xx,10: lang must be a language code"),
    ("en,0", r"--words en,0: top must be in \[1, "),
    ("en", "--words: expected LANG,K"),
])
def test_discrete_cli_words_bad_input_is_one_line_and_exit_2(words, message, capsys):
    rc = main(["simulate", "discrete", "--words", words, "--sample-size", "5",
               "--generations", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
