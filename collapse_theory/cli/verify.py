"""``collapse-theory verify``: the verification report (see ``collapse_theory.verify``)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .. import _io, _validate


def add_parser(top) -> None:
    p = top.add_parser("verify", help="check every closed form against simulation",
                       description="Check every closed form against simulation, each with a "
                                   "negative control; exit 0 only if all behave.")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, a few minutes on a 2-core CPU (default: the full run, 16x "
                        "the trials)")
    p.add_argument("--report", metavar="DIR",
                   help="write report.json, report.md and checks.png here, each whole or not at "
                        "all; DIR is created if missing (default: print the table only)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the run, in [0, 2**32 - 1] (default %(default)s)")
    p.add_argument("--only", metavar="PATTERN",
                   help="run the checks whose id matches (glob or substring; default: every check)")
    p.add_argument("--alpha", type=float, default=None,
                   help="family-wise false-failure rate, in (0, 1] (default 0.01)")
    p.add_argument("--vary-seed", type=int, metavar="N", default=None,
                   help="repeat the suite with seeds SEED..SEED+N-1 and report the false-failure "
                        "rate (default: one run)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .. import verify

    alpha = verify.ALPHA if args.alpha is None else _validate.real(
        "--alpha", args.alpha, minimum=0.0, maximum=1.0, strict_minimum=True)
    seed = _validate.seed(args.seed)
    repeats = None if args.vary_seed is None else \
        _validate.integer("--vary-seed", args.vary_seed, minimum=1)
    if repeats is not None and seed + repeats - 1 > _validate.MAX_SEED:
        raise ValueError(f"--vary-seed {repeats} from seed {seed} runs seeds up to "
                         f"{seed + repeats - 1}, beyond the largest seed {_validate.MAX_SEED}")
    verify.select(args.only)  # an --only that matches no check is refused before any work
    if args.report is not None:
        _validate.writable_dir("--report", args.report)
        os.makedirs(args.report, exist_ok=True)
    if repeats is not None:
        ok, summary = verify.vary_seed(repeats, seed=seed, quick=args.quick, only=args.only,
                                       alpha=alpha, out=sys.stdout)
        if args.report is not None:
            _io.write_text(os.path.join(args.report, "vary_seed.json"),
                           json.dumps(summary, indent=2))
        return 0 if ok else 1
    ok, _ = verify.run(seed=seed, quick=args.quick, only=args.only, alpha=alpha,
                       report_dir=args.report, out=sys.stdout)
    return 0 if ok else 1
