"""A/B of two checkouts of the package: ``run.py`` alternated in fresh processes, median rates.

    python benchmarks/ab.py OLD_DIR NEW_DIR [--runs 3] [run.py arguments, e.g. --quick]

Each run imports the package from ``OLD_DIR`` or ``NEW_DIR`` (put first on ``PYTHONPATH``) and
runs this checkout's ``run.py``; runs alternate old, new, old, new, ... so that drifts of the
machine's load hit both sides alike.  Prints one Markdown row per benchmark row: the median
rate of each side over ``--runs`` runs, its spread (min–max) and new/old.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys

ROW = re.compile(r"^  (\S.*?)\s{2,}(\d[\d.e+-]*) (\S+/s)")


def run_once(tree: str, args: list[str]) -> dict[tuple[str, str], float]:
    """Rates ``{(table, row): rate}`` of one ``run.py`` process importing the package from ``tree``."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "run.py"),
                          *args], env=env, capture_output=True, text=True, check=True).stdout
    rates, table = {}, ""
    for line in out.splitlines():
        match = ROW.match(line)
        if match:
            rates[(table, match.group(1))] = float(match.group(2))
        elif line and not line.startswith(" ") and not line.startswith("#"):
            table = line.strip()
    return rates


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--runs", type=int, default=3)
    args, rest = parser.parse_known_args(argv)  # the rest goes to run.py
    rest = [a for a in rest if a != "--"]
    runs = {"old": [], "new": []}
    for i in range(args.runs):
        for side in ("old", "new"):
            runs[side].append(run_once(getattr(args, side), rest))
            print(f"run {i + 1}/{args.runs} {side} done", file=sys.stderr, flush=True)
    print("| table | row | old (median, min–max) | new (median, min–max) | new/old |")
    print("|---|---|---:|---:|---:|")
    for key in runs["new"][0]:
        old = [r[key] for r in runs["old"] if key in r]
        new = [r[key] for r in runs["new"] if key in r]
        if not old:
            print(f"| {key[0]} | {key[1]} | — | {statistics.median(new):.3g} | new row |")
            continue
        mo, mn = statistics.median(old), statistics.median(new)
        print(f"| {key[0]} | {key[1]} | {mo:.3g} ({min(old):.3g}–{max(old):.3g}) | "
              f"{mn:.3g} ({min(new):.3g}–{max(new):.3g}) | {mn / mo:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
