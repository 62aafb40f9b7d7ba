"""``simulate kde`` and ``figure kde``: runs, .npz contents and config, one-line errors (exit 2).

The lead registers the module in ``cli._MODULES``; until then the tests add it themselves.
"""

import json
import os

import numpy as np
import pytest

from collapse_theory import cli
from collapse_theory.cli import main


@pytest.fixture(autouse=True)
def _kde_registered(monkeypatch):
    if "kde" not in cli._MODULES:
        monkeypatch.setattr(cli, "_MODULES", cli._MODULES + ("kde",))


def test_simulate_writes_records_config_and_closed_form(tmp_path, capsys):
    out = tmp_path / "kde.npz"
    code = main(["simulate", "kde", "--sample-size", "12", "--generations", "6", "--trials", "64",
                 "--bandwidth", "0.4", "--policy", "accumulate", "--record", "all", "--x64",
                 "--centres", "--mean", "2", "--std", "3", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "bandwidth=0.4, policy=accumulate" in text and "float64" in text
    with np.load(out) as data:
        assert data["generation"].tolist() == list(range(7))
        assert data["size"].tolist() == [0, 12, 24, 36, 48, 60, 72]
        assert data["log_variance"].shape == (64, 7) and data["centres"].shape[:2] == (64, 7)
        assert data["log_variance"].dtype == np.float64
        assert np.allclose(data["log_variance"][:, 0], np.log(9.0))
        assert np.allclose(np.exp(data["log_bandwidth"][:, 1:]), 0.4)
        # the stored closed form is theory.kde's, for D0's variance std² = 9
        from collapse_theory.theory import kde as theory

        mo = theory.moments(12, 6, bandwidth=0.4, policy="accumulate", variance0=9.0)
        assert np.allclose(data["expected_variance"], mo.variance)
        cfg = json.loads(str(data["config"]))
    assert cfg["bandwidth_rule"] == "0.4" and cfg["policy_name"] == "accumulate"
    assert cfg["dtype"] == "float64" and cfg["trials"] == 64


def test_silverman_has_no_closed_form_column(capsys, tmp_path):
    out = tmp_path / "s.npz"
    assert main(["simulate", "kde", "--sample-size", "12", "--generations", "3", "--trials", "8",
                 "--bandwidth", "silverman", "--out", str(out)]) == 0
    assert "no closed form for Silverman" in capsys.readouterr().out
    with np.load(out) as data:
        assert "expected_variance" not in data.files and data["log_variance"].dtype == np.float32


def test_policies_without_closed_form_run_without_the_column(capsys):
    assert main(["simulate", "kde", "--sample-size", "12", "--generations", "3", "--trials", "8",
                 "--policy", "accumulate-subsample", "--bandwidth", "sklearn-scott"]) == 0
    out = capsys.readouterr().out
    assert "no closed form under policy accumulate-subsample" in out and "sklearn-scott" in out


@pytest.mark.parametrize("argv, match", [
    (["--bandwidth", "bogus"], "bandwidth must be a number > 0, one of scott, silverman"),
    (["--bandwidth", "-1"], "bandwidth must be > 0.0"),
    (["--policy", "fixed"], "needs lam"),
    (["--policy", "fresh"], "needs gamma"),
    (["--gamma", "0.3"], "gamma applies only"),
    (["--sample-size", "1"], "sample_size must be >= 2"),
    (["--std", "0"], "std must be > 0.0"),
    (["--data", "bogus"], "data must be one of"),
])
def test_bad_arguments_exit_2_one_line(argv, match, capsys):
    base = {"--sample-size": "10", "--generations": "3", "--trials": "4"}
    for flag, value in zip(argv[::2], argv[1::2]):
        base[flag] = value
    code = main(["simulate", "kde", *[a for kv in base.items() for a in kv]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and match in err[0], err


def test_figure_renders(tmp_path, capsys):
    out = str(tmp_path / "kde.png")
    assert main(["figure", "kde", "--out", out, "--generations", "4", "--trials", "16",
                 "--sample-size", "8"]) == 0
    assert os.path.getsize(out) > 30_000
    assert main(["figure", "kde", "--out", out, "--sample-size", "1"]) == 2
    assert "sample_size must be >= 2" in capsys.readouterr().err
