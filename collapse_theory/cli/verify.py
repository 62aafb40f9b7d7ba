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
    p.add_argument("--quick", action="store_true", help="small sizes (a few minutes on a 2-core CPU)")
    p.add_argument("--report", metavar="DIR", help="write report.json, report.md and figures here")
    p.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    p.add_argument("--only", metavar="PATTERN", help="run the checks whose id matches (glob or substring)")
    p.add_argument("--alpha", type=float, default=None, help="family-wise false-failure rate (default 0.01)")
    p.add_argument("--vary-seed", type=int, metavar="N", default=None,
                   help="repeat the suite with N fresh seeds and report the false-failure rate")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .. import verify

    alpha = verify.ALPHA if args.alpha is None else _validate.real(
        "--alpha", args.alpha, minimum=0.0, maximum=1.0, strict_minimum=True)
    if args.report is not None:
        _validate.writable_dir("--report", args.report)
        os.makedirs(args.report, exist_ok=True)
    if args.vary_seed is not None:
        repeats = _validate.integer("--vary-seed", args.vary_seed, minimum=1)
        ok, summary = verify.vary_seed(repeats, seed=args.seed, quick=args.quick, only=args.only,
                                       alpha=alpha, out=sys.stdout)
        if args.report is not None:
            _io.write_text(os.path.join(args.report, "vary_seed.json"),
                           json.dumps(summary, indent=2))
        return 0 if ok else 1
    ok, _ = verify.run(seed=args.seed, quick=args.quick, only=args.only, alpha=alpha,
                       report_dir=args.report, out=sys.stdout)
    return 0 if ok else 1
