"""CLI for the KDE family: ``simulate kde`` and ``figure kde``."""

from __future__ import annotations

import numpy as np

from . import _common


def register(commands):
    sim = _common.simulate_parser(
        commands, "kde", _simulate,
        help="kernel-density-estimation refitting chain (Kazdan et al.)",
        description="Refit a 1-D Gaussian KDE to samples of the previous KDE, generation after "
                    "generation; print the model variance V = s² + h² per generation with its "
                    "closed-form mean where one exists.")
    _common.add_chain_arguments(
        sim, sample_size_help="points drawn per fit: one M >= 2, or a schedule M_1,...,M_G")
    sim.add_argument("--bandwidth", default="scott", metavar="{h,RULE[:c]}",
                     help="fixed h > 0, or a rule of thumb recomputed at every fit: "
                          "scott (c σ̂ N^-1/5, c = 1), silverman (c min(σ̂, IQR/1.34) N^-1/5, "
                          "c = 0.9), scipy-silverman (c σ̂ (3N/4)^-1/5), sklearn-scott "
                          "(c N^-1/5, unscaled) or sklearn-silverman (c (3N/4)^-1/5, unscaled); "
                          "default scott")
    sim.add_argument("--data", default="gaussian",
                     help="D0's shape: gaussian, student-t[:df], uniform, laplace, mixture[:delta] "
                          "(default %(default)s)")
    sim.add_argument("--mean", type=float, default=0.0, help="D0's mean (default %(default)s)")
    sim.add_argument("--std", type=float, default=1.0,
                     help="D0's standard deviation (default %(default)s)")
    sim.add_argument("--centres", action="store_true",
                     help="also store the centres in --out (trials × recorded × N_max floats; "
                          "default: not stored)")
    _common.add_policy_arguments(sim)
    _common.add_run_arguments(sim)

    fig = _common.figure_parser(
        commands, "kde", _figure,
        help="KDE chain: replace vs accumulate, fixed h vs Scott's rule, densities",
        description="Model variance per generation (bands and closed forms) under replace and "
                    "accumulate, fixed h and Scott's rule, and the density of one chain.")
    fig.add_argument("--generations", type=int, default=200, help="fits (default %(default)s)")
    fig.add_argument("--trials", type=int, default=1000, help="chains (default %(default)s)")
    fig.add_argument("--sample-size", type=int, default=20, help="M (default %(default)s)")
    fig.add_argument("--bandwidth", type=float, default=0.3,
                     help="fixed h (default %(default)s)")
    fig.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")


def _simulate(args) -> int:
    from .. import kde
    from ..sources import real_data
    from ..theory import kde as theory

    out = _common.check_out(args.out)
    key = _common.key_from_seed(args.seed)
    policy = kde.parse_policy(_common.policy(args))
    bandwidth = kde.parse_bandwidth(args.bandwidth)
    source = real_data(args.data)
    with _common.precision(args.x64):
        res = kde.simulate(key, sample_size=args.sample_size, generations=args.generations,
                           trials=args.trials, bandwidth=bandwidth, policy=policy, data=source,
                           mean=args.mean, std=args.std, record=args.record,
                           centres=args.centres, **_common.run_options(args))
    gens = np.asarray(res.generation)
    log_v = np.asarray(res.log_variance, np.float64)
    closed = bandwidth.rule != "silverman" and policy.name in kde.CLOSED_FORM_POLICIES
    if not closed:
        expected = None
    else:
        mo = theory.moments(args.sample_size, args.generations, bandwidth=bandwidth,
                            policy=policy, variance0=args.std ** 2)
        expected = {"expected_variance": mo.variance[gens],
                    "expected_mean_sq_dev": mo.mean_sq_dev[gens]}
    dtype = str(res.log_variance.dtype)
    print(f"kde chain: generations={args.generations}, trials={args.trials}, "
          f"bandwidth={bandwidth}, policy={policy}, data={source.name}, {dtype}")
    mean_sq = (np.asarray(res.mean, np.float64) - args.mean) ** 2
    rows = []
    for i in _common.subsample(gens.size):
        v = np.exp(log_v[:, i])
        row = [int(gens[i]), int(res.size[i]), *np.quantile(v, [0.5, 0.1, 0.9]).tolist(),
               float(v.mean()), float(mean_sq[:, i].mean())]
        row += [float(expected["expected_variance"][i])] if expected else ["—"]
        rows.append(row)
    _common.print_table(["generation", "N", "median V", "q10", "q90", "mean V", "mean (x̄−μ0)²",
                         "E V (closed form)"], rows)
    if expected is None and bandwidth.rule == "silverman":
        print("E V: no closed form for Silverman's rule (the IQR is not quadratic in the centres)")
    elif expected is None:
        print(f"E V: no closed form under policy {policy}")
    if out is not None:
        arrays = {"generation": gens, "log_variance": res.log_variance,
                  "log_centre_variance": res.log_centre_variance,
                  "log_bandwidth": res.log_bandwidth, "mean": res.mean, "size": res.size}
        if args.centres:
            arrays["centres"] = res.centres
        arrays.update(expected or {})
        cfg = _common.config(args, dtype=dtype, data_name=source.name,
                             bandwidth_rule=str(bandwidth), policy_name=str(policy))
        _common.write_npz(out, arrays, cfg)
        print(f"wrote {out}")
    return 0


def _figure(args) -> int:
    from ..figures.kde import kde_figure

    out = _common.check_figure_out(args.out)
    _common.write_figure(out, kde_figure, generations=args.generations, trials=args.trials,
                         sample_size=args.sample_size, bandwidth=args.bandwidth, seed=args.seed,
                         **_common.run_options(args))
    return 0
