"""CLI for the discrete family: ``simulate discrete`` and ``figure
tail-loss|tail-histograms|survival|absorption``."""

from __future__ import annotations

import argparse

import numpy as np

from . import _common


def _zipf(text: str) -> tuple[int, float]:
    """argparse type for ``--zipf K,s``."""
    try:
        k, s = text.split(",")
        return int(k), float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K,s (categories, exponent), got {text!r}") from None


def _words(text: str) -> tuple[str, int]:
    """argparse type for ``--words LANG,K``."""
    try:
        lang, k = text.split(",")
        return lang, int(k)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LANG,K (a wordfreq language such as en, "
                                         f"and the number of words), got {text!r}") from None


def register(commands):
    sim = _common.simulate_parser(
        commands, "discrete", _simulate, help="discrete resampling chain (Wright–Fisher)",
        description="Refit a categorical distribution to M samples of itself, generation after "
                    "generation; print support, Gini–Simpson H (with its exact mean), entropy, "
                    "TV and KL to p0, tail mass lost and fixation per generation.")
    source = sim.add_mutually_exclusive_group(required=True)
    source.add_argument("--probs", type=_common.float_list, metavar="p1,p2,...",
                        help="p0, the original distribution (required: --probs, --zipf or "
                             "--words)")
    source.add_argument("--zipf", type=_zipf, metavar="K,s",
                        help="p0 ∝ i^-s on K categories (required: --probs, --zipf or --words)")
    source.add_argument("--words", type=_words, metavar="LANG,K",
                        help="p0 = the frequencies of the K most frequent words of language "
                             "LANG (wordfreq), renormalised: the tail loss of a real language "
                             "(required: --probs, --zipf or --words)")
    sim.add_argument("--normalize", action="store_true",
                     help="rescale --probs to sum to 1 (default: refuse a sum off 1 by > 1e-6)")
    _common.add_chain_arguments(sim)
    sim.add_argument("--pseudocount", type=float, default=0.0, metavar="α",
                     help="add-α smoothing of the fit (default %(default)s)")
    sim.add_argument("--mix", type=float, default=0.0, metavar="ε",
                     help="mix the fit with the uniform law, weight ε in [0, 1] "
                          "(default %(default)s)")
    _common.add_policy_arguments(sim)
    sim.add_argument("--tail-threshold", type=float, default=None, metavar="t",
                     help="tail = categories with p0 < t (default 1/M_1)")
    _common.add_run_arguments(sim)

    figures = {
        "tail-loss": ("Zipf p0: fitted probabilities against rank and surviving categories",
                      dict(sample_size=500, generations=200, trials=200)),
        "survival": ("P(category survives) against generation for several original counts",
                     dict(sample_size=50, generations=200, trials=4000)),
        "absorption": ("absorption-time distributions against the exact chain",
                       dict(sample_size=50, generations=400, trials=4000)),
    }
    for name, (help_, defaults) in figures.items():
        fig = _common.figure_parser(commands, name, _figure, help=help_, description=help_,
                                    figure=name)
        fig.add_argument("--sample-size", type=int, default=defaults["sample_size"],
                         help="M, samples per fit (default %(default)s)")
        fig.add_argument("--generations", type=int, default=defaults["generations"],
                         help="fits per chain (default %(default)s)")
        fig.add_argument("--trials", type=int, default=defaults["trials"],
                         help="independent chains (default %(default)s)")
        fig.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")
        if name == "tail-loss":
            fig.add_argument("--zipf", type=_zipf, default=(200, 1.1), metavar="K,s",
                             help="p0 ∝ i^-s on K categories (default 200,1.1)")
        if name == "survival":
            fig.add_argument("--original-counts", type=_common.int_list, default=[1, 2, 5, 10, 25],
                             metavar="x1,x2,...",
                             help="one curve per category with x of the M original samples "
                                  "(default 1,2,5,10,25)")
        if name == "absorption":
            fig.add_argument("--categories", type=int, default=3,
                             help="K for the time to one category (default %(default)s)")


    hist = _common.figure_parser(
        commands, "tail-histograms", _histograms,
        help="log-count histograms of a Zipf law and of real word frequencies across "
             "generations, with the 1/M line (the tail below it is lost first)")
    hist.add_argument("--zipf", type=_zipf, default=(10_000, 1.1), metavar="K,s",
                      help="left panel: p0 ∝ i^-s on K categories (default 10000,1.1)")
    hist.add_argument("--words", type=_words, default=("en", 10_000), metavar="LANG,K",
                      help="right panel: the K most frequent words of LANG (wordfreq; default "
                           "en,10000)")
    hist.add_argument("--sample-size", type=int, default=100_000,
                      help="M, samples per fit (default %(default)s)")
    hist.add_argument("--generations", type=_common.int_list, default=[0, 1, 10, 100],
                      metavar="G1,G2,...", help="generations drawn, 0 = p0 (default 0,1,10,100)")
    hist.add_argument("--trials", type=int, default=16,
                      help="independent chains, pooled (default %(default)s)")
    hist.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")


