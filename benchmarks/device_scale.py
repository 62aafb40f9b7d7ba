"""Rates of the 1-D Gaussian and discrete chains against the trials per call, on the default device.

    python benchmarks/device_scale.py [--quick] [--flags XLA_FLAGS ...] [--out FILE]

A GPU runs a chain's generations as a sequence of kernels, and the discrete chain's walk also
reads loop predicates back to the host, so its rate depends on how many trials share each
kernel.  This script measures that: each chain at its default ``chunk_size`` for several trial
counts (issue 14's goal 6 rows: the 1-D chain at M = 100 over 1000 generations, the discrete
chain at K = 100 Zipf(1), M = 1000 over 100 generations), and the bare vmapped
``samplers.multinomial`` for one generation.  Each ``--flags`` value reruns the discrete rows
in a child process under those ``XLA_FLAGS`` (e.g. CUDA-graph command buffers for loops).
Rates are trial-generations per second, best of the repeats after a first (compiling) call.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp

from collapse_theory import discrete, gaussian, samplers


def timed(fn, reps: int) -> tuple[float, float]:
    """(first call, best of ``reps`` later calls) in seconds."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return first, best


def rows(quick: bool, discrete_only: bool):
    """``(name, trials, generations, fn)`` of every measured row."""
    key = jax.random.key(0)
    p0 = discrete.zipf(100, 1.0)
    scale = 2 ** -6 if quick else 1
    out = []
    for t in (2 ** 18, 2 ** 20, 2 ** 21):
        t = int(t * scale)
        out.append(("discrete K = 100, discrete.simulate", t, 100, lambda t=t: discrete.simulate(
            key, p0, sample_size=1000, generations=100, trials=t, record=[100]).counts))
    probs = jnp.asarray(p0, jnp.float32)
    for t in (2 ** 18, 2 ** 21):
        t = int(t * scale)
        keys = jax.random.split(key, t)
        draw = jax.jit(jax.vmap(lambda k: samplers.multinomial(k, 1000, probs)))
        out.append(("one vmapped samplers.multinomial", t, 1, lambda d=draw, k=keys: d(k)))
    if not discrete_only:
        for t in (2 ** 22, 2 ** 23, 2 ** 24):
            t = int(t * scale)
            out.append(("1-D M = 100, gaussian.simulate", t, 1000, lambda t=t: gaussian.simulate(
                key, sample_size=100, generations=1000, trials=t, record=[1000]).log_det))
    return out


def measure(quick: bool, discrete_only: bool, label: str) -> list[dict]:
    out = []
    for name, t, g, fn in rows(quick, discrete_only):
        first, best = timed(fn, 1 if t * g >= 2 ** 27 else 2)
        r = dict(row=name, flags=label, trials=t, generations=g, seconds=best,
                 compile=max(first - best, 0.0), rate=t * g / best)
        print(json.dumps(r), flush=True)
        out.append(r)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/64 of the trials (a dry run)")
    parser.add_argument("--flags", action="append", default=[],
                        help="XLA_FLAGS for a child process that reruns the discrete rows")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    label = os.environ.get("XLA_FLAGS", "") if args.child else ""
    print(f"# {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}",
          flush=True)
    results = measure(args.quick, args.child, label)
    if args.child:
        return 0
    for flags in args.flags:
        cmd = [sys.executable, __file__, "--child"] + (["--quick"] if args.quick else [])
        env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + flags).strip())
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        results += [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode:
            print(f"--flags {flags!r} failed:\n{proc.stderr[-2000:]}", flush=True)
    table = ["| row | XLA_FLAGS | trials × generations | s | compile s | trial-gen/s |",
             "|---|---|---:|---:|---:|---:|"]
    table += [f"| {r['row']} | {r['flags'] or '(none)'} | {r['trials']} × {r['generations']} | "
              f"{r['seconds']:.3f} | {r['compile']:.1f} | {r['rate']:.3g} |" for r in results]
    report = "\n".join(table) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
