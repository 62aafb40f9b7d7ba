"""``simulate gaussian|discrete --policy``: runs, writes its config, and rejects bad input in one
line with exit status 2."""

import json

import numpy as np
import pytest

from collapse_theory.cli import main


@pytest.mark.parametrize("argv, match", [
    (["gaussian", "--policy", "fresh", "--gamma", "1.5"], "gamma must be <= 1.0"),
    (["gaussian", "--policy", "fresh"], "needs gamma"),
    (["gaussian", "--policy", "accumulate", "--lam", "1"], "lam applies only"),
    (["discrete", "--probs", "0.5,0.5", "--policy", "fixed", "--lam", "-1"], "lam must be >= 0"),
    (["discrete", "--probs", "0.5,0.5", "--policy", "bogus"], "policy must be one of"),
    (["gaussian", "--policy", "accumulate", "--data", "bogus"], "data must be one of"),
])
def test_bad_policy_arguments_exit_2_one_line(argv, match, capsys):
    code = main(["simulate", *argv, "--sample-size", "10", "--generations", "3", "--trials", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and match in err[0], err


def test_schedule_of_wrong_length_exits_2(capsys):
    code = main(["simulate", "gaussian", "--sample-size", "10,10", "--generations", "3",
                 "--trials", "4", "--policy", "accumulate"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "length generations=3" in err[0]


def test_policy_runs_and_records_config(tmp_path, capsys):
    out = tmp_path / "acc.npz"
    code = main(["simulate", "gaussian", "--sample-size", "10", "--generations", "4",
                 "--trials", "8", "--policy", "fixed", "--lam", "0.5", "--record", "all",
                 "--out", str(out)])
    assert code == 0
    assert "policy=fixed:0.5" in capsys.readouterr().out
    with np.load(out) as data:
        cfg = json.loads(str(data["config"]))
        assert cfg["policy"] == "fixed" and cfg["lam"] == 0.5
        assert data["log_det"].shape == (8, 5) and np.all(np.isfinite(data["log_det"]))
    # The shapes of tests/test_policies.py's discrete accumulate chain (compiled once per run).
    code = main(["simulate", "discrete", "--probs", "0.5,0.3,0.2", "--sample-size", "10",
                 "--generations", "20", "--trials", "6000", "--record", "20",
                 "--policy", "accumulate"])
    assert code == 0 and "policy=accumulate" in capsys.readouterr().out
