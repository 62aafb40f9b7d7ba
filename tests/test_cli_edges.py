"""The CLI's promise on bad input (one line on stderr, exit status 2, refused before any work)
and atomic output files."""

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_theory import _io, _validate, engine
from collapse_theory.cli import main

HUGE = str(10 ** 30)

#: Minimal valid arguments of each family's ``simulate``.
BASE = {
    "gaussian": ["--sample-size", "10", "--generations", "3", "--trials", "4"],
    "discrete": ["--probs", "0.5,0.5", "--sample-size", "10", "--generations", "3",
                 "--trials", "4"],
    "gmm": ["--sample-size", "10", "--generations", "3", "--trials", "4"],
    "kde": ["--sample-size", "10", "--generations", "3", "--trials", "4"],
}


def _with(base, extra):
    """``base`` with the flags of ``extra`` replaced or added."""
    args = list(base)
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


def _refused(argv, capsys, name):
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].strip() and "Traceback" not in err, err
    assert name in lines[0], lines[0]
    assert elapsed < 5, elapsed
    return lines[0]


SIMULATE_CASES = [
    (["--sample-size", HUGE], "sample_size"),
    (["--sample-size", f"10,{HUGE},10"], "sample_size"),
    (["--generations", HUGE], "generations"),
    (["--generations", str(10 ** 11)], "generations"),
    (["--trials", "5000000000"], "trials"),
    (["--trials", HUGE], "trials"),
    (["--seed", HUGE], "seed"),
    (["--out", "/proc/x.npz"], "out"),
    (["--out", "/sys/x.npz"], "out"),
    (["--out", ""], "out"),
    (["--out", "/dev/null"], "out"),
    (["--out", "missing-dir/x.npz"], "out"),
]


@pytest.mark.parametrize("family", sorted(BASE))
@pytest.mark.parametrize("extra, name", SIMULATE_CASES)
def test_simulate_refuses_bad_input_before_any_work(family, extra, name, capsys, no_work):
    _refused(["simulate", family, *_with(BASE[family], extra)], capsys, name)


def test_family_integers_that_do_not_fit(capsys, no_work):
    _refused(["simulate", "gaussian", *BASE["gaussian"], "--dim", HUGE], capsys, "dim")
    _refused(["simulate", "gmm", *BASE["gmm"], "--components", HUGE], capsys, "components")
    _refused(["simulate", "gmm", *BASE["gmm"], "--em-steps", HUGE], capsys, "em_steps")
    _refused(["simulate", "discrete", "--zipf", f"{HUGE},1.1", *BASE["discrete"][2:]], capsys,
             "zipf")


def test_out_may_not_be_a_directory(tmp_path, capsys, no_work):
    _refused(["simulate", "gaussian", *BASE["gaussian"], "--out", str(tmp_path)], capsys, "out")


@pytest.mark.parametrize("family", sorted(BASE))
def test_records_larger_than_memory_are_refused_by_the_engine(family, monkeypatch, capsys):
    """One estimate in the engine's plan serves every family; its message names the way out."""
    monkeypatch.setattr(engine, "physical_memory", lambda: 2 ** 10)
    line = _refused(["simulate", family, *_with(BASE[family], ["--record", "all", "--trials", "1000"])], capsys,
                    "GiB")
    # The CLI names its own options, not the Python API's keywords.
    assert "fewer trials" in line and "--record log" in line and "--memory-limit" in line
    assert "record='log'" not in line and "summarize_chain" not in line


@pytest.mark.parametrize("argv, name", [
    (["figure", "drift", "--out", "x.foo"], "out"),
    (["figure", "kde", "--out", "x"], "out"),
    (["figure", "tail-loss", "--out", "/proc/x.png"], "out"),
    (["figure", "gmm-l2", "--out", ""], "out"),
    (["figure", "policies", "--out", "x.png", "--trials", "5000000000"], "trials"),
    (["figure", "survival", "--out", "x.png", "--generations", HUGE], "generations"),
    (["figure", "gmm-panel", "--out", "x.png", "--generations", f"0,{10 ** 11}"], "generations"),
])
def test_figure_refuses_bad_input_before_any_work(argv, name, tmp_path, monkeypatch, capsys,
                                                  no_work):
    monkeypatch.chdir(tmp_path)
    _refused(argv, capsys, name)
    assert os.listdir(tmp_path) == []


def test_verify_report_must_be_a_writable_directory(tmp_path, capsys):
    existing = tmp_path / "file"
    existing.write_text("x")
    _refused(["verify", "--report", str(existing)], capsys, "--report")
    _refused(["verify", "--report", "/proc/report"], capsys, "--report")
    _refused(["verify", "--report", ""], capsys, "--report")


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch, capsys):
    def interrupted(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    out = tmp_path / "run.npz"
    assert main(["simulate", "gaussian", *BASE["gaussian"], "--out", str(out)]) == 130
    assert os.listdir(tmp_path) == []
    out.write_bytes(b"old")  # an existing file is left as it was
    assert main(["simulate", "gaussian", *BASE["gaussian"], "--out", str(out)]) == 130
    assert os.listdir(tmp_path) == ["run.npz"] and out.read_bytes() == b"old"


def test_atomic_write_replaces_whole_files_only(tmp_path):
    target = tmp_path / "a.txt"
    _io.write_text(target, "first")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "first" and (target.stat().st_mode & 0o777) == 0o666 & ~umask

    def failing(tmp):
        assert tmp.endswith(".txt") and os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "w") as fh:
            fh.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _io.atomic_write(target, failing)
    assert os.listdir(tmp_path) == ["a.txt"] and target.read_text() == "first"

    link = tmp_path / "link.txt"
    link.symlink_to(target)
    _io.write_text(link, "second")  # written through the link, which stays a link
    assert link.is_symlink() and target.read_text() == "second"


