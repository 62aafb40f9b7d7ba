"""CLI for language-model chains (Shumailov et al. 2023, §5): ``simulate ngram``, ``simulate
transformer`` and ``figure lm-perplexity|lm-histograms``.

Every command draws its data the same way (:func:`_data`): the default source's text
(:func:`lm.source.english_text`) or a ``--corpus`` file."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from . import _common

#: Characters of each example continuation printed.
SHOWN_CHARS = 100
#: Largest number of generations a figure runs.
MAX_FIGURE_GENERATIONS = 1000
FAMILIES = ("ngram", "transformer")

#: Defaults of the data options, per command and family.  The transformer's are those its
#: ``Config`` was tuned on (``lm.english(vocab=500)``, ``L = 16``, ``N = 32``, 20 validation
#: points); the n-gram figures' 1024 points give ``replace`` a slow, visible collapse.
NGRAM_DATA = dict(block=64, vocab=1000, blocks=128, test_blocks=16)
TRANSFORMER_DATA = dict(block=16, vocab=500, blocks=32, test_blocks=16, validation_blocks=20)
#: The data options whose default depends on a figure's family.
_FAMILY_DATA = ("block", "vocab", "blocks", "test_blocks")
FIGURE_DATA = {"ngram": dict(NGRAM_DATA, blocks=1024), "transformer": TRANSFORMER_DATA}
#: Defaults of the decoding per family in the figures (beam search is O(V) a token per beam:
#: slow for an n-gram model at V = 1000; the transformer's is the paper's).
FIGURE_DECODE = {"ngram": "sample", "transformer": "beam"}


def register(commands):
    sim = _common.simulate_parser(
        commands, "ngram", functools.partial(_simulate, family="ngram"),
        help="n-gram language model refitted on its own continuations (the paper's §5 "
             "protocol with an order-k model)",
        description="Fit an order-k n-gram model (add-alpha) to the continuations of the real "
                    "text's blocks, then each generation refit it to its own continuations of "
                    "the original prompts, many chains at once; print per generation the test "
                    "perplexity, the per-sequence perplexity of generated text under the first "
                    "fit, the vocabulary still generated, the KL to the source when it is "
                    "known, and example text.")
    _add_ngram_arguments(sim, order=2, alpha=0.0)
    _add_data_arguments(sim, NGRAM_DATA)
    _add_decode_arguments(sim, "sample")
    _add_chain_arguments(sim)

    tra = _common.simulate_parser(
        commands, "transformer", functools.partial(_simulate, family="transformer"),
        help="small decoder-only transformer refitted on its own continuations (the paper's "
             "§5 protocol; slow on a CPU)",
        description="Train a small transformer from scratch on the continuations of the real "
                    "text's blocks (keeping the epoch with the best loss on real validation "
                    "points), then each generation train a fresh one on the previous model's "
                    "continuations of the original prompts, many chains at once; print per "
                    "generation the test perplexity, the per-sequence perplexity of generated "
                    "text under the first fit, the vocabulary still generated and example "
                    "text. Slow on a CPU: at the defaults, 10 generations of 4 trials took "
                    "190 s with beam search and 125 s sampling on 2 shared cores.")
    _add_transformer_arguments(tra)
    _add_data_arguments(tra, TRANSFORMER_DATA)
    _add_decode_arguments(tra, "beam")
    _add_chain_arguments(tra)

    ppl = _common.figure_parser(
        commands, "lm-perplexity", _perplexity,
        help="test perplexity, KL to the source and vocabulary survival over generations, "
             "one curve per policy (the paper's Fig. 1b/c: replace against fresh:0.1)")
    ppl.add_argument("--generations", type=int, default=10,
                     help="fits per chain (default %(default)s)")
    ppl.add_argument("--policies", default="replace,fresh:0.1", metavar="P1,P2,...",
                     help="one curve per policy, in --policy's grammar (default %(default)s)")
    _add_figure_arguments(ppl)

    voc = _common.figure_parser(
        commands, "lm-vocabulary", _vocabulary,
        help="fraction of each real frequency-rank band's word types still generated over "
             "generations, one line style per policy (the tails go first; default alpha 0, "
             "where nothing regenerates a lost word)")
    voc.add_argument("--generations", type=int, default=10,
                     help="fits per chain (default %(default)s)")
    voc.add_argument("--policies", default="replace,fresh:0.1", metavar="P1,P2,...",
                     help="one line style per policy, in --policy's grammar (default "
                          "%(default)s)")
    _add_figure_arguments(voc, alpha=0.0)

    hist = _common.figure_parser(
        commands, "lm-histograms", _histograms,
        help="per-sequence perplexity of each generation's text under the first model, one "
             "density per generation (the paper's Fig. 10)")
    from ..figures.lm import HISTOGRAM_GENERATIONS

    hist.add_argument("--generations", type=_common.int_list,
                      default=",".join(map(str, HISTOGRAM_GENERATIONS)), metavar="G1,G2,...",
                      help="generations drawn: 0 = the real text, g = the g-th model, so the "
                           "paper's generations 0, 1, 2, 3, 5, 9 are 1, 2, 3, 4, 6, 10 here "
                           "(default %(default)s)")
    _common.add_policy_arguments(hist)
    _add_figure_arguments(hist)


def _add_ngram_arguments(parser, *, order: int, alpha: float, figure: bool = False):
    only = "; --family ngram only" if figure else ""
    parser.add_argument("--order", type=int, default=order,
                        help=f"n-gram context length k (default %(default)s{only})")
    parser.add_argument("--alpha", type=float, default=alpha,
                        help=f"add-alpha pseudocount; 0 backs off for unseen contexts "
                             f"(default %(default)s{only})")


def _add_transformer_arguments(parser, *, figure: bool = False):
    """One option per field of :class:`lm.transformer.Config`, its default the Config's."""
    from ..lm.transformer import Config

    d = Config()
    only = "; --family transformer only" if figure else ""
    for name, kind, text in (
            ("layers", int, "decoder blocks"),
            ("width", int, "model width d, a multiple of --heads"),
            ("heads", int, "attention heads"),
            ("mlp_ratio", int, "MLP hidden width over d"),
            ("epochs", int, "training epochs per fit (the paper's fine-tuning: 5 or 10; "
                            "lm.transformer.Config says why 20)"),
            ("batch", int, "minibatch size in points"),
            ("lr", float, "peak AdamW learning rate (warm-up + cosine schedule)"),
            ("warmup", float, "fraction of the steps warming up, in [0, 1)"),
            ("weight_decay", float, "AdamW's decoupled weight decay"),
            ("clip", float, "global gradient-norm clip, 0 for none")):
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=getattr(d, name),
                            help=f"{text} (default %(default)s{only})")


