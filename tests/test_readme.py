"""The README stays true: its API tour runs as written, and its set-up matches .ci/run."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _blocks(lang: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_api_tour_runs():
    (tour,) = _blocks("python")
    exec(compile(tour, "README.md", "exec"), {})


def test_setup_commands_are_what_ci_runs():
    setup = _blocks("bash")[0].strip().splitlines()
    ci = (ROOT / ".ci" / "run").read_text()
    assert len(setup) == 2
    assert 'pip install -e ".[test]"' in setup[0] and 'pip install --quiet -e ".[test]"' in ci
    assert setup[1].startswith(".venv/bin/python -m pytest -q")
    assert ".venv/bin/python -m pytest -q" in ci
