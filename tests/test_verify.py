"""The verification suite: its machinery, and the README's main job (`verify --quick`) passing."""

import json
import sys

import numpy as np
import pytest

from collapse_theory import verify
from collapse_theory.cli import main
from collapse_theory.verify import stats
from collapse_theory.verify.registry import check_key, select

_CHEAP = "gaussian.real_data.laplace.first_fit_variance"


def test_z_mean_rejects_a_shifted_mean_and_accepts_the_true_one():
    x = np.random.default_rng(0).normal(1.0, 2.0, 40_000)
    assert stats.z_mean(x, 1.0).p_value > 1e-3
    shifted = stats.z_mean(x, 1.1)  # shift 0.1 = 10 SE (SE = 2/200)
    assert abs(shifted.statistic) > 5 and shifted.p_value < 1e-6


def test_z_variance_uses_fourth_moment():
    x = np.random.default_rng(1).normal(0.0, 1.0, 40_000)
    out = stats.z_variance(x, 1.0)
    assert out.stderr == pytest.approx(np.sqrt(2 / 40_000), rel=0.05)  # m4 − s⁴ = 2 for N(0,1)
    assert stats.z_variance(x, 1.05).p_value < 1e-6


def test_chi_square_pools_small_bins_and_detects_a_wrong_law():
    rng = np.random.default_rng(2)
    p = np.array([0.5, 0.3, 0.15, 0.0495, 0.0005])
    counts = np.bincount(rng.choice(5, 5000, p=p), minlength=5)
    ok = stats.chi_square(counts, p)
    assert ok.p_value > 1e-3 and "4 pooled bins" in ok.tolerance  # expected 2.5 pooled into 247.5
    wrong = stats.chi_square(counts, [0.45, 0.35, 0.15, 0.0495, 0.0005])
    assert wrong.p_value < 1e-6  # noncentrality 5000·Σ(p−q)²/q ≈ 63


def test_check_keys_are_stable_and_distinct():
    import jax

    data = [tuple(jax.random.key_data(check_key(s, i, c)).tolist())
            for s in (0, 1) for i in ("x", "y") for c in (False, True)]
    assert len(set(data)) == len(data)
    assert data[0] == tuple(jax.random.key_data(check_key(0, "x", False)).tolist())


def test_only_selects_and_rejects_unknown_patterns():
    assert [c.id for c in select(_CHEAP)] == [_CHEAP]
    assert all(c.id.startswith("gaussian.") for c in select("gaussian.*"))
    with pytest.raises(ValueError, match="matches no check"):
        select("no-such-check")


def test_run_is_deterministic_for_a_seed():
    _, a = verify.run(seed=3, only=_CHEAP, out=None)
    _, b = verify.run(seed=3, only=_CHEAP, out=None)
    _, c = verify.run(seed=4, only=_CHEAP, out=None)
    assert a[0].outcome.estimate == b[0].outcome.estimate
    assert a[0].outcome.estimate != c[0].outcome.estimate


def test_vary_seed_reports_false_failure_rate(capsys):
    ok, summary = verify.vary_seed(3, seed=10, only=_CHEAP, out=sys.stdout)
    assert ok and summary["repeats"] == 3 and summary["controls_not_rejected"] == 0
    assert "empirical family-wise false-failure rate" in capsys.readouterr().out


def test_cli_rejects_bad_arguments(capsys):
    assert main(["verify", "--quick", "--only", "no-such-check"]) == 2
    assert main(["verify", "--alpha", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("collapse-theory") for line in err)


# The quick suite is run family by family so that pytest-xdist can spread it over workers.
# Check keys depend only on (seed, id) and each family runs at alpha·N_family/N, so every
# check meets exactly the per-check level and key of the single `verify --quick` run.
FAMILIES = ("gaussian.*", "discrete.*", "policy.*", "kde.*", "gmm.*", "counting.*", "vae.*",
            "lm.*")


def test_families_cover_every_check():
    ids = [c.id for f in FAMILIES for c in select(f)]
    assert sorted(ids) == sorted(c.id for c in verify.CHECKS) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("family", FAMILIES)
def test_verify_quick_passes_and_writes_the_report(family, tmp_path, capsys):
    """The README's main job: every check passes and every negative control is rejected."""
    share = len(select(family)) / len(select(None))
    code = main(["verify", "--quick", "--only", family, "--alpha", str(verify.ALPHA * share),
                 "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["ok"] and len(report["checks"]) == len(select(family))
    assert report["summary"]["level_per_check"] == pytest.approx(verify.ALPHA / len(verify.CHECKS))
    required = {"id", "source", "expected", "estimate", "stderr", "statistic", "p_value",
                "passed", "control_rejected"}
    for c in report["checks"]:
        assert required <= c.keys()
        assert c["passed"] and c["control_rejected"]
    assert (tmp_path / "report.md").read_text().startswith("# collapse_theory verification report")
    assert (tmp_path / "checks.png").stat().st_size > 10_000


def test_every_check_cites_sources_a_reader_can_open():
    """Each check cites a section of docs/theory.md that exists, and every proofs/ script it
    names exists; no citation of a document outside the repository."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    sections = set(re.findall(r"^## (\d+)\. ", (root / "docs" / "theory.md").read_text(), re.M))
    for c in verify.CHECKS:
        assert "README" not in c.source, c.id
        cited = re.findall(r"docs/theory\.md §(\d+)(?:,? (?:and )?§(\d+))?", c.source)
        assert cited, (c.id, c.source)
        assert {s for pair in cited for s in pair if s} <= sections, (c.id, c.source)
        for script in re.findall(r"proofs/\w+\.py", c.source):
            assert (root / script).is_file(), (c.id, script)


def test_checks_png_summarises_every_check_with_its_verdict(tmp_path, monkeypatch):
    """checks.png: one summary row per check (p of the test and of its control, p = 0 drawn at
    the clip) besides the curves, an overall title with the verdict; a failure is marked."""
    import dataclasses

    from collapse_theory import figures
    from collapse_theory.verify import report
    from collapse_theory.verify.registry import Result

    drawn = {}
    monkeypatch.setattr(figures, "save", lambda fig, path, **kw: drawn.setdefault("fig", fig) and path)
    level = 0.01 / len(verify.CHECKS)
    results = []
    for i, chk in enumerate(verify.CHECKS):
        ok = stats.z_mean(np.arange(10.0), 4.5)
        if i == 0:
            ok.curve = stats.curve([1, 2], np.ones((5, 2)), [1.0, 1.0], "E log σ²_n")
        bad = dataclasses.replace(ok, p_value=0.0, curve=None)
        results.append(Result(chk, ok if i != 1 else bad, bad, level, 0.0))
    report._figures(str(tmp_path), results)
    fig = drawn["fig"]
    summary = fig.axes[0]
    labels = [t.get_text() for t in summary.get_yticklabels()]
    assert len(labels) == len(verify.CHECKS) and labels[1] == f"✗ {verify.CHECKS[1].id}"
    assert all(label.startswith("✓") for i, label in enumerate(labels) if i != 1)
    assert "FAILED: 1 check(s) fail, 0 control(s) not rejected" in fig._suptitle.get_text()
    assert len(fig.axes) == 2 and "✓ p = " in fig.axes[1].get_title()
