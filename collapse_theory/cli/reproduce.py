"""``collapse-theory reproduce``: the paper's experiments in one report (see
``collapse_theory.reproduce``)."""

from __future__ import annotations

import argparse
import sys

from . import _common


def add_parser(top) -> None:
    p = top.add_parser(
        "reproduce", help="run the paper's experiments and write a report beside its numbers",
        description="Run the experiments of Shumailov et al. (2024) - discrete resampling, the "
                    "Gaussian chain, the GMM, the VAE, the language models, and the follow-ups' "
                    "data policies - and write report.md, report.json, a self-contained "
                    "report.html and the figures, with the paper's numbers beside ours. Every "
                    "figure is also a 'collapse-theory figure' command, printed under it.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="scale", action="store_const", const="quick",
                      help="small sizes, under 10 minutes on a 2-core CPU (the default)")
    size.add_argument("--full", dest="scale", action="store_const", const="full",
                      help="the paper's GMM scale and the figures' defaults (README: its time; default: "
                           "--quick)")
    size.add_argument("--smoke", dest="scale", action="store_const", const="smoke",
                      help="tiny sizes, a few minutes: checks the command runs (the test "
                           "suite's); its numbers mean nothing (default: --quick)")
    p.add_argument("--only", metavar="NAME[,NAME...]",
                   help="run these sections only: discrete, gaussian, gmm, vae, lm, policies "
                        "(default: all)")
    p.add_argument("--report", metavar="DIR", default="reproduction",
                   help="folder of the report, created if missing (default %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the run, in [0, 2**32 - 1] (default %(default)s)")
    _common.add_progress_arguments(p)
    p.set_defaults(func=_run, scale="quick")


def _run(args: argparse.Namespace) -> int:
    from .. import _validate, reproduce

    seed = _validate.seed(args.seed)
    reproduce.select(args.only)  # an unknown section is refused before any work
    _validate.writable_dir("--report", args.report)
    command = " ".join(["collapse-theory reproduce", f"--{args.scale}", f"--seed {seed}"]
                       + ([f"--only {args.only}"] if args.only else []))
    reproduce.run(args.report, scale=args.scale, only=args.only, seed=seed,
                  progress=_common.show_progress(args.progress), out=sys.stdout,
                  command=command)
    return 0
