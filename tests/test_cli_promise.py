"""The CLI's promise (issue #16 §2–§3): every bad input is refused before any work in exactly one
line on stderr with exit status 2; one policy grammar everywhere; Ctrl-C acts at once, says
"interrupted" (status 130) and leaves no partial file; every command and option has help."""

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import pytest

from collapse_theory import _io, _validate, engine, policies
from collapse_theory.cli import build_parser, main

SIM = ["--sample-size", "10", "--generations", "3", "--trials", "4"]


def _existing_file(tmp_path):
    path = tmp_path / "existing"
    path.write_text("x")
    return str(path)


#: (argv, a word the one line must contain); ``{file}`` is an existing regular file.
CASES = [
    # §2: paths are checked before the work
    (["simulate", "gaussian", *SIM, "--out", ""], "out must be a path"),
    (["simulate", "gaussian", *SIM, "--out", "/proc/x.npz"], "cannot create files in '/proc'"),
    (["simulate", "kde", *SIM, "--out", "/sys/x.npz"], "cannot create files in '/sys'"),
    (["verify", "--report", "/proc/report"], "--report"),
    (["verify", "--report", "/sys/report"], "--report"),
    (["verify", "--report", "{file}"], "exists and is not a directory"),
    (["verify", "--report", "{file}/sub"], "is not a directory"),
    (["figure", "drift", "--out", "x.foo"], "extension must name a figure format"),
    (["figure", "gmm-l2", "--out", "x"], "extension must name a figure format"),
    (["figure", "kde", "--out", ""], "out must be a path"),
    # §3: seeds
    (["verify", "--seed", "99999999999999999999"], "seed must be in [0, 2**32 - 1]"),
    (["verify", "--seed", "-1"], "seed must be in [0, 2**32 - 1]"),
    (["verify", "--seed", str(2 ** 32 - 1), "--vary-seed", "2"], "largest seed"),
    (["simulate", "gaussian", *SIM, "--seed", "-1"], "seed must be in [0, 2**32 - 1]"),
    (["simulate", "discrete", "--probs", "0.5,0.5", *SIM, "--seed", "99999999999999999999"],
     "seed must be in [0, 2**32 - 1]"),
    (["figure", "survival", "--out", "x.png", "--seed", "-5"], "seed must be in [0, 2**32 - 1]"),
    (["verify", "--only", "no-such-check"], "matches no check"),
    (["verify", "--alpha", "0"], "--alpha"),
    # §3: negative numbers are values, and are checked before the run
    (["simulate", "discrete", "--probs", "-0.1,1.1", *SIM], "probs must be >= 0"),
    (["simulate", "discrete", "--probs", "0.5,0.5", *SIM, "--tail-threshold", "-1"],
     "tail_threshold must be >= 0"),
    (["simulate", "discrete", "--probs", "0.5,0.5", *SIM, "--tail-threshold", "-1e-3"],
     "tail_threshold must be >= 0"),
    (["simulate", "gaussian", *SIM, "--mean", "-1,2"], "mean must have shape (1,)"),
    (["simulate", "discrete", "--probs", "True,False", *SIM], "--probs: invalid float_list"),
    # §3: one policy grammar, and no silent nonsense
    (["simulate", "gaussian", *SIM, "--policy", "fresh:2"], "policy 'fresh:2': gamma"),
    (["simulate", "gaussian", *SIM, "--policy", "fresh:0.1", "--gamma", "0.2"],
     "already carries"),
    (["simulate", "gaussian", *SIM, "--policy", "fresh"], "needs gamma"),
    (["simulate", "kde", *SIM, "--policy", "bogus"], "policy must be one of"),
    (["simulate", "gaussian", *SIM, "--policy", "fixed:0.01"], "rounds to 0 synthetic points"),
    (["simulate", "discrete", "--probs", "0.5,0.5", *SIM, "--policy", "fixed:0.01"],
     "rounds to 0 synthetic points"),
    (["simulate", "gmm", *SIM, "--policy", "fixed:0.01"], "rounds to 0 synthetic points"),
    (["simulate", "kde", *SIM, "--policy", "fresh:0.01"], "rounds to 0 fresh points"),
    (["simulate", "gaussian", *SIM, "--policy", "fresh", "--gamma", "0.99"],
     "rounds to 0 synthetic points"),
    (["figure", "gmm-l2", "--out", "x.png", "--policies", "replace,fresh:2"],
     "policy 'fresh:2': gamma"),
    (["figure", "gmm-l2", "--out", "x.png", "--policies", "replace,bogus"],
     "policy must be one of"),
    # --memory-limit: a run estimated to need more is refused before any work
    (["simulate", "gaussian", *SIM, "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["simulate", "gaussian", *SIM, "--dim", "2", "--memory-limit", "1K"],
     "limit (--memory-limit)"),
    # (the discrete run records its K = 2 int32 counts: it needs 1 KiB exactly)
    (["simulate", "discrete", "--probs", "0.5,0.5", *SIM, "--memory-limit", "1000"],
     "limit (--memory-limit)"),
    (["simulate", "gmm", *SIM, "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["simulate", "kde", *SIM, "--memory-limit", "1k"], "limit (--memory-limit)"),
    (["figure", "drift", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "policies", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "schedules", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "tail-loss", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "survival", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "absorption", "--out", "x.png", "--memory-limit", "1K"],
     "limit (--memory-limit)"),
    (["figure", "gmm-panel", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "gmm-l2", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "kde", "--out", "x.png", "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["simulate", "gaussian", *SIM, "--memory-limit", "8X"], "--memory-limit: expected a number"),
    (["simulate", "gaussian", *SIM, "--memory-limit", "0"], "--memory-limit: expected a number"),
    (["figure", "kde", "--out", "x.png", "--memory-limit", "0.1"],
     "--memory-limit: expected a number"),
    (["simulate", "kde", *SIM, "--memory-limit", str(10 ** 30)], "memory_limit must be in"),
]


@pytest.mark.parametrize("argv, words", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_is_one_line_and_status_2(argv, words, tmp_path, monkeypatch, capsys, no_work):
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{file}", _existing_file(tmp_path)) for a in argv]
    before = sorted(os.listdir(tmp_path))
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n"), captured.err
    assert "Traceback" not in captured.err and words in captured.err, captured.err
    assert captured.out == ""
    assert sorted(os.listdir(tmp_path)) == before  # no file, no report directory
    assert elapsed < 5, elapsed


def test_memory_limit_reads_bytes_with_suffixes():
    from collapse_theory.cli._common import byte_count

    for text, value in [("1000", 1000), ("1K", 1024), ("512M", 512 * 2 ** 20),
                        ("8G", 8 * 2 ** 30), ("8g", 8 * 2 ** 30), ("8GiB", 8 * 2 ** 30),
                        ("8GB", 8 * 2 ** 30), ("1.5G", 3 * 2 ** 29), ("2T", 2 ** 41),
                        (" 64 M ", 64 * 2 ** 20)]:
        assert byte_count(text) == value, text
    for bad in ("", "G", "8X", "-1", "0", "0.0001K", "1e9", "8 GG"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected a number of bytes"):
            byte_count(bad)


FIGURES = {"drift": ("collapse_theory.figures.gaussian", "drift_figure"),
           "policies": ("collapse_theory.figures.policies", "policies_figure"),
           "schedules": ("collapse_theory.figures.policies", "schedule_figure"),
           "gaussian-w2": ("collapse_theory.figures.gaussian", "w2_figure"),
           "tail-loss": ("collapse_theory.figures.discrete", "tail_loss_figure"),
           "tail-histograms": ("collapse_theory.figures.discrete", "histogram_figure"),
           "survival": ("collapse_theory.figures.discrete", "survival_figure"),
           "absorption": ("collapse_theory.figures.discrete", "absorption_figure"),
           "gmm-panel": ("collapse_theory.figures.gmm", "panel_figure"),
           "gmm-l2": ("collapse_theory.figures.gmm", "l2_figure"),
           "kde": ("collapse_theory.figures.kde", "kde_figure")}


def test_every_figure_is_listed():
    """FIGURES covers every figure command but the VAE's and the language models' (their own
    tests: they simulate in the command, not in the figure function)."""
    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction)).choices["figure"]
    names = next(a for a in commands._actions
                 if isinstance(a, argparse._SubParsersAction)).choices
    assert set(names) - {n for n in names if n.startswith(("vae", "lm-"))} == set(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
@pytest.mark.parametrize("flags, progress, limit", [([], False, None),
                                                    (["--progress", "--memory-limit", "2G"],
                                                     True, 2 * 2 ** 30)])
def test_figures_pass_progress_and_memory_limit_on(name, flags, progress, limit, monkeypatch,
                                                   capsys, tmp_path):
    import importlib

    module, func = FIGURES[name]
    seen = {}
    monkeypatch.setattr(importlib.import_module(module), func,
                        lambda path, **kw: seen.update(kw))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert main(["figure", name, "--out", str(tmp_path / "f.png"), *flags]) == 0
    assert seen["progress"] is progress and seen["memory_limit"] == limit
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("family", ["gaussian", "discrete", "gmm", "kde"])
def test_simulate_passes_memory_limit_on(family, monkeypatch, capsys):
    """The limit reaches the engine: the estimate in bytes passes, one byte less is refused (the
    per-generation inputs are checked first, then the whole run: two estimates)."""
    extra = ["--probs", "0.5,0.5"] if family == "discrete" else []
    argv = ["simulate", family, *extra, *SIM, "--record", "all"]
    limit, needs = 1, []
    while main([*argv, "--memory-limit", str(limit)]) == 2:
        err = capsys.readouterr().err
        assert "limit (--memory-limit)" in err, err
        needs.append(int(re.search(r"needs about \S+ GiB \((\d+) bytes\)", err)[1]))
        assert needs[-1] > limit and len(needs) <= 2
        limit = needs[-1]
    assert len(needs) == 2 and "generation" in capsys.readouterr().out
    assert main([*argv, "--memory-limit", str(limit - 1)]) == 2
    assert f"({limit} bytes)" in capsys.readouterr().err


def test_policy_grammar_is_the_apis(capsys):
    """``--policy fresh:0.1`` is ``--policy fresh --gamma 0.1``, as ``policies.parse`` reads it."""
    assert main(["simulate", "gaussian", *SIM, "--policy", "fresh:0.1"]) == 0
    short = capsys.readouterr()
    assert main(["simulate", "gaussian", *SIM, "--policy", "fresh", "--gamma", "0.1"]) == 0
    long = capsys.readouterr()
    assert short.err == long.err == "" and short.out == long.out and "policy=fresh:0.1" in short.out


@pytest.mark.parametrize("probs", [[True, False], [0.5, True], np.array([True, False]),
                                   (np.bool_(True), 0.0)], ids=repr)
def test_boolean_probs_are_refused(probs, no_work):
    """``probs=[True, False]`` was read as [1.0, 0.0]: a law of two categories, silently."""
    from collapse_theory import discrete

    with pytest.raises(TypeError, match=r"probs must hold numbers \(probabilities\), not "
                                        r"booleans, got"):
        discrete.check_probs(probs)
    with pytest.raises(TypeError, match="not booleans"):
        discrete.simulate(jax.random.key(0), probs, sample_size=10, generations=3, trials=4)
    assert discrete.check_probs([1, 0]).tolist() == [1.0, 0.0]  # integers are numbers


def test_policies_refuse_a_parameter_that_rounds_away():
    """The API refuses as the CLI does (was: a warning): fixed:0.01 at M = 10 is fixed:0."""
    m = np.full(3, 10)
    for bad, what, param in [("fixed:0.01", "synthetic", "λ M_g = 0.01 × 10"),
                             ("fresh:0.01", "fresh", "γ M_g = 0.01 × 10"),
                             ("fresh:0.99", "synthetic", "(1 − γ) M_g = 0.01 × 10")]:
        problem = policies.rounding_problem(policies.parse(bad), m)
        assert problem.startswith(f"policy '{bad}': at fit 1 {param} rounds to 0 {what} points")
        with pytest.raises(ValueError) as info:
            policies.check_sizes(policies.parse(bad), m, 1)
        assert str(info.value) == problem
    for good in ("replace", "fixed:0", "fixed:0.1", "fresh:0", "fresh:1", "fresh:0.1",
                 "fresh:0.9"):
        assert policies.rounding_problem(policies.parse(good), m) is None
        policies.check_sizes(policies.parse(good), m, 1)
    assert "at fit 3 " in policies.rounding_problem(policies.parse("fixed:0.1"),
                                                     np.array([20, 10, 4]))  # a shrinking M_g


@pytest.mark.parametrize("family", ["gaussian", "gaussian-2d", "discrete", "kde", "gmm",
                                    "regression", "chain"])
def test_every_family_refuses_a_parameter_that_rounds_away(family, no_work):
    from collapse_theory import chain, discrete, gaussian, gmm, kde, regression

    key = jax.random.key(0)
    kw = dict(generations=3, trials=4, policy="fixed:0.01")
    run = {"gaussian": lambda: gaussian.simulate(key, sample_size=10, **kw),
           "gaussian-2d": lambda: gaussian.simulate(key, sample_size=10, dim=2, **kw),
           "discrete": lambda: discrete.simulate(key, [0.5, 0.5], sample_size=10, **kw),
           "kde": lambda: kde.simulate(key, sample_size=10, **kw),
           "gmm": lambda: gmm.simulate(key, sample_size=10, **kw),
           "regression": lambda: regression.simulate(key, rows=10, dim=2, **kw),
           "chain": lambda: chain.simulate(key, discrete.family(2), discrete.initial([0.5, 0.5]),
                                           sample_size=10, **kw)}[family]
    with pytest.raises(ValueError, match=r"policy 'fixed:0.01': at fit 1 λ M_g = 0.01 × 10 "
                                         r"rounds to 0 synthetic points"):
        run()


def test_cli_refuses_a_schedule_whose_policy_rounds_away(capsys, no_work):
    assert main(["simulate", "gaussian", "--sample-size", "20,10,4", "--generations", "3",
                 "--policy", "fixed:0.1"]) == 2
    assert "at fit 3 λ M_g = 0.1 × 4 rounds to 0" in capsys.readouterr().err


def test_seed_range():
    assert _validate.seed(0) == 0 and _validate.seed(2 ** 32 - 1) == 2 ** 32 - 1
    for bad in (-1, 2 ** 32, 10 ** 20):
        with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32 - 1\]"):
            _validate.seed(bad)
    with pytest.raises(TypeError, match="seed must be an integer"):
        _validate.seed(True)


def test_discard_pending_deletes_writes_in_flight(tmp_path):
    started, release = threading.Event(), threading.Event()

    def slow(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        started.set()
        release.wait(10)

    errors = []

    def write():
        try:
            _io.atomic_write(tmp_path / "a.npz", slow)
        except OSError as err:  # the temporary file was deleted under it
            errors.append(err)

    writer = threading.Thread(target=write)
    writer.start()
    assert started.wait(10)
    assert len(os.listdir(tmp_path)) == 1  # the temporary file
    _io.discard_pending()
    assert os.listdir(tmp_path) == []
    release.set()
    writer.join()
    assert os.listdir(tmp_path) == [] and len(errors) == 1  # the write failed: nothing appeared


def test_interrupt_in_the_work_says_interrupted(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_chain", lambda *a, **k: interrupted(None))
    assert main(["simulate", "gaussian", *SIM]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_ctrl_c_acts_at_once(tmp_path, sigint_default):
    """A real SIGINT during a long compiled block (stderr not a terminal, so no progress
    blocks): the process ends within seconds, status 130, one line, no file left behind."""
    out = tmp_path / "run.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_theory", "simulate", "gaussian", "--sample-size", "10",
         "--generations", "2000000", "--trials", "2000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, preexec_fn=sigint_default)
    try:
        time.sleep(8)  # start-up and compilation; the run itself takes minutes
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        t0 = time.perf_counter()
        _, err = proc.communicate(timeout=30)
        latency = time.perf_counter() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.decode() == "interrupted\n"
    assert latency < 5, latency
    assert os.listdir(tmp_path) == []


# --- --help ------------------------------------------------------------------------------


def _parsers(parser, path=()):
    """``(path, parser, help)`` of every (sub)command."""
    yield path, parser, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield path + (name,), sub, helps.get(name)
                yield from list(_parsers(sub, path + (name,)))[1:]


def test_every_command_and_option_says_what_it_does_and_its_default():
    parser = build_parser()
    assert "collapse" in parser.description and "``" not in parser.description
    assert len(parser.description) > 200
    seen = 0
    for path, sub, help_ in _parsers(parser):
        if path:
            assert help_ and sub.description, f"{' '.join(path)}: no help or description"
        sub.format_help()  # every %(default)s expands
        for action in sub._actions:
            if not action.option_strings or action.dest == "help" or \
                    isinstance(action, argparse._SubParsersAction):
                continue
            seen += 1
            where = f"{' '.join(path)} {action.option_strings[0]}"
            assert action.help and action.help.strip(), f"{where}: no help"
            text = action.help % {"default": action.default}
            assert action.required or "default" in text or "required" in text, \
                f"{where}: no default stated"
    assert seen > 60
