"""CLI for language-model chains: ``simulate ngram`` (Shumailov et al. 2023, §5, with an
n-gram model)."""

from __future__ import annotations

import numpy as np

from . import _common

#: Seed of the default corpus (text sampled from ``lm.english``), fixed whatever ``--seed``.
CORPUS_SEED = 0
#: Characters of each example continuation printed.
SHOWN_CHARS = 100


def register(commands):
    sim = _common.simulate_parser(
        commands, "ngram", _simulate,
        help="n-gram language model refitted on its own continuations (the paper's §5 "
             "protocol with an order-k model)",
        description="Fit an order-k n-gram model (add-alpha) to the continuations of the real "
                    "text's blocks, then each generation refit it to its own continuations of "
                    "the original prompts, many chains at once; print per generation the test "
                    "perplexity, the per-sequence perplexity of generated text under the first "
                    "fit, the vocabulary still generated, the KL to the source when it is "
                    "known, and example text.")
    sim.add_argument("--order", type=int, default=2, help="context length k (default %(default)s)")
    sim.add_argument("--alpha", type=float, default=0.0,
                     help="add-alpha pseudocount; 0 backs off for unseen contexts "
                          "(default %(default)s)")
    sim.add_argument("--block", type=int, default=64,
                     help="block length L, the prompt and continuation (default %(default)s)")
    sim.add_argument("--vocab", type=int, default=1000,
                     help="vocabulary size of the default source, or the cap on --corpus's "
                          "types (default %(default)s)")
    sim.add_argument("--blocks", type=int, default=128,
                     help="training points of the default source (default %(default)s)")
    sim.add_argument("--test-blocks", type=int, default=16,
                     help="held-out points of the default source (default %(default)s)")
    sim.add_argument("--corpus", metavar="FILE",
                     help="UTF-8 text: its first 90%% trains, the rest tests (default: text "
                          "sampled from lm.english(order=1, vocab=--vocab), seed 0)")
    sim.add_argument("--level", choices=("word", "char"), default="word",
                     help="--corpus tokens (default %(default)s)")
    sim.add_argument("--decode", choices=("sample", "beam"), default="sample",
                     help="sampling, or beam search (the paper's, O(V) a token per beam: slow "
                          "at large V) (default %(default)s)")
    sim.add_argument("--beams", type=int, default=5, help="beams (default %(default)s)")
    sim.add_argument("--temperature", type=float, default=1.0,
                     help="sampling temperature (default %(default)s)")
    sim.add_argument("--top-k", type=int, default=None, help="sampling top-k (default: none)")
    sim.add_argument("--penalty", type=float, default=1.0,
                     help="repetition penalty rho >= 1 (default %(default)s: none)")
    sim.add_argument("--generations", type=int, required=True,
                     help="number of fits G (required)")
    sim.add_argument("--trials", type=int, default=8,
                     help="independent chains (default %(default)s)")
    sim.add_argument("--chunk-size", type=int, default=None,
                     help="trials per compiled chunk (default: as many as the memory budget "
                          "allows)")
    _common.add_policy_arguments(sim)
    _common.add_run_arguments(sim)


def _data(args):
    """``(real points, test points, words, source or None)``."""
    import jax

    from .. import _validate
    from ..lm import english, points, read_corpus

    block = _validate.integer("block", args.block, minimum=1)
    if args.corpus is not None:
        tokens, words = read_corpus(args.corpus, args.level, args.vocab)
        cut = int(0.9 * tokens.size)
        if cut < 2 * block or tokens.size - cut < 2 * block:
            raise ValueError(f"corpus: {tokens.size} tokens give no two blocks of {block} to "
                             f"train and to test (90%/10%); lower --block or give more text")
        return points(tokens[:cut], block), points(tokens[cut:], block), words, None
    blocks = _validate.integer("blocks", args.blocks, minimum=1)
    test_blocks = _validate.integer("test_blocks", args.test_blocks, minimum=1)
    source = english(order=1, vocab=args.vocab)
    n_train = (blocks + 1) * block
    tokens = source.sample(jax.random.key(CORPUS_SEED), n_train + (test_blocks + 1) * block)
    return (points(tokens[:n_train], block), points(tokens[n_train:], block), source.words,
            source)


def _simulate(args) -> int:
    from .. import policies
    from ..lm import detokenize, ngram
    from ..lm.simulate import simulate

    out = _common.check_out(args.out)
    key = _common.key_from_seed(args.seed)
    policy = policies.parse(args.policy, gamma=args.gamma, lam=args.lam)
    real, test, words, source = _data(args)
    _common.refuse_rounding(policy, real.shape[0], args.generations)
    with _common.precision(args.x64):
        mdl = ngram.model(len(words), args.order, real[:, :args.block], alpha=args.alpha,
                          decode=args.decode, beams=args.beams, temperature=args.temperature,
                          top_k=args.top_k, penalty=args.penalty)
        res = simulate(
            key, mdl, real=real, test=test, generations=args.generations, trials=args.trials,
            policy=policy, source=source if args.order <= 1 else None, record=args.record,
            chunk_size=args.chunk_size, **_common.run_options(args))
    gens = np.asarray(res.generation)
    print(f"ngram chain: order={args.order}, alpha={args.alpha:g}, V={len(words)}, "
          f"L={args.block}, N={real.shape[0]} points, decode={args.decode}, "
          f"generations={args.generations}, trials={args.trials}, policy={policy}; "
          f"data: {args.corpus or 'lm.english(order=1) text, seed 0'}")
    test_ppl = np.asarray(res.test_perplexity, np.float64)
    seq = np.asarray(res.sequence_perplexity, np.float64).mean(-1)
    vocab = np.asarray(res.vocabulary, np.float64)
    kl = np.asarray(res.kl, np.float64)
    shown = _common.subsample(gens.size, 12)
    rows = [[int(gens[i]), int(res.size[i]),
             *(float(np.median(c[:, i])) if not np.all(np.isnan(c[:, i])) else "—"
               for c in (test_ppl, seq, vocab, kl))] for i in shown]
    _common.print_table(["generation", "N", "median test ppl", "median seq ppl (fit 1)",
                         "median vocabulary", "median KL (nats)"], rows)
    print("generation 0 is the real text; seq ppl: mean per-sequence perplexity of generated "
          "points under the trial's fit-1 model; vocabulary: word types among their "
          "continuations; KL to the source: default source and order <= 1 only")
    examples = np.asarray(res.examples)
    level = args.level if args.corpus is not None else "word"
    for i in shown:
        text = detokenize(examples[0, i, 0, args.block:], words, level)
        print(f"  g={int(gens[i])}: {text[:SHOWN_CHARS]}")
    if out is not None:
        _common.write_npz(out, res._asdict(), _common.config(
            args, policy_parsed=str(policy), vocab_size=len(words),
            real_points=real.shape[0], test_points=test.shape[0]))
        print(f"wrote {out}")
    return 0
