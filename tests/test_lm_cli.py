"""``collapse-theory simulate ngram``: a tiny run on a --corpus file (report, example text,
.npz with its config) and bad input refused in one line with exit status 2."""

import json

import numpy as np
import pytest

from collapse_theory.cli import main

TEXT = ("the cat sat on the mat . the dog sat on the log . a cat and a dog met on a mat . "
        * 12)
SIM = ["simulate", "ngram", "--order", "1", "--alpha", "0.1", "--block", "4",
       "--generations", "2", "--trials", "3", "--record", "all", "--level", "word"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


def test_simulate_ngram_reports_and_writes(corpus, tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert main([*SIM, "--corpus", corpus, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ngram chain: order=1" in text and "median test ppl" in text
    assert "g=0: " in text and "g=2: " in text  # example continuations, detokenized
    with np.load(out) as data:
        assert data["test_perplexity"].shape == (3, 3)
        assert data["examples"].shape[:2] == (3, 3)
        assert np.isnan(data["kl"]).all()  # a corpus has no known source
        cfg = json.loads(str(data["config"]))
    assert cfg["order"] == 1 and cfg["policy_parsed"] == "replace"


@pytest.mark.parametrize("extra, match", [
    (["--order", "9"], "order"),
    (["--alpha", "-1"], "alpha"),
    (["--decode", "greedy"], "decode"),
    (["--block", "0"], "block"),
    (["--policy", "sometimes"], "policy"),
])
def test_bad_input_is_one_line_exit_2(corpus, extra, match, capsys):
    assert main([*SIM, "--corpus", corpus, *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


def test_missing_corpus_file_is_refused(tmp_path, capsys):
    assert main([*SIM, "--corpus", str(tmp_path / "none.txt")]) == 2
    assert "path" in capsys.readouterr().err
