"""CLI for the Gaussian family: ``simulate gaussian`` and ``figure drift|gaussian-w2|policies|schedules``."""

from __future__ import annotations

import numpy as np

from .. import _validate
from . import _common


def register(commands):
    from .. import gaussian

    sim = _common.simulate_parser(
        commands, "gaussian", _simulate, help="Gaussian refitting chain (Theorem 3.1)",
        description="Refit a Gaussian to samples of the previous fit, generation after generation; "
                    "print log det Σ, |μ − μ0|² and W2² to D0 per generation.")
    sim.add_argument("--dim", type=int, default=1, help="dimension d (default %(default)s)")
    _common.add_chain_arguments(sim)
    sim.add_argument("--estimator", choices=gaussian.ESTIMATORS, default="unbiased",
                     help="covariance estimator of each fit: unbiased (divide by M − 1) or mle "
                          "(divide by M) (default %(default)s)")
    sim.add_argument("--method", choices=gaussian.METHODS, default="exact",
                     help="exact: Bartlett decomposition; samples: draw M points and refit "
                          "(default %(default)s)")
    sim.add_argument("--data", default="gaussian",
                     help="D0's shape: gaussian, student-t[:df], uniform, laplace, mixture[:delta] "
                          "(default %(default)s)")
    sim.add_argument("--mean", type=_common.float_list, metavar="m1,...,md", help="D0's mean (default 0)")
    sim.add_argument("--cov", type=_common.float_list, metavar="c11,c12,...",
                     help="D0's covariance: d*d entries row by row, or d diagonal entries (default I)")
    _common.add_policy_arguments(sim)
    _common.add_run_arguments(sim)

    fig = _common.figure_parser(
        commands, "drift", _figure,
        help="1-D drift of the fitted mean and std from D0, with closed forms")
    fig.add_argument("--generations", type=int, default=1000, help="fits (default %(default)s)")
    fig.add_argument("--trials", type=int, default=None, help="chains per M (default 2000)")
    fig.add_argument("--sample-sizes", type=_common.int_list, default=None, metavar="M1,M2,...",
                     help="one curve per M (default 100,1000,10000,100000,10000000)")
    fig.add_argument("--estimator", choices=gaussian.ESTIMATORS, default="unbiased",
                     help="variance estimator of each fit (default %(default)s)")
    fig.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")

    w2 = _common.figure_parser(
        commands, "gaussian-w2", _w2_figure,
        help="E W2^2 of the 1-D chain against the exact form and the paper's (3/2) n/M, and "
             "Theorem 3.1: log det Sigma_n in d dimensions against its closed-form mean")
    w2.add_argument("--generations", type=int, default=1000, help="fits (default %(default)s)")
    w2.add_argument("--trials", type=int, default=2000, help="chains per curve (default %(default)s)")
    w2.add_argument("--sample-sizes", type=_common.int_list, default=[10, 100, 1000],
                    metavar="M1,M2,...", help="1-D curves, one per M (default 10,100,1000)")
    w2.add_argument("--dims", type=_common.int_list, default=[1, 2, 5], metavar="d1,d2,...",
                    help="dimensions of the Theorem 3.1 panel (default 1,2,5)")
    w2.add_argument("--dim-sample-size", type=int, default=20,
                    help="M of the Theorem 3.1 panel, > every d (default %(default)s)")
    w2.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")

    for name, help_ in (("policies", ("replace vs accumulate vs accumulate-subsample: Gaussian, "
                                      "discrete and regression chains with closed forms")),
                        ("schedules", ("growing sample sizes M_i (constant, linear, quadratic): "
                                       "which errors stay bounded"))):
        pol = _common.figure_parser(commands, name, _policy_figure, help=help_, figure=name)
        pol.add_argument("--generations", type=int, default=100 if name == "policies" else 1000,
                         help="fits per chain (default %(default)s)")
        pol.add_argument("--trials", type=int, default=1000,
                         help="chains per curve (default %(default)s)")
        pol.add_argument("--sample-size", type=int, default=10,
                         help="M, or M_1 of the growing schedules (default %(default)s)")
        pol.add_argument("--seed", type=int, default=0, help="PRNG seed (default %(default)s)")


def _cov(values, dim):
    """``--cov``: ``d*d`` entries row by row or ``d`` diagonal entries."""
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float64)
    if arr.size not in (dim, dim * dim):
        raise ValueError(f"cov must have {dim * dim} (row by row) or {dim} (diagonal) entries for "
                         f"dim={dim}, got {arr.size}")
    return _validate.spd_matrix("cov", arr.reshape(dim, dim) if arr.size == dim * dim
                                else np.diag(arr), dim)


