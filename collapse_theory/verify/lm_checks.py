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
"""

from __future__ import annotations

import jax
import numpy as np

from .. import chain, discrete
from ..testing.statistics import chi_square_homogeneity
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