def _add_data_arguments(parser, defaults: dict | None):
    """The data options (:func:`_data`); ``defaults`` ``None``: the family's
    (:data:`FIGURE_DATA`), resolved by :func:`_resolve`."""
    for name, text in (
            ("block", "block length L, the prompt and continuation"),
            ("vocab", "vocabulary size of the default source, or the cap on --corpus's types"),
            ("blocks", "training points of the default source"),
            ("test_blocks", "held-out points of the default source")):
        if defaults is not None:
            value, said = defaults[name], "default %(default)s"
        else:
            value = None
            said = "default " + " for ngram, ".join(
                str(FIGURE_DATA[f][name]) for f in FAMILIES) + " for transformer"
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=value,
                            help=f"{text} ({said})")
    if defaults is None or defaults.get("validation_blocks"):
        from ..lm.source import VALIDATION_SEED

        text = ("default %(default)s" if defaults else "default %(default)s; --family "
                "transformer only")
        parser.add_argument("--validation-blocks", type=int,
                            default=TRANSFORMER_DATA["validation_blocks"],
                            help=f"real validation points scoring each epoch, the best one "
                                 f"kept (the paper's checkpoint choice); 0: the last epoch; "
                                 f"default source: drawn with seed {VALIDATION_SEED}, --corpus: "
                                 f"the end of its training text ({text})")
    parser.add_argument("--corpus", metavar="FILE",
                        help="UTF-8 text: its first 90%% trains, the rest tests (default: text "
                             "sampled from lm.english(order=1, vocab=--vocab), seed 0)")
    parser.add_argument("--level", choices=("word", "char"), default="word",
                        help="--corpus tokens (default %(default)s)")


