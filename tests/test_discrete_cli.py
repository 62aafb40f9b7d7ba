"""``collapse-theory simulate discrete`` and the discrete figures.

The runs share one shape (K = 3 categories, 30 fits recorded, 64 trials) so that the chain
compiles once for the whole file.
"""

import json
import re

import numpy as np
import pytest

from collapse_theory.cli import main


def test_simulate_writes_npz_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "run.npz"
    rc = main(["simulate", "discrete", "--probs", "0.5,0.3,0.2", "--sample-size", "20",
               "--generations", "30", "--trials", "64", "--seed", "3", "--record", "all",
               "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "exact E H" in text and "P(KL=inf)" in text and f"wrote {out}" in text
    with np.load(out) as data:
        assert {"generation", "counts", "config"} <= set(data.files)
        assert data["generation"].tolist() == list(range(1, 31))
        counts = data["counts"]
        cfg = json.loads(str(data["config"]))
    assert counts.shape == (64, 30, 3) and np.issubdtype(counts.dtype, np.integer)
    assert np.all(counts.sum(-1) == 20)
    assert cfg["sample_size"] == 20 and cfg["seed"] == 3 and cfg["probs0"] == [0.5, 0.3, 0.2]
    # same seed, same draws
    rc = main(["simulate", "discrete", "--probs", "0.5,0.3,0.2", "--sample-size", "20",
               "--generations", "30", "--trials", "64", "--seed", "3", "--record", "all",
               "--out", str(tmp_path / "again.npz")])
    with np.load(tmp_path / "again.npz") as again:
        np.testing.assert_array_equal(again["counts"], counts)


def test_zipf_schedule_smoothing_and_normalize(tmp_path, capsys):
    out = tmp_path / "zipf.npz"
    schedule = [20, 10, 5] * 10
    assert main(["simulate", "discrete", "--zipf", "3,1", "--sample-size",
                 ",".join(map(str, schedule)), "--generations", "30", "--trials", "64",
                 "--record", "all", "--mix", "0.1", "--pseudocount", "0.5", "--out", str(out)]) == 0
    with np.load(out) as data:
        np.testing.assert_allclose(data["probs0"], np.array([6, 3, 2]) / 11)
        np.testing.assert_array_equal(data["counts"].sum(-1), np.broadcast_to(schedule, (64, 30)))
        assert json.loads(str(data["config"]))["mix"] == 0.1
    assert main(["simulate", "discrete", "--probs", "2,1,1", "--normalize", "--sample-size", "20",
                 "--generations", "30", "--trials", "64", "--record", "all"]) == 0
    assert "K=3 (probs)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--probs", "0.5,0.3"], "probs must sum to 1, got sum 0.8"),
    (["--probs", "0.5,-0.2,0.7"], "probs must be >= 0"),
    (["--probs", "nan,1"], "probs must be finite"),
    (["--probs", "0,0", "--normalize"], "probs must have a positive sum"),
    (["--probs", "0.5,x"], "--probs"),
    (["--zipf", "3"], "--zipf"),
    (["--probs", "0.5,0.5", "--zipf", "3,1"], "not allowed with"),
    (["--probs", "1", "--sample-size", "0"], "sample_size must be >= 1"),
    (["--probs", "1", "--generations", "-2"], "generations must be >= 0"),
    (["--probs", "1", "--mix", "2"], "mix must be <= 1"),
    (["--probs", "1", "--sample-size", "20000000"], "enable x64"),
    (["--probs", "1", "--record", "0,1"], r"record generations must lie in \[1"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, capsys):
    base = {"--sample-size": "5", "--generations": "3"}
    for flag, value in base.items():
        if flag not in args:
            args = args + [flag, value]
    rc = main(["simulate", "discrete", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err


@pytest.mark.parametrize("name, extra", [
    ("tail-loss", ["--zipf", "3,1.1", "--sample-size", "20", "--generations", "30",
                   "--trials", "64"]),
    ("survival", ["--original-counts", "1,4", "--sample-size", "20", "--generations", "30",
                  "--trials", "64"]),
    ("absorption", ["--sample-size", "10", "--generations", "30", "--trials", "64"]),
])
def test_figures_are_written(tmp_path, name, extra, capsys):
    out = tmp_path / f"{name}.png"
    assert main(["figure", name, "--out", str(out), *extra]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert main(["figure", name, "--out", str(tmp_path / "no" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
