r"""A known source language: an order-``k`` Markov chain on words, with exact entropy rate,
cross-entropy and KL of any n-gram model against it (the truth a language-model chain drifts from).

A source is a stationary order-``k`` chain: contexts ``c = (x_{t−k}, …, x_{t−1})`` with stationary
law ``π(c)`` and sparse next-word laws ``P(w | c)``.  With ``m = max(k, n)`` and ``π_m`` the
stationary law of ``m``-token contexts (``π_m(c'w) = π_m(c') P(w | last k of c')``),

.. math::

   H = −\sum_c π(c) \sum_w P(w|c) \log P(w|c), \qquad
   H(P, Q) = −\sum_{c ∈ \text{ctx}_m} π_m(c) \sum_w P(w | c) \log Q(w | \text{last } n \text{ of } c),

nats per token: the entropy rate, and the cross-entropy rate of a model ``Q`` of context length
``n`` (the expected ``−log Q`` of the next token of a stationary run).  ``KL = H(P, Q) − H ≥ 0`` is
the KL divergence rate ``lim (1/T) KL(P(x_{1..T}) ‖ Q(x_{1..T}))`` and ``exp H(P, Q)`` the exact
perplexity of ``Q`` on text of the source.  :func:`english` builds the default ``D0`` of issue #13.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from .. import _validate, sources
from .protocol import points

#: Seed of the default corpus (text sampled from :func:`english`), whatever a run's seed.
CORPUS_SEED = 0
#: Seed of the default source's validation text (a transformer's best checkpoint).
VALIDATION_SEED = 1
#: Successors per word of the default source (:func:`english`'s default), at most ``vocab``.
SUCCESSORS = 32

#: Largest ``contexts × successors`` table a source or a cross-entropy evaluation may hold.
MAX_TABLE = 2 ** 24


@dataclasses.dataclass(frozen=True, eq=False)
class MarkovSource:
    """A stationary order-``k`` Markov source on ``len(words)`` tokens.

    Attributes:
      words: the vocabulary, token ``i`` is ``words[i]``.
      order: ``k ≥ 1``, the context length.
      contexts: ``(C, k)`` int32, every context of positive stationary probability.
      stationary: ``(C,)`` float64, the stationary law ``π`` of the contexts.
      successors: ``(C, S)`` int32, the next tokens of each context (padding repeats a token
        with probability 0).
      probs: ``(C, S)`` float64, ``P(next | context)``, rows summing to 1.
    """

    words: tuple[str, ...]
    order: int
    contexts: np.ndarray
    stationary: np.ndarray
    successors: np.ndarray
    probs: np.ndarray

    def __post_init__(self):
        k = _validate.integer("order", self.order, minimum=1)
        v = len(self.words)
        contexts = np.asarray(self.contexts)
        stationary = np.asarray(self.stationary, np.float64)
        successors = np.asarray(self.successors)
        probs = np.asarray(self.probs, np.float64)
        c = contexts.shape[0] if contexts.ndim == 2 else -1
        if contexts.shape != (c, k) or c < 1:
            raise ValueError(f"contexts must have shape (C, order={k}) with C >= 1, got "
                             f"{contexts.shape}")
        if stationary.shape != (c,) or successors.ndim != 2 or successors.shape[0] != c \
                or successors.shape[1] < 1 or probs.shape != successors.shape:
            raise ValueError(f"stationary must have shape ({c},) and successors, probs one "
                             f"shape (C={c}, S >= 1); got {stationary.shape}, {successors.shape}, "
                             f"{probs.shape}")
        for name, tokens in (("contexts", contexts), ("successors", successors)):
            if not np.issubdtype(tokens.dtype, np.integer) or tokens.min() < 0 \
                    or tokens.max() >= v:
                raise ValueError(f"{name} must hold tokens in [0, {v - 1}] (len(words) = {v})")
        if not (np.all(probs >= 0) and np.allclose(probs.sum(1), 1.0, rtol=0, atol=1e-9)):
            raise ValueError("probs must be >= 0 with rows summing to 1 (to 1e-9)")
        if not (np.all(stationary >= 0) and abs(stationary.sum() - 1.0) <= 1e-9):
            raise ValueError("stationary must be >= 0 and sum to 1 (to 1e-9)")
        if float(v) ** k >= 2.0 ** 62:
            raise ValueError(f"len(words) ** order must be < 2**62, got {v}**{k}")
        for name, value in (("contexts", contexts.astype(np.int32)), ("stationary", stationary),
                            ("successors", successors.astype(np.int32)), ("probs", probs)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "words", tuple(self.words))
        object.__setattr__(self, "order", k)

    @property
    def vocab(self) -> int:
        return len(self.words)

    @functools.cached_property
    def next_context(self) -> np.ndarray:
        """``(C, S)`` int32: the index of the context after ``contexts[c]`` then
        ``successors[c, s]`` (entries of probability 0 may point anywhere)."""
        codes = _encode(self.contexts, self.vocab)
        order = np.argsort(codes)
        shifted = _encode(self.contexts[:, 1:], self.vocab)[:, None] * self.vocab \
            + self.successors
        pos = np.minimum(np.searchsorted(codes[order], shifted), codes.size - 1)
        found = codes[order][pos] == shifted
        if not np.all(found | (self.probs == 0)):
            raise ValueError("contexts must be closed: a positive-probability transition leads "
                             "to a context missing from contexts")
        out = order[pos].astype(np.int32)
        out.setflags(write=False)
        return out

    @functools.cached_property
    def unigram(self) -> np.ndarray:
        """``(V,)`` the stationary law of one token, ``Σ_c π(c) [last of c = w]``."""
        return np.bincount(self.contexts[:, -1], self.stationary, self.vocab)

    def sample(self, key, length: int) -> np.ndarray:
        """``(length,)`` int32 tokens of a stationary run: the first context is drawn from
        ``π``, each next token from ``P(· | last k tokens)`` (one uniform per token, inverse
        CDF; the same key gives the same tokens, and a shorter run of the same key is a
        prefix of a longer one of the same power-of-2 bucket)."""
        key = _validate.key("key", key)
        length = _validate.integer("length", length, minimum=1, maximum=2 ** 31 - 1)
        cum, start = self._cumulative
        steps = max(length - self.order, 0)
        bucket = 1 << (steps - 1).bit_length() if steps else 0  # one compilation per power of 2
        first, rest = _run(key, cum, start, jnp.asarray(self.next_context),
                           jnp.asarray(self.successors), bucket)
        out = np.concatenate([self.contexts[int(first)], np.asarray(rest)[:steps]])
        return out[:length].astype(np.int32)

    @functools.cached_property
    def _cumulative(self):
        """Float32 inverse-CDF tables of ``P(· | c)`` and ``π``: cumulative sums, +inf from
        the last positive entry on, so that a uniform never lands on a probability-0 entry."""
        return (jnp.asarray(_thresholds(self.probs), jnp.float32),
                jnp.asarray(_thresholds(self.stationary[None])[0], jnp.float32))

    def entropy_rate(self) -> float:
        """``H = −Σ_c π(c) Σ_w P(w|c) log P(w|c)`` nats per token (module docstring)."""
        return float(self.stationary @ special.entr(self.probs).sum(1))

    def cross_entropy(self, log_q, order: int) -> float:
        r"""``H(P, Q)`` (module docstring), nats per token, of a model of context length
        ``order`` (0: unigram; it may exceed ``k``).

        ``log_q(contexts, next) -> log Q``: ``contexts (C', m)`` int32 with ``m = max(k,
        order)`` (every context of positive stationary probability; the model uses its last
        ``order`` tokens), ``next (C', S)`` int32, ``log Q (C', S)``.  ``inf`` where ``Q = 0``
        on a transition of positive probability.
        """
        order = _validate.integer("order", order, minimum=0)
        contexts, weight, index = self._extended(order)
        log = np.asarray(log_q(contexts, self.successors[index]), np.float64)
        if log.shape != (contexts.shape[0], self.successors.shape[1]):
            raise ValueError(f"log_q must return shape {(contexts.shape[0], self.successors.shape[1])}"
                             f", got {log.shape}")
        p = self.probs[index]
        if np.any(np.isnan(log[p > 0])):
            raise ValueError("log_q returned NaN for a transition of positive probability")
        terms = np.where(p > 0, p * -np.where(p > 0, log, 0.0), 0.0)
        return float(weight @ terms.sum(1))

    def _extended(self, order: int):
        """Contexts of length ``max(k, order)``, their stationary probabilities and the index of
        their last ``k`` tokens in :attr:`contexts`."""
        contexts, weight = self.contexts, self.stationary
        index = np.arange(weight.size)
        for _ in range(order - self.order):
            rows, cols = np.nonzero(self.probs[index] > 0)
            if rows.size * self.successors.shape[1] > MAX_TABLE:
                raise ValueError(f"order={order} needs over {MAX_TABLE} (context, next token) "
                                 f"pairs of this source (order-{self.order}, "
                                 f"{self.contexts.shape[0]} contexts); use a smaller order")
            nxt = self.successors[index[rows], cols]
            contexts = np.concatenate([contexts[rows], nxt[:, None]], 1)
            weight = weight[rows] * self.probs[index[rows], cols]
            index = self.next_context[index[rows], cols]
        return contexts.astype(np.int32), weight, index

    def kl(self, log_q, order: int) -> float:
        """``KL = H(P, Q) − H`` nats per token (≥ 0 up to rounding)."""
        return self.cross_entropy(log_q, order) - self.entropy_rate()

    def perplexity(self, log_q, order: int) -> float:
        """``exp H(P, Q)``, the exact perplexity of the model on text of the source."""
        return float(np.exp(self.cross_entropy(log_q, order)))


def _encode(contexts: np.ndarray, vocab: int) -> np.ndarray:
    """Base-``vocab`` int64 codes of the rows of ``contexts``."""
    code = np.zeros(contexts.shape[0], np.int64)
    for j in range(contexts.shape[1]):
        code = code * vocab + contexts[:, j]
    return code


def _thresholds(probs: np.ndarray) -> np.ndarray:
    cum = np.cumsum(probs, 1)
    last = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, 1)
    cum[np.arange(probs.shape[1]) >= last[:, None]] = np.inf
    return cum


@functools.partial(jax.jit, static_argnums=5)
def _run(key, cum, start, next_context, successors, steps: int):
    """The first context (drawn from ``π``) and ``steps`` next tokens."""
    k_start, k_run = jax.random.split(key)
    first = jnp.sum(jax.random.uniform(k_start) >= start)

    def step(c, u):
        j = jnp.sum(u >= cum[c])
        return next_context[c, j], successors[c, j]

    _, tokens = jax.lax.scan(step, first, jax.random.uniform(k_run, (steps,)))
    return first, tokens


class EnglishText(NamedTuple):
    """Points of the default corpus: ``real`` (``(N, 2L)`` training points), ``test``,
    ``validation`` (or ``None``) and the ``source`` they were sampled from."""

    real: np.ndarray
    test: np.ndarray
    validation: np.ndarray | None
    source: MarkovSource


def english_text(*, vocab: int, block: int, blocks: int, test_blocks: int,
                 validation_blocks: int = 0) -> EnglishText:
    """The default corpus of the LM commands: text of ``english(order=1, vocab)`` (seed
    :data:`CORPUS_SEED`) cut into ``blocks`` training and ``test_blocks`` test points of
    ``2·block`` tokens (:func:`~collapse_theory.lm.protocol.points`, stride ``block``), and
    ``validation_blocks`` points of separate text (seed :data:`VALIDATION_SEED`)."""
    block = _validate.integer("block", block, minimum=1)
    blocks = _validate.integer("blocks", blocks, minimum=1)
    test_blocks = _validate.integer("test_blocks", test_blocks, minimum=1)
    n_val = _validate.integer("validation_blocks", validation_blocks, minimum=0)
    vocab = _validate.integer("vocab", vocab, minimum=3)
    source = english(order=1, vocab=vocab, successors=min(SUCCESSORS, vocab))
    n_train = (blocks + 1) * block
    tokens = source.sample(jax.random.key(CORPUS_SEED), n_train + (test_blocks + 1) * block)
    val = None
    if n_val:
        val = points(source.sample(jax.random.key(VALIDATION_SEED), (n_val + 1) * block), block)
    return EnglishText(points(tokens[:n_train], block), points(tokens[n_train:], block), val,
                       source)


def english(order: int = 1, vocab: int = 1000, successors: int = 32, exponent: float = 1.1,
            seed: int = 0) -> MarkovSource:
    r"""The default ``D0`` of issue #13: an order-``k`` source on the ``vocab`` most frequent
    English words whose stationary word law is exactly their real frequencies ``u``
    (:func:`~collapse_theory.sources.word_frequencies`).

    Construction (numpy generator seeded by ``seed``; ``S`` = ``successors``, Zipf weights
    ``z_r ∝ r^{−exponent}``, ``r = 1..S``):

    * **support**: each word ``b`` gets ``S − 2`` candidate successors drawn i.i.d. from ``u``,
      then ``a_{b,S−1}`` = the word of the next frequency rank (the last wraps to the first)
      and ``a_{b,S} = b``.  The ring makes every order irreducible and the self-loops make the
      fit below strictly feasible (``J = diag(u)`` is feasible and every edge lies on a cycle),
      hence fast.  A context ending in ``b`` has the successors of ``b``; the order-``j``
      contexts are the ``j``-token paths of this graph, all reachable.
    * **shape**: ``W(w | c) = Σ_r z_{ρ_c(r)} [a_{b,r} = w]`` (duplicates merged); ``ρ`` is the
      identity at order 1 and a random permutation of ``1..S−2`` per context at order ``j ≥ 2``
      (fixed on ``S−1, S``), so that the law depends on the whole context.
    * **exact stationary law** (iterative proportional fitting, level by level): with ``π_1 =
      u`` and ``π_{j+1}(c w) = π_j(c) P_j(w | c)``, the joint ``J(c, w) ∝ π_j(c) W(w | c)`` is
      rescaled alternately to column sums ``π_j(c_{2..j} w)`` (the context after ``c``) and
      row sums ``π_j(c)``, to relative error ``< 1e−12``; ``P_j = J / π_j``.  The column sums
      are the stationarity equations ``Σ_{c_1} π_j(c) P_j(w | c) = π_j(c_{2..j} w)``, so
      ``π_k`` is the stationary law of the order-``k`` chain and its word marginal is ``u``
      exactly (measured at the defaults: ``‖πP − π‖₁`` = 1.0e−15 at order 1, 1.5e−15 at
      order 2; total variation of the word marginal to the frequencies 0 and 5e−16).  The fit
      tilts each ``W(· | c)`` (the random candidates alone would give some words 42× their
      frequency): ``Σ_c π(c) KL(P(· | c) ‖ W(· | c))`` = 0.35 nats at the defaults, and
      self-loops carry 5.0 % of the transitions.

    At the defaults: entropy rate 2.636 nats (perplexity 13.96), built in 0.04 s (plus 0.9 s
    for the word list at first use); order 2: 27465 contexts, entropy rate 2.327 nats
    (perplexity 10.25), built in 1.3 s (order 3 would need ~690 000 contexts: refused, over
    :data:`MAX_TABLE`).  Cached: the same object for the same arguments.
    """
    order = _validate.integer("order", order, minimum=1, maximum=8)
    vocab = _validate.integer("vocab", vocab, minimum=3, maximum=sources.word_count("en"))
    successors = _validate.integer("successors", successors, minimum=3, maximum=vocab)
    exponent = _validate.real("exponent", exponent, minimum=0.0)
    seed = _validate.seed(seed)
    return _english(order, vocab, successors, exponent, seed)


@functools.lru_cache(maxsize=None)
def _english(order: int, vocab: int, s: int, exponent: float, seed: int) -> MarkovSource:
    words, u = sources.word_frequencies("en", vocab)
    gen = np.random.default_rng(seed)
    z = np.arange(1, s + 1, dtype=np.float64) ** -exponent
    z /= z.sum()
    cand = np.empty((vocab, s), np.int64)
    cand[:, :-2] = gen.choice(vocab, size=(vocab, s - 2), p=u)
    cand[:, -2] = (np.arange(vocab) + 1) % vocab
    cand[:, -1] = np.arange(vocab)
    source = _fitted(words, np.arange(vocab)[:, None], np.array(u), cand,
                     np.broadcast_to(z, cand.shape))
    for _ in range(order - 1):
        try:
            contexts, pi, _ = source._extended(source.order + 1)
        except ValueError:
            raise ValueError(f"order={order} needs over {MAX_TABLE} (context, next token) pairs "
                             f"at vocab={vocab}, successors={s}; use a smaller order, vocab or "
                             f"successors") from None
        weights = np.broadcast_to(z, (contexts.shape[0], s)).copy()
        weights[:, :-2] = z[:-2][np.argsort(gen.random((contexts.shape[0], s - 2)), 1)]
        source = _fitted(words, contexts, pi, cand[contexts[:, -1]], weights)
    return source


def _fitted(words, contexts, pi, cand, weights) -> MarkovSource:
    """The source on ``contexts`` with stationary law ``pi`` and ``P(· | c)`` the shape
    ``weights`` on ``cand`` tilted by iterative proportional fitting (:func:`english`)."""
    nxt, shape = _merge(cand, weights)
    pad = nxt < 0
    nxt[pad] = np.broadcast_to(nxt[:, :1], nxt.shape)[pad]
    source = MarkovSource(words, contexts.shape[1], contexts, pi, nxt, shape)
    column = source.next_context.ravel()
    joint = pi[:, None] * shape
    for _ in range(100_000):
        supply = np.bincount(column, joint.ravel(), pi.size)
        if np.max(np.abs(supply / pi - 1.0)) < 1e-12:
            break
        joint *= (pi / supply)[source.next_context]
        joint *= (pi / joint.sum(1))[:, None]
    else:
        raise RuntimeError("iterative proportional fitting did not converge")
    return MarkovSource(words, contexts.shape[1], contexts, pi, nxt, joint / pi[:, None])


def _merge(cand: np.ndarray, weights: np.ndarray):
    """Rows of (token, weight) with duplicate tokens summed, sorted by descending weight then
    token, padded with token −1 and weight 0."""
    rows, width = cand.shape
    vocab = int(cand.max()) + 1
    keys, inverse = np.unique(np.arange(rows)[:, None] * vocab + cand, return_inverse=True)
    total = np.bincount(inverse.ravel(), weights.ravel())
    row, token = keys // vocab, keys % vocab
    order = np.lexsort((token, -total, row))
    row, token, total = row[order], token[order], total[order]
    col = np.arange(row.size) - np.searchsorted(row, np.arange(rows))[row]
    out_tokens = np.full((rows, width), -1, np.int64)
    out_weights = np.zeros((rows, width))
    out_tokens[row, col], out_weights[row, col] = token, total
    used = col.max() + 1
    return out_tokens[:, :used], out_weights[:, :used]