def _add_decode_arguments(parser, default: str | None):
    parser.add_argument("--decode", choices=("sample", "beam"), default=default,
                        help="sampling, or beam search (the paper's, O(V) a token per beam: slow "
                             "at large V) " + ("(default %(default)s)" if default else
                                               "(default: sample for ngram, beam for "
                                               "transformer)"))
    parser.add_argument("--beams", type=int, default=5, help="beams (default %(default)s)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature (default %(default)s)")
    parser.add_argument("--top-k", type=int, default=None, help="sampling top-k (default: none)")
    parser.add_argument("--penalty", type=float, default=1.0,
                        help="repetition penalty rho >= 1 (default %(default)s: none)")


def _add_chain_arguments(parser):
    """``--generations --trials --chunk-size``, the policy and the run options of a
    ``simulate`` command."""
    parser.add_argument("--generations", type=int, required=True,
                        help="number of fits G (required)")
    parser.add_argument("--trials", type=int, default=8,
                        help="independent chains (default %(default)s)")
    _common.add_chunk_size(parser)
    _common.add_policy_arguments(parser)
    _common.add_run_arguments(parser)


def _add_figure_arguments(parser, *, alpha: float = 0.001):
    """``--family``, the model, data and decoding options, ``--trials --seed --chunk-size``."""
    parser.add_argument("--family", choices=FAMILIES, default="ngram",
                        help="the language model (default %(default)s)")
    parser.add_argument("--trials", type=int, default=8,
                        help="chains per policy (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="PRNG seed; both LM figures draw the same chains of their first "
                             "policy for one seed (default %(default)s)")
    _common.add_chunk_size(parser)
    _add_ngram_arguments(parser, order=1, alpha=alpha, figure=True)
    _add_transformer_arguments(parser, figure=True)
    _add_data_arguments(parser, None)
    _add_decode_arguments(parser, None)


def _resolve(args) -> None:
    """Fill a figure's family-dependent defaults (``None``) in ``args``."""
    for name in _FAMILY_DATA:
        if getattr(args, name) is None:
            setattr(args, name, FIGURE_DATA[args.family][name])
    if args.decode is None:
        args.decode = FIGURE_DECODE[args.family]


def _transformer_config(args):
    """The validated :class:`lm.transformer.Config` of the Config options."""
    from ..lm import transformer

    return transformer.check(transformer.Config(
        layers=args.layers, width=args.width, heads=args.heads, mlp_ratio=args.mlp_ratio,
        epochs=args.epochs, batch=args.batch, lr=args.lr, warmup=args.warmup,
        weight_decay=args.weight_decay, clip=args.clip))


def _data(args, validation_blocks: int = 0):
    """``(real points, test points, validation points or None, words, source or None)``:
    ``--corpus`` cut 90 % / 10 % into training and test text (validation: the last
    ``validation_blocks`` points of the training text, apart from the training points), or
    text of the default source (:func:`lm.source.english_text`)."""
    from .. import _validate
    from ..lm import points, read_corpus
    from ..lm.source import english_text

    block = _validate.integer("block", args.block, minimum=1)
    n_val = _validate.integer("validation_blocks", validation_blocks, minimum=0)
    if args.corpus is not None:
        tokens, words = read_corpus(args.corpus, args.level, args.vocab)
        cut = int(0.9 * tokens.size)
        if cut < 2 * block or tokens.size - cut < 2 * block:
            raise ValueError(f"corpus: {tokens.size} tokens give no two blocks of {block} to "
                             f"train and to test (90%/10%); lower --block or give more text")
        val, start = None, cut
        if n_val:
            start = cut - (n_val + 1) * block
            if start < 2 * block:
                raise ValueError(f"validation_blocks: {n_val} validation points of {block} "
                                 f"tokens leave fewer than two blocks of the corpus's {cut} "
                                 f"training tokens; lower --validation-blocks or --block")
            val = points(tokens[start:cut], block)
        return points(tokens[:start], block), points(tokens[cut:], block), val, words, None
    text = english_text(vocab=args.vocab, block=block, blocks=args.blocks,
                        test_blocks=args.test_blocks, validation_blocks=n_val)
    return text.real, text.test, text.validation, text.source.words, text.source


