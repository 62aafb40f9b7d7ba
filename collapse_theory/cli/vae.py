"""CLI for the VAE chain: ``simulate vae`` and ``figure vae-samples|vae-latents|vae-metrics``."""

from __future__ import annotations

import numpy as np

from . import _common

#: Largest number of generations a VAE figure runs (every generation trains a VAE per trial).
MAX_FIGURE_GENERATIONS = 1000


def register(commands):
    sim = _common.simulate_parser(
        commands, "vae", _simulate,
        help="VAE refitting chain on scikit-learn's 8x8 digits (the paper's VAE experiment)",
        description="Train a VAE on the real digits, then each generation a fresh VAE on "
                    "samples of the previous one, many chains at once (Shumailov et al.'s VAE "
                    "experiment); print per generation the spread of the latent means under "
                    "the first fit's encoder, the ELBO of real validation digits, the entropy "
                    "of the samples' predicted classes and their MMD to real digits.")
    sim.add_argument("--generations", type=int, required=True,
                     help="number of fits G (required)")
    sim.add_argument("--trials", type=int, default=8,
                     help="independent chains (default %(default)s)")
    _add_sample_size(sim)
    _add_config_arguments(sim)
    _common.add_chunk_size(sim)
    _common.add_policy_arguments(sim)
    _common.add_run_arguments(sim)

    samples = _common.figure_parser(
        commands, "vae-samples", _samples,
        help="decoded samples of one VAE chain at a few generations (the paper's Fig. 9)")
    _add_shown_generations(samples, "shown", "0,1,5,10,20")
    samples.add_argument("--trial", type=int, default=0,
                         help="which trial (default %(default)s)")
    _add_figure_run_arguments(samples)

    latents = _common.figure_parser(
        commands, "vae-latents", _latents,
        help="law of the latent means of each generation's samples under the first fit's "
             "encoder (the paper's Fig. 8)")
    _add_shown_generations(latents, "drawn", "0,1,2,5,10,20")
    latents.add_argument("--trials", type=int, default=16,
                         help="chains, pooled (default %(default)s)")
    _add_figure_run_arguments(latents)

    metrics = _common.figure_parser(
        commands, "vae-metrics", _metrics,
        help="latent std, ELBO, class entropy and MMD over generations, one curve per policy")
    metrics.add_argument("--generations", type=int, default=20,
                         help="fits per chain (default %(default)s)")
    metrics.add_argument("--trials", type=int, default=16,
                         help="chains per policy (default %(default)s)")
    metrics.add_argument("--policies", default="replace,fresh:0.1", metavar="P1,P2,...",
                         help="one curve per policy, in --policy's grammar "
                              "(default %(default)s)")
    _add_figure_run_arguments(metrics)


def _add_shown_generations(parser, verb: str, default: str):
    parser.add_argument("--generations", type=_common.int_list, default=default,
                        metavar="G1,G2,...",
                        help=f"generations {verb}, 0 = the real digits (default %(default)s)")


def _add_sample_size(parser):
    from ..vae.data import TRAIN_SIZE

    parser.add_argument("--sample-size", type=int, default=None, metavar="M",
                        help=f"samples of the previous VAE each fit trains on (default: the "
                             f"training split's size, {TRAIN_SIZE})")


def _add_config_arguments(parser):
    """One option per field of :class:`vae.Config`, its default the Config's."""
    from ..vae import Config
    from ..vae.networks import ARCHS, LIKELIHOODS

    from ..vae.config import DEFAULT_WIDTHS

    d = Config._field_defaults
    widths = "; ".join(f"{arch} {','.join(map(str, w))}" for arch, w in DEFAULT_WIDTHS.items()
                       if w)
    parser.add_argument("--latent", type=int, default=d["latent"],
                        help="latent dimensions (default %(default)s)")
    parser.add_argument("--arch", choices=ARCHS, default=d["arch"],
                        help="encoder/decoder architecture (default %(default)s)")
    parser.add_argument("--widths", type=_common.int_list, default=None,
                        metavar="W1,W2,...",
                        help="hidden widths (mlp) or channels c1,c2 of the two convolutions "
                             "(conv), mirrored by the decoder; ignored by linear "
                             f"(default {widths})")
    parser.add_argument("--epochs", type=int, default=d["epochs"],
                        help="training epochs per fit (default %(default)s)")
    parser.add_argument("--batch", type=int, default=d["batch"],
                        help="minibatch size (default %(default)s)")
    parser.add_argument("--lr", type=float, default=d["lr"],
                        help="Adam learning rate (default %(default)s)")
    parser.add_argument("--weight-decay", type=float, default=d["weight_decay"],
                        help="L2 weight decay added to the gradient before Adam, as PyTorch's "
                             "(default %(default)s)")
    parser.add_argument("--beta", type=float, default=d["beta"],
                        help="weight of the KL term of the ELBO (default %(default)s)")
    parser.add_argument("--likelihood", choices=LIKELIHOODS, default=d["likelihood"],
                        help="decoder likelihood of a pixel (default %(default)s)")


def _add_figure_run_arguments(parser):
    """``--seed --sample-size --chunk-size`` and the Config options of a VAE figure."""
    parser.add_argument("--seed", type=int, default=0,
                        help="PRNG seed; every VAE figure draws the same replace chains for one "
                             "seed (default %(default)s)")
    _add_sample_size(parser)
    _common.add_chunk_size(parser)
    _add_config_arguments(parser)


