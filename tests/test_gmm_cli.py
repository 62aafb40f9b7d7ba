"""``collapse-theory simulate gmm`` and the GMM figures (the chain shape of test_gmm: M = 50,
200 fits, records 0, 1, 200, 8 trials)."""

import json

import numpy as np
import pytest

from collapse_theory import cli
from collapse_theory.cli import main


@pytest.fixture(autouse=True)
def _gmm_commands(monkeypatch):
    """Register the gmm commands whether or not ``cli._MODULES`` lists them yet."""
    monkeypatch.setattr(cli, "_MODULES", tuple(dict.fromkeys(cli._MODULES + ("gmm",))))


def test_simulate_writes_npz_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "gmm.npz"
    args = ["simulate", "gmm", "--sample-size", "50", "--generations", "200", "--trials", "8",
            "--record", "0,1,200", "--seed", "5", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "median L2 to D0" in text and "share floored" in text and f"wrote {out}" in text
    with np.load(out) as data:
        assert data["generation"].tolist() == [0, 1, 200]
        assert data["means"].shape == (8, 3, 2, 2) and data["chol"].shape == (8, 3, 2, 2, 2)
        l2, std = data["l2_distance"], data["component_std"]
        cfg = json.loads(str(data["config"]))
        means = data["means"]
    assert np.all(l2[:, 0] == 0) and np.all(l2[:, 2] > 0) and np.allclose(std[:, 0], 0.9)
    assert cfg["seed"] == 5 and cfg["reg_covar"] == 1e-6 and cfg["policy_parsed"] == "replace"
    assert main(args[:-1] + [str(tmp_path / "again.npz")]) == 0  # same seed, same chain
    with np.load(tmp_path / "again.npz") as again:
        np.testing.assert_array_equal(again["means"], means)


def test_original_from_json_and_bad_input(tmp_path, capsys):
    spec = tmp_path / "d0.json"
    spec.write_text(json.dumps({"weights": [0.5, 0.5], "means": [[0, 0], [3, 3]],
                                "cov": [[[1, 0], [0, 1]], [[0.5, 0], [0, 0.5]]]}))
    out = tmp_path / "o.npz"
    assert main(["simulate", "gmm", "--original", str(spec), "--sample-size", "50",
                 "--generations", "200", "--trials", "8", "--record", "0,1,200",
                 "--out", str(out)]) == 0
    with np.load(out) as data:
        np.testing.assert_allclose(data["means"][0, 0], [[0, 0], [3, 3]])
    capsys.readouterr()
    bad = [["simulate", "gmm", "--generations", "5", "--policy", "fresh", "--gamma", "2"],
           ["simulate", "gmm", "--generations", "5", "--reg-covar", "-1"],
           ["simulate", "gmm", "--generations", "5", "--original", str(tmp_path / "none.json")],
           ["simulate", "gmm", "--generations", "5", "--init", "random"]]
    for argv in bad:
        assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(bad) and all(line.startswith("collapse-theory") for line in err)
    assert "gamma must be <= 1" in err[0] and "reg_covar must be >= 0" in err[1]


def test_figures(tmp_path, capsys):
    panel = tmp_path / "panel.png"
    assert main(["figure", "gmm-panel", "--out", str(panel), "--generations", "0,1,200",
                 "--sample-size", "50"]) == 0
    l2 = tmp_path / "l2.png"
    assert main(["figure", "gmm-l2", "--out", str(l2), "--generations", "20", "--trials", "8",
                 "--sample-size", "50", "--policies", "fresh:0.5"]) == 0
    assert panel.stat().st_size > 10_000 and l2.stat().st_size > 10_000
    assert main(["figure", "gmm-panel", "--out", str(tmp_path / "x.png"), "--trial", "-1"]) == 2