def _model(args, family: str, config, real, val, words):
    """The :class:`lm.LanguageModel` of ``family`` on the prompts of ``real``."""
    from ..lm import ngram, transformer

    decoding = dict(decode=args.decode, beams=args.beams, temperature=args.temperature,
                    top_k=args.top_k, penalty=args.penalty)
    if family == "ngram":
        return ngram.model(len(words), args.order, real[:, :args.block], alpha=args.alpha,
                           **decoding)
    return transformer.model(len(words), real[:, :args.block], config, validation=val,
                             **decoding)


def _setup(args, family: str, policies, generations: int):
    """Everything validated before any work: ``(model, real, test, validation, words, source,
    config)`` (``source`` only where the KL is computed: n-gram of order <= 1 on the default
    source; ``config`` the transformer's, else ``None``)."""
    config, n_val = None, 0
    if family == "transformer":
        config, n_val = _transformer_config(args), args.validation_blocks
    real, test, val, words, source = _data(args, n_val)
    for pol in policies:
        _common.refuse_rounding(pol, real.shape[0], generations)
    _common.check_chunk_size(args)
    with _common.precision(getattr(args, "x64", False)):  # the model's constants: --x64's
        mdl = _model(args, family, config, real, val, words)
    kl_source = source if family == "ngram" and args.order <= 1 else None
    return mdl, real, test, val, words, kl_source, config


def _run(args, key, mdl, real, test, source, *, generations, trials, policy, record):
    from ..lm.simulate import simulate

    return simulate(key, mdl, real=real, test=test, generations=generations, trials=trials,
                    policy=policy, source=source, record=record, chunk_size=args.chunk_size,
                    **_common.run_options(args))


def _simulate(args, *, family: str) -> int:
    from .. import policies

    out = _common.check_out(args.out)
    key = _common.key_from_seed(args.seed)
    policy = policies.parse(args.policy, gamma=args.gamma, lam=args.lam)
    mdl, real, test, val, words, source, config = _setup(args, family, [policy],
                                                         args.generations)
    with _common.precision(args.x64):
        res = _run(args, key, mdl, real, test, source, generations=args.generations,
                   trials=args.trials, policy=policy, record=args.record)
    data = args.corpus or "lm.english(order=1) text, seed 0"
    if family == "ngram":
        print(f"ngram chain: order={args.order}, alpha={args.alpha:g}, V={len(words)}, "
              f"L={args.block}, N={real.shape[0]} points, decode={args.decode}, "
              f"generations={args.generations}, trials={args.trials}, policy={policy}; "
              f"data: {data}")
    else:
        from ..lm.transformer import parameters

        print(f"transformer chain: {config.layers} layers x width {config.width}, "
              f"{config.heads} heads ({parameters(len(words), args.block, config)} "
              f"parameters), epochs={config.epochs}, batch={config.batch}, lr={config.lr:g}, "
              f"V={len(words)}, L={args.block}, N={real.shape[0]} points, "
              f"validation={0 if val is None else val.shape[0]} points, "
              f"decode={args.decode}, generations={args.generations}, trials={args.trials}, "
              f"policy={policy}; data: {data}")
    _report(args, res, words, kl=family == "ngram")
    if out is not None:
        extra = {} if config is None else dict(transformer_config=dataclasses.asdict(config))
        _common.write_npz(out, res._asdict(), _common.config(
            args, policy_parsed=str(policy), vocab_size=len(words),
            real_points=real.shape[0], test_points=test.shape[0],
            validation_points=0 if val is None else val.shape[0], **extra))
        print(f"wrote {out}")
    return 0


