"""CLI for the GMM family: ``simulate gmm``, ``figure gmm-panel`` and ``figure gmm-l2``."""

from __future__ import annotations

import json

import numpy as np

from . import _common


def register(commands):
    from .. import gmm

    sim = _common.simulate_parser(
        commands, "gmm", _simulate,
        help="Gaussian-mixture refitting chain (EM on samples of the previous fit)",
        description="Refit a full-covariance Gaussian mixture by EM to samples of the previous "
                    "fit, generation after generation (Shumailov et al.'s GMM experiment); print "
                    "the L2 distance to D0, component std and the EM diagnostics.")
    sim.add_argument("--components", type=int, default=2,
                     help="K, mixture components of each fit (default %(default)s)")
    sim.add_argument("--dim", type=int, default=2, help="dimension d (default %(default)s)")
    sim.add_argument("--original", metavar="FILE.json",
                     help="D0 as JSON {\"weights\": [...], \"means\": [[...]], \"cov\": [[[...]]]} "
                          "(default: mixture.paper_mixture, 2 components in 2-D, std 0.9)")
    _common.add_chain_arguments(
        sim, trials=100, sample_size=1000,
        sample_size_help="samples per fit: one M (default 1000), or a schedule M_1,...,M_G")
    sim.add_argument("--init", choices=gmm.INITS, default="warm",
                     help="EM start: warm (previous fit; default) or kmeans++")
    sim.add_argument("--em-steps", type=int, default=100,
                     help="EM iteration cap (default %(default)s)")
    sim.add_argument("--tol", type=float, default=1e-3,
                     help="stop when the mean log-likelihood changes by less "
                          "(default %(default)s)")
    sim.add_argument("--reg-covar", type=float, default=1e-6,
                     help="covariance floor added to every diagonal (default %(default)s)")
    _common.add_policy_arguments(sim)
    _common.add_run_arguments(sim)

    panel = _common.figure_parser(
        commands, "gmm-panel", _panel,
        help="one GMM chain's fits at generations 0, 50, ..., 2000 (the paper's panel)")
    panel.add_argument("--generations", type=_common.int_list, default=None, metavar="G1,G2,...",
                       help="generations shown (default 0,50,100,150,200,350,2000)")
    panel.add_argument("--sample-size", type=int, default=1000, help="M (default %(default)s)")
    panel.add_argument("--trial", type=int, default=0, help="which trial (default %(default)s)")
    panel.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")

    l2 = _common.figure_parser(
        commands, "gmm-l2", _l2,
        help="L2 distance of GMM fits to D0 over generations (median, quantile bands)")
    l2.add_argument("--generations", type=int, default=2000,
                    help="fits per chain (default %(default)s)")
    l2.add_argument("--trials", type=int, default=256,
                    help="chains per policy (default %(default)s)")
    l2.add_argument("--sample-size", type=int, default=1000, help="M (default %(default)s)")
    l2.add_argument("--policies", default="replace", metavar="P1,P2,...",
                    help="one curve per policy, in --policy's grammar, e.g. replace,fresh:0.1 "
                         "(default %(default)s)")
    l2.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")


def _original(path, components, dim):
    """``--original``: a JSON file with weights, means and covariances (``None``: the paper's)."""
    from .. import mixture

    if path is None:
        return None
    try:
        with open(path) as fh:
            spec = json.load(fh)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"original={path!r}: cannot read a JSON mixture ({err})") from None
    missing = {"weights", "means", "cov"} - set(spec)
    if missing:
        raise ValueError(f"original={path!r} lacks {', '.join(sorted(missing))}")
    return mixture.from_cov(spec["weights"], spec["means"], spec["cov"])


def _simulate(args) -> int:
    from .. import gmm, mixture

    out = _common.check_out(args.out)
    key = _common.key_from_seed(args.seed)
    policy = _common.policy(args)
    original = _original(args.original, args.components, args.dim)
    with _common.precision(args.x64):
        res = gmm.simulate(
            key, components=args.components, sample_size=args.sample_size,
            generations=args.generations, trials=args.trials, dim=args.dim, original=original,
            init=args.init, em_steps=args.em_steps, tol=args.tol, reg_covar=args.reg_covar,
            policy=policy, record=args.record, **_common.run_options(args))
        d0 = original if original is not None else mixture.paper_mixture()
        l2 = np.asarray(mixture.l2_distance(res.mixture, d0))
        std = np.asarray(mixture.component_std(res.mixture))
    gens = np.asarray(res.generation)
    dtype = str(res.weights.dtype)
    print(f"gmm chain: K={args.components}, dim={args.dim}, generations={args.generations}, "
          f"trials={args.trials}, init={args.init}, policy={policy}, reg_covar={args.reg_covar:g}, "
          f"{dtype}")
    floored = np.asarray(res.floored_fits) > 0
    rows = [(int(gens[i]), *np.quantile(l2[:, i], [0.5, 0.1, 0.9]).tolist(),
             float(np.median(std[:, i])), float(np.mean(np.asarray(res.em_iterations)[:, i])),
             float(floored[:, i].mean()), int(np.asarray(res.empty_events)[:, i].sum()),
             int(np.asarray(res.singular_events)[:, i].sum()))
            for i in _common.subsample(gens.size)]
    _common.print_table(["generation", "median L2 to D0", "q10", "q90", "median comp std",
                         "mean EM iters", "share floored", "empty events", "singular events"],
                        rows)
    unconverged = int(np.asarray(res.unconverged_fits)[:, -1].sum())
    if unconverged:
        print(f"note: {unconverged} fits stopped at --em-steps={args.em_steps} before --tol")
    if out is not None:
        cfg = _common.config(args, dtype=dtype, policy_parsed=str(policy),
                             original_mixture="paper_mixture" if original is None else "file")
        arrays = {k: v for k, v in res._asdict().items()}
        arrays.update(l2_distance=l2, component_std=std)
        _common.write_npz(out, arrays, cfg)
        print(f"wrote {out}")
    return 0


def _panel(args) -> int:
    from ..figures.gmm import PANEL_GENERATIONS, panel_figure

    out = _common.check_figure_out(args.out)
    gens = args.generations if args.generations is not None else PANEL_GENERATIONS
    _common.write_figure(out, panel_figure, generations=[gens] if isinstance(gens, int) else gens,
                         sample_size=args.sample_size, seed=args.seed, trial=args.trial,
                         **_common.run_options(args))
    return 0


def _l2(args) -> int:
    from ..figures.gmm import l2_figure

    out = _common.check_figure_out(args.out)
    policies = _common.policy_list(args.policies, args.sample_size, args.generations)
    _common.write_figure(out, l2_figure, generations=args.generations, trials=args.trials,
                         sample_size=args.sample_size, seed=args.seed,
                         policies=policies, **_common.run_options(args))
    return 0
