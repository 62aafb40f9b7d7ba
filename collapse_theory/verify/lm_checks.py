r"""The n-gram language model's chain against the multinomial chain (#13).

An order-0 n-gram model with α = 0 and plain sampling (:mod:`collapse_theory.lm.ngram`) draws
each of the ``N L`` continuation tokens of a generation independently from the unigram counts
of its training continuations, ``Q_g(w) = c_g(w) / (N L)``: its counts are the multinomial
(Wright–Fisher) chain of :mod:`collapse_theory.discrete` with ``M = N L``.  Fit 1 sees all the
real points (``replace``: ``N`` of ``N`` drawn without replacement), so ``c_1`` is the real
counts, and the n-gram's fit ``n + 1`` has the law of ``discrete.simulate``'s fit ``n`` from
``p_0 = c_1 / M``.  The prompts are irrelevant at order 0.

The test: Pearson's χ² homogeneity of the laws of ``c(w)`` (the count of one word, values
``0..M``) at those fits, n-gram chains against 8× as many discrete chains.  The control fits
with α = 1 (``V = 5``, ``M = 20``: a share ``αV/(M + αV) = 0.2`` of every generation's tokens is
uniform, a mutation that keeps the word from extinction and fixation).

One generation of an order-1 model (:func:`expected_bigrams`): each original prompt is continued
by the Markov chain ``Q_1`` fitted to the real continuations, so the expected bigram counts of
fit 2 are ``Σ_prompts Σ_{s<L} π_s(c) Q_1(w|c)`` with ``π_0`` the prompt's last token and
``π_{s+1} = π_s Q_1``; z-test of the most expected pair over trials.  The control fits α = 0
instead of 0.5 (another ``Q_1``).  Measured at seed 2, quick: p = 0.31 (2.2145 vs 2.2396,
SE 0.025); control p = 2·10⁻¹⁴.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import chain, discrete
from ..testing.statistics import chi_square_homogeneity
from . import stats
from .registry import check

#: The check's corpus: V words, blocks of L, N points (M = N L continuation tokens).
_V, _L, _N = 5, 4, 5
#: Generations of the discrete chain (the n-gram chain runs one more: its fit 1 is the data).
_GENS = 5
#: The word whose count is compared (p_0 = 0.3: interior, neither extinct nor fixed at once).
_WORD = 1
_TRIALS, _REFERENCE = 2000, 8


def _corpus() -> np.ndarray:
    """``(N, 2L)`` points whose continuation counts are ``(7, 6, 4, 2, 1)`` over the 5 words."""
    cont = np.repeat(np.arange(_V), [7, 6, 4, 2, 1])
    cont = np.random.default_rng(0).permutation(cont).reshape(_N, _L)
    prompts = np.zeros((_N, _L), np.int64)
    return np.concatenate([prompts, cont], 1).astype(np.int32)


def ngram_counts(key, trials: int, *, alpha: float = 0.0, generations: int = _GENS + 1):
    """``(trials, V)`` unigram counts of the order-0 n-gram chain at fit ``generations``."""
    from ..lm import ngram

    real = _corpus()
    mdl = ngram.model(_V, 0, real[:, :_L], alpha=alpha, decode="sample")
    res = chain.simulate(key, mdl.family, sample_size=_N, generations=generations, trials=trials,
                         real=real, record=[generations],
                         observe=lambda p: ngram.unigram_counts(mdl, p))
    return np.rint(np.asarray(res.params, np.float64)[:, -1]).astype(np.int64)


@check("lm.ngram.order0_multinomial",
       title=f"order-0 n-gram chain (alpha=0, sampling) = multinomial chain: law of c(w) "
             f"(V={_V}, M={_N * _L}, n={_GENS})",
       source="Shumailov et al. 2023 §3 (discrete distributions with exact approximation); "
              "collapse_theory.discrete; docs/theory.md §2",
       formula="law of c_{n+1}(w) of lm.ngram (order 0) = law of c_n(w) of discrete.simulate "
               "from p_0 = c_1/M (chi-square homogeneity)",
       control="the n-gram fits with alpha = 1 (add-one smoothing)")
def _(key, scale, control):
    k_ngram, k_ref = jax.random.split(key)
    trials = _TRIALS * scale
    counts = ngram_counts(k_ngram, trials, alpha=1.0 if control else 0.0)
    m = _N * _L
    p0 = np.bincount(_corpus()[:, _L:].ravel(), minlength=_V) / m
    ref = discrete.simulate(k_ref, p0, sample_size=m, generations=_GENS,
                            trials=_REFERENCE * trials, record=[_GENS])
    ref_counts = np.asarray(ref.counts)[:, -1, _WORD]
    return chi_square_homogeneity(np.bincount(counts[:, _WORD], minlength=m + 1),
                                  np.bincount(ref_counts, minlength=m + 1))


#: The expected-counts check: an order-1 model (α = 0.5) over V1 words, blocks of L1, N1 points.
_V1, _L1, _N1, _ALPHA1 = 4, 3, 6, 0.5


def _bigram_corpus() -> np.ndarray:
    return np.random.default_rng(1).integers(0, _V1, (_N1, 2 * _L1)).astype(np.int32)


def expected_bigrams(q: np.ndarray, prompts_last: np.ndarray, block: int) -> np.ndarray:
    """``(V, V)`` ``E N(c, w)`` of one generation: each prompt (last token ``x_{L−1}``) is
    continued by the Markov chain ``Q``, ``E N(c, w) = Σ_prompts Σ_{s<L} P(x_{L−1+s} = c)
    Q(w|c)``, ``P(x_{L−1} = c) = [c = last]`` and ``π_{s+1} = π_s Q``."""
    pi = np.eye(q.shape[0])[prompts_last]  # (N, V)
    total = np.zeros_like(q)
    for _ in range(block):
        total += pi.sum(0)[:, None] * q
        pi = pi @ q
    return total


def _bigram_counts(mdl, params):
    """``(V, V)`` the order-1 counts ``N(c, w)`` of a fit (row 1 of its table)."""
    codes = jnp.arange(_V1 * _V1 + 1, dtype=jnp.int32)
    return jnp.diff(jnp.searchsorted(params.table.codes[1], codes)).reshape(_V1, _V1)


@check("lm.ngram.one_generation_bigrams",
       title=f"one generation of an order-1 n-gram chain: E N_2(c, w) (V={_V1}, L={_L1}, "
             f"N={_N1}, alpha={_ALPHA1})",
       source="Shumailov et al. 2023 §5 (the continuation protocol: each prompt continued by "
              "the model fitted to the real continuations); docs/theory.md §1",
       formula="E N_2(c, w) = sum_prompts sum_{s<L} P(x_{L-1+s} = c) Q_1(w|c) (z-test of the "
               "most expected pair)",
       control="the n-gram fits with alpha = 0 (another Q_1)")
def _(key, scale, control):
    from ..lm import ngram

    real = _bigram_corpus()
    mdl = ngram.model(_V1, 1, real[:, :_L1], alpha=0.0 if control else _ALPHA1,
                      decode="sample")
    res = chain.simulate(key, mdl.family, sample_size=_N1, generations=2,
                         trials=_TRIALS * scale, real=real, record=[2],
                         observe=lambda p: _bigram_counts(mdl, p))
    counts = np.asarray(res.params, np.float64)[:, -1].reshape(-1, _V1 * _V1)
    fit1 = ngram.model(_V1, 1, real[:, :_L1], alpha=_ALPHA1, decode="sample")
    params = fit1.family.fit(jnp.asarray(real), jnp.ones(_N1), previous=None)
    words = np.arange(_V1)
    q = np.exp(np.asarray(ngram.log_q(fit1, params)(words[:, None], np.tile(words, (_V1, 1)))))
    expected = expected_bigrams(q, real[:, _L1 - 1], _L1).ravel()
    pair = int(np.argmax(expected))
    return stats.z_mean(counts[:, pair], float(expected[pair]))