def _report(args, res, words, *, kl: bool) -> None:
    """The per-generation table and example continuations of a result."""
    from ..lm import detokenize

    gens = np.asarray(res.generation)
    columns = [np.asarray(res.test_perplexity, np.float64),
               np.asarray(res.sequence_perplexity, np.float64).mean(-1),
               np.asarray(res.vocabulary, np.float64),
               np.asarray(res.band_types, np.float64)[:, :, -2], np.asarray(res.kl, np.float64)]
    edges = np.asarray(res.band_edges)
    shown = _common.subsample(gens.size, 12)
    rows = [[int(gens[i]), int(res.size[i]),
             *(float(np.median(c[:, i])) if not np.all(np.isnan(c[:, i])) else "—"
               for c in columns)] for i in shown]
    _common.print_table(["generation", "N", "median test ppl", "median seq ppl (fit 1)",
                         "median vocabulary", f"of ranks {edges[-2] + 1}-{edges[-1]}",
                         "median KL (nats)"], rows)
    print("generation 0 is the real text; seq ppl: mean per-sequence perplexity of generated "
          "points under the trial's fit-1 model; vocabulary: word types among their "
          f"continuations, and those of the rarest real words (count ranks {edges[-2] + 1}-"
          f"{edges[-1]} of the real text's {edges[-1]} types); KL to the source: "
          + ("default source and order <= 1 only" if kl else "n-gram models only"))
    examples = np.asarray(res.examples)
    level = args.level if args.corpus is not None else "word"
    for i in shown:
        text = detokenize(examples[0, i, 0, args.block:], words, level)
        print(f"  g={int(gens[i])}: {text[:SHOWN_CHARS]}")


def _figure_key(seed, i: int = 0):
    """The key of an LM figure's ``i``-th policy: ``fold_in(key(seed), i)``, so that
    ``lm-histograms`` draws the chains of ``lm-perplexity``'s first curve."""
    import jax

    return jax.random.fold_in(_common.key_from_seed(seed), i)


def _policy_figure(args, draw) -> int:
    """``draw(path, results)`` of one chain set per policy of ``--policies``."""
    from .. import _validate, policies

    out = _common.check_figure_out(args.out)
    _resolve(args)
    top = _validate.integer("generations", args.generations, minimum=1,
                            maximum=MAX_FIGURE_GENERATIONS)
    pols = [policies.parse(p.strip()) for p in args.policies.split(",")]
    mdl, real, test, _, _, source, _ = _setup(args, args.family, pols, top)
    results = {str(p): _run(args, _figure_key(args.seed, i), mdl, real, test, source,
                            generations=top, trials=args.trials, policy=p, record=None)
               for i, p in enumerate(pols)}
    _common.write_figure(out, draw, results=results)
    return 0


def _perplexity(args) -> int:
    from ..figures import lm as figures

    return _policy_figure(args, figures.perplexity)


def _vocabulary(args) -> int:
    from ..figures import lm as figures

    return _policy_figure(args, figures.vocabulary)


def _histograms(args) -> int:
    from .. import _validate, policies
    from ..figures import lm as figures

    out = _common.check_figure_out(args.out)
    _resolve(args)
    value = args.generations
    gens = [_validate.integer("generations", g, minimum=0, maximum=MAX_FIGURE_GENERATIONS)
            for g in (value if isinstance(value, list) else [value])]
    top = max(gens)
    if top < 1:
        raise ValueError("generations must include a generation >= 1 (a fitted model)")
    policy = policies.parse(args.policy, gamma=args.gamma, lam=args.lam)
    mdl, real, test, _, _, source, _ = _setup(args, args.family, [policy], top)
    res = _run(args, _figure_key(args.seed), mdl, real, test, source, generations=top,
               trials=args.trials, policy=policy, record=sorted(set(gens)))
    _common.write_figure(out, figures.histograms, result=res, generations=gens)
    return 0