def test_figure_output_is_atomic(tmp_path):
    """Every figure is written by figures._common.save: a write interrupted half-way leaves no
    file under the target name and no temporary file."""
    from collapse_theory.figures._common import pyplot, save

    fig = pyplot().figure()

    def failing(path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"\x89PNG partial")
        raise KeyboardInterrupt

    fig.savefig = failing
    with pytest.raises(KeyboardInterrupt):
        save(fig, str(tmp_path / "k.png"))
    assert os.listdir(tmp_path) == []


# --- validators --------------------------------------------------------------------------


def test_integer_refuses_what_does_not_fit_64_bits():
    assert _validate.integer("n", 2 ** 62) == 2 ** 62
    with pytest.raises(ValueError, match=r"n must be in \[1, 2\*\*62\] .*got 4611686018427387905"):
        _validate.integer("n", 2 ** 62 + 1, minimum=1)
    with pytest.raises(ValueError, match=r"n must be in \[-2\*\*62, 2\*\*62\]"):
        _validate.integer("n", -(10 ** 30))
    with pytest.raises(ValueError, match="n must be <= 5, got 6"):
        _validate.integer("n", 6, maximum=5)


def test_trial_and_generation_counts():
    assert _validate.trial_count(2 ** 32 - 1) == 2 ** 32 - 1
    with pytest.raises(ValueError, match=r"trials must be in \[1, 4294967295\].*got 4294967296"):
        _validate.trial_count(2 ** 32)
    with pytest.raises(ValueError, match="trials must be >= 1, got 0"):
        _validate.trial_count(0)
    assert _validate.generation_count(2 ** 31 - 2) == 2 ** 31 - 2
    with pytest.raises(ValueError, match=r"generations must be in \[0, 2147483646\]"):
        _validate.generation_count(2 ** 31 - 1)


@pytest.mark.parametrize("value", [10 ** 30, [5, 10 ** 30], np.array([5, 2 ** 63], np.uint64),
                                   [5.0, 1e30], [5.0, np.inf]])
def test_schedule_refuses_sizes_beyond_64_bits(value):
    gens = 1 if np.ndim(value) == 0 else len(value)
    with pytest.raises(ValueError, match="sample_size must be"):
        _validate.schedule("sample_size", value, gens, minimum=1)


def test_schedule_refuses_too_many_generations_before_allocating():
    with pytest.raises(ValueError, match="generations must be in"):
        _validate.schedule("sample_size", 10, 10 ** 12, minimum=1)


def test_writable_path(tmp_path):
    assert _validate.writable_path("out", tmp_path / "x.npz") == str(tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []  # the probe file is gone
    for bad, match in [("", "empty"), (tmp_path, "is a directory"),
                       (str(tmp_path) + "/", "is a directory"),
                       ("/dev/null", "not a regular file"),
                       (tmp_path / "no" / "x.npz", "does not exist"),
                       ("/proc/x.npz", "cannot create files in '/proc'")]:
        with pytest.raises(ValueError, match=match):
            _validate.writable_path("out", bad)
    with pytest.raises(TypeError, match="out must be a path"):
        _validate.writable_path("out", 3)


def test_writable_dir_and_figure_path(tmp_path):
    assert _validate.writable_dir("--report", tmp_path / "a" / "b") == str(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        _validate.writable_dir("--report", tmp_path / "f")
    with pytest.raises(ValueError, match="is not a directory"):
        _validate.writable_dir("--report", tmp_path / "f" / "sub")
    assert _validate.figure_path("out", tmp_path / "x.PDF").endswith("x.PDF")
    for bad in ("x", "x.npz", "x.pgf"):
        with pytest.raises(ValueError, match=r"out=.*one of .*\.png"):
            _validate.figure_path("out", tmp_path / bad)


# --- engine ------------------------------------------------------------------------------


def _chain(**kw):
    step = lambda k, s, x: s + jax.random.normal(k)
    return dict(state0=jnp.zeros(()), step=step, observe=lambda s: s, xs=jnp.zeros(3),
                generations=3, **kw)


def test_engine_refuses_trials_beyond_32_bit_indices():
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"trials must be in \[1, 4294967295\]"):
        engine.run_chain(jax.random.key(0), trials=2 ** 32, **_chain())
    assert time.perf_counter() - t0 < 1


def test_engine_memory_estimate(monkeypatch):
    monkeypatch.setattr(engine, "physical_memory", lambda: 10 ** 5)
    with pytest.raises(ValueError, match=r"20000 trials x 4 recorded generations x 4 bytes"):
        engine.run_chain(jax.random.key(0), trials=20_000, **_chain())
    summary = engine.summarize_chain(jax.random.key(0), trials=20_000, chunk_size=1024,
                                     keep=16, **_chain())  # summaries fit
    assert summary.count == 20_000