def _histograms(args) -> int:
    from ..figures import discrete as figures

    out = _common.check_figure_out(args.out)
    gens = args.generations
    _common.write_figure(out, figures.histogram_figure, zipf=args.zipf, words=args.words,
                         sample_size=args.sample_size,
                         generations=[gens] if isinstance(gens, int) else gens,
                         trials=args.trials, seed=args.seed, **_common.run_options(args))
    return 0


def _policy_gini(policy, probs, m, generations, args):
    """Closed-form E H_n under ``policy`` where one exists (no smoothing), else ``None``."""
    from ..theory import policies as ptheory

    if args.pseudocount or args.mix:
        return None
    h0 = 1.0 - float(np.sum(probs ** 2))
    if policy.name == "accumulate":
        return h0 * ptheory.accumulate_gini_simpson_factor(m, generations)
    if policy.name == "fresh" and np.all(m == m[0]) and m.size:
        return ptheory.fresh_gini_simpson(probs, int(m[0]), policy.gamma, generations)
    return None


def _simulate(args) -> int:
    from .. import _validate, discrete, sources
    from ..theory import discrete as theory

    out = _common.check_out(args.out)
    key = _common.key_from_seed(args.seed)
    policy = _common.policy(args)
    if args.tail_threshold is not None:
        _validate.real("tail_threshold", args.tail_threshold, minimum=0.0)
    if args.zipf is not None:
        probs = discrete.zipf(*args.zipf)
        source = f"zipf K={args.zipf[0]} s={args.zipf[1]:g}"
    elif args.words is not None:
        try:
            probs = np.array(sources.word_frequencies(*args.words)[1])
        except ValueError as err:
            raise ValueError(f"--words {args.words[0]},{args.words[1]}: {err}") from None
        source = f"words {args.words[0]} K={args.words[1]}"
    else:
        probs = discrete.check_probs(args.probs, normalize=args.normalize)
        source = "probs"
    with _common.precision(args.x64):
        res = discrete.simulate(
            key, probs, sample_size=args.sample_size, generations=args.generations,
            trials=args.trials, record=args.record, pseudocount=args.pseudocount, mix=args.mix,
            **_common.run_options(args), policy=policy)
        summary = discrete.summarize(res, args.tail_threshold)
    gens = np.asarray(res.generation)
    if policy.name == "replace":
        exact_h = theory.moments(res.probs0, res.sample_size, args.generations,
                                 pseudocount=args.pseudocount, mix=args.mix).gini_simpson
    else:
        m = _validate.schedule("sample_size", args.sample_size, args.generations, minimum=1)
        exact_h = _policy_gini(policy, res.probs0, m, args.generations, args)
        if exact_h is None:
            exact_h = np.full(args.generations + 1, np.nan)
    dtype = str(res.counts.dtype)
    print(f"discrete chain: K={probs.size} ({source}), generations={args.generations}, "
          f"trials={args.trials}, pseudocount={args.pseudocount:g}, mix={args.mix:g}, "
          f"policy={policy}, {dtype}")
    rows = [(int(gens[i]), float(summary.support[i]), float(summary.gini_simpson[i]),
             float(exact_h[gens[i]]), float(summary.entropy[i]),
             float(summary.total_variation[i]), float(summary.kl_infinite[i]),
             float(summary.tail_mass_lost[i]), float(summary.fixed[i]))
            for i in _common.subsample(gens.size)]
    _common.print_table(["generation", "support", "H", "exact E H", "entropy", "TV to p0",
                         "P(KL=inf)", "tail lost", "P(fixed)"], rows)
    if out is not None:
        cfg = _common.config(args, dtype=dtype, categories=int(probs.size), source=source,
                             probs0=res.probs0.tolist(),
                             sample_size_schedule=res.sample_size.tolist())
        _common.write_npz(out, {"generation": gens, "counts": res.counts, "probs0": res.probs0,
                                "extinction": res.extinction, "fixation": res.fixation}, cfg)
        print(f"wrote {out}")
    return 0


def _figure(args) -> int:
    from ..figures import discrete as figures

    out = _common.check_figure_out(args.out)
    common = dict(sample_size=args.sample_size, generations=args.generations,
                  trials=args.trials, seed=args.seed, **_common.run_options(args))
    if args.figure == "tail-loss":
        _common.write_figure(out, figures.tail_loss_figure, categories=args.zipf[0],
                             exponent=args.zipf[1], **common)
    elif args.figure == "survival":
        counts = args.original_counts
        _common.write_figure(out, figures.survival_figure,
                             original_counts=[counts] if isinstance(counts, int) else counts,
                             **common)
    else:
        _common.write_figure(out, figures.absorption_figure, categories=args.categories, **common)
    return 0