def _tuple(widths):
    return widths if widths is None else (widths,) if isinstance(widths, int) else tuple(widths)


def _sample_size(args) -> int:
    """``--sample-size``, or the training split's size."""
    from ..vae.data import TRAIN_SIZE

    return TRAIN_SIZE if args.sample_size is None else args.sample_size


def _config(args):
    """The validated :class:`vae.Config` of the Config options, once ``--sample-size`` and
    ``--chunk-size`` are checked (before any work: ``vae.simulate`` trains its classifier
    first)."""
    from .. import _validate
    from ..vae import Config
    from ..vae.config import check

    _validate.integer("sample_size", _sample_size(args), minimum=1)
    _common.check_chunk_size(args)
    return check(Config(latent=args.latent, arch=args.arch, widths=_tuple(args.widths),
                        epochs=args.epochs, batch=args.batch, lr=args.lr,
                        weight_decay=args.weight_decay, beta=args.beta,
                        likelihood=args.likelihood))


def _figure_key(seed, i: int = 0):
    """The key of a VAE figure's ``i``-th policy: ``fold_in(key(seed), i)``, so that the samples
    and latents figures show the chains of ``vae-metrics``'s first curve."""
    import jax

    return jax.random.fold_in(_common.key_from_seed(seed), i)


def _run(args, key, config, *, generations, trials, policy="replace", record=None):
    """``vae.simulate`` with the run options of ``args`` (``--progress --memory-limit`` too)."""
    from .. import vae

    return vae.simulate(
        key, generations=generations, trials=trials, policy=policy, config=config,
        sample_size=args.sample_size, record=record, chunk_size=args.chunk_size,
        **_common.run_options(args))


def _simulate(args) -> int:
    from .. import policies

    out = _common.check_out(args.out)
    key = _common.key_from_seed(args.seed)
    policy = policies.parse(args.policy, gamma=args.gamma, lam=args.lam)
    _common.refuse_rounding(policy, _sample_size(args), args.generations)
    cfg = _config(args)
    with _common.precision(args.x64):
        res = _run(args, key, cfg, generations=args.generations, trials=args.trials,
                   policy=policy, record=args.record)
    gens = np.asarray(res.generation)
    dtype = str(res.elbo.dtype)
    print(f"vae chain: generations={args.generations}, trials={args.trials}, policy={policy}, "
          f"arch={cfg.arch}, latent={cfg.latent}, widths={','.join(map(str, cfg.widths))}, "
          f"epochs={cfg.epochs}, {dtype}")
    std = np.asarray(res.latent_std_mean, np.float64)
    columns = [np.asarray(a, np.float64) for a in (res.elbo, res.class_entropy, res.mmd)]
    rows = []
    for i in _common.subsample(gens.size, 12):
        rows.append([int(gens[i]), int(res.size[i]),
                     *np.quantile(std[:, i], [0.5, 0.1, 0.9]).tolist(),
                     *(float(np.median(c[:, i])) if not np.all(np.isnan(c[:, i])) else "—"
                       for c in columns)])
    _common.print_table(["generation", "N", "median latent std", "q10", "q90",
                         "median ELBO (nats)", "median class entropy (nats)", "median MMD²"],
                        rows)
    print("generation 0 is the real digits (no ELBO); latent std: per-dimension std of the "
          "latent means of samples under fit 1's encoder, mean over dimensions")
    if out is not None:
        arrays = dict(res._asdict(), latent_std_mean=std)
        _common.write_npz(out, arrays, _common.config(
            args, dtype=dtype, policy_parsed=str(policy), vae_config=cfg._asdict()))
        print(f"wrote {out}")
    return 0


def _generations(value) -> tuple[list[int], int]:
    """``--generations`` as a list, each in ``[0, MAX_FIGURE_GENERATIONS]``, and the largest
    (at least 1: a fitted VAE)."""
    from .. import _validate

    gens = [_validate.integer("generations", g, minimum=0, maximum=MAX_FIGURE_GENERATIONS)
            for g in (value if isinstance(value, (list, tuple)) else [value])]
    if max(gens) < 1:
        raise ValueError("generations must include a generation >= 1 (a fitted VAE)")
    return gens, max(gens)


def _samples(args) -> int:
    from .. import _validate
    from ..figures import vae as figures

    out = _common.check_figure_out(args.out)
    gens, top = _generations(args.generations)
    trial = _validate.integer("trial", args.trial, minimum=0)
    res = _run(args, _figure_key(args.seed), _config(args), generations=top, trials=trial + 1,
               record=sorted(set(gens)))
    _common.write_figure(out, figures.samples, result=res, trial=trial, generations=gens)
    return 0


def _latents(args) -> int:
    from ..figures import vae as figures

    out = _common.check_figure_out(args.out)
    gens, top = _generations(args.generations)
    res = _run(args, _figure_key(args.seed), _config(args), generations=top,
               trials=args.trials, record=sorted(set(gens)))
    _common.write_figure(out, figures.latents, result=res, generations=gens)
    return 0


def _metrics(args) -> int:
    from ..figures import vae as figures

    out = _common.check_figure_out(args.out)
    _, top = _generations(args.generations)
    pols = _common.policy_list(args.policies, _sample_size(args), top)
    cfg = _config(args)
    results = {p: _run(args, _figure_key(args.seed, i), cfg, generations=top,
                       trials=args.trials, policy=p)
               for i, p in enumerate(pols)}
    _common.write_figure(out, figures.metrics, results=results)
    return 0