def _simulate(args) -> int:
    from .. import gaussian, metrics
    from ..sources import real_data

    out = _common.check_out(args.out)
    key = _common.key_from_seed(args.seed)
    policy = _common.policy(args)
    dim = _validate.integer("dim", args.dim, minimum=1)
    mean = None if args.mean is None else _validate.vector("mean", args.mean, dim)
    cov = _cov(args.cov, dim)
    source = real_data(args.data)
    exact_w2 = source.is_gaussian or dim == 1
    with _common.precision(args.x64):
        result = gaussian.simulate(
            key, sample_size=args.sample_size, generations=args.generations, trials=args.trials,
            dim=dim, mean=mean, cov=cov, estimator=args.estimator, method=args.method,
            record=args.record, data=source, **_common.run_options(args),
            policy=policy)
        if exact_w2:
            w2_key = "w2_squared"
            w2 = metrics.w2_squared_to_d0(result, data=source, mean=mean, cov=cov)
        else:
            w2_key = "w2_squared_gelbrich_lower_bound"
            w2 = metrics.gelbrich_to_d0(result, mean=mean, cov=cov)
    gens = np.asarray(result.generation)
    log_det = np.asarray(result.log_det)
    mean0 = np.zeros(dim) if mean is None else mean
    mean_sq = np.sum((np.asarray(result.mean, np.float64) - mean0) ** 2, axis=-1)
    w2 = np.asarray(w2)

    dtype = str(result.log_det.dtype)
    print(f"gaussian chain: dim={dim}, generations={args.generations}, trials={args.trials}, "
          f"estimator={args.estimator}, method={args.method}, data={source.name}, "
          f"policy={policy}, {dtype}")
    w2_label = "median W2²" if exact_w2 else "median W2² lower bound (Gelbrich)"
    rows = [(int(gens[i]), *np.quantile(log_det[:, i], [0.5, 0.1, 0.9]).tolist(),
             float(mean_sq[:, i].mean()), float(np.median(w2[:, i])))
            for i in _common.subsample(gens.size)]
    _common.print_table(["generation", "median log det", "q10", "q90", "mean |μ−μ0|²", w2_label],
                        rows)
    if out is not None:
        note = ("exact W2² to D0" if exact_w2 else
                "D0 is not Gaussian and dim > 1: W2² has no closed form; stored Gelbrich's lower "
                "bound |μ−μ0|² + Bures²(Σ, Σ0)")
        cfg = _common.config(args, dtype=dtype, data_name=source.name, w2_key=w2_key, w2_note=note)
        _common.write_npz(out, {"generation": gens, "mean": result.mean, "log_det": log_det,
                                "log_diag": result.log_diag, "unit_chol": result.unit_chol,
                                w2_key: w2}, cfg)
        print(f"wrote {out}")
    return 0


def _figure(args) -> int:
    from ..figures.gaussian import drift_figure

    out = _common.check_figure_out(args.out)
    kwargs = {k: v for k, v in (("trials", args.trials), ("sample_sizes", args.sample_sizes))
              if v is not None}
    if isinstance(kwargs.get("sample_sizes"), int):
        kwargs["sample_sizes"] = [kwargs["sample_sizes"]]
    _common.write_figure(out, drift_figure, generations=args.generations, seed=args.seed,
                         estimator=args.estimator, **kwargs, **_common.run_options(args))
    return 0


def _w2_figure(args) -> int:
    from ..figures.gaussian import w2_figure

    out = _common.check_figure_out(args.out)
    listed = {k: [v] if isinstance(v, int) else v
              for k, v in (("sample_sizes", args.sample_sizes), ("dims", args.dims))}
    _common.write_figure(out, w2_figure, generations=args.generations, trials=args.trials,
                         dim_sample_size=args.dim_sample_size, seed=args.seed, **listed,
                         **_common.run_options(args))
    return 0


def _policy_figure(args) -> int:
    from ..figures import policies as figures

    out = _common.check_figure_out(args.out)
    draw = figures.policies_figure if args.figure == "policies" else figures.schedule_figure
    _common.write_figure(out, draw, generations=args.generations, trials=args.trials,
                         sample_size=args.sample_size, seed=args.seed,
                         **_common.run_options(args))
    return 0
