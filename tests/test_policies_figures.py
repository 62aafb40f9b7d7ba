"""The schedule figure renders (small run) through the CLI; bad figure arguments exit 2.

The three-family policy page compiles nine chains (about a minute on two cores), so it is not
rendered here; its chains are the ones tested in tests/test_policies.py and test_regression.py.
"""

import os

import pytest

from collapse_theory.cli import main
from collapse_theory.figures import policies as figures


def test_schedule_figure_renders(tmp_path):
    out = str(tmp_path / "s.png")
    assert main(["figure", "schedules", "--out", out, "--generations", "8", "--trials", "16"]) == 0
    assert os.path.getsize(out) > 20_000


def test_figure_arguments_validated(tmp_path, capsys):
    assert main(["figure", "policies", "--out", str(tmp_path / "x.png"),
                 "--sample-size", "2"]) == 2
    assert "sample_size must be >= 6" in capsys.readouterr().err
    with pytest.raises(ValueError, match="generations must be >= 1"):
        figures.schedule_figure(str(tmp_path / "y.png"), generations=0)
