"""``collapse-theory simulate ngram|transformer`` and ``figure lm-perplexity|lm-histograms``:
tiny runs (report, example text, .npz with its config, PNGs) and bad input refused in one line
with exit status 2, before any work."""

import importlib
import json
import sys

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


#: The default source's text at a tiny size (V = 20: 20 successors per word).
DATA = ["--vocab", "20", "--block", "4", "--blocks", "16", "--test-blocks", "4"]
TRANSFORMER = ["simulate", "transformer", *DATA, "--validation-blocks", "4", "--layers", "1",
               "--width", "8", "--heads", "2", "--epochs", "2", "--decode", "sample",
               "--generations", "1", "--trials", "2", "--record", "all"]
#: SIM's model, data, trials and generations: the figures reuse its compiled chain.
FIGURE = ["--order", "1", "--alpha", "0.1", "--block", "4", "--trials", "3", "--level", "word"]


def test_simulate_transformer_reports_and_writes(tmp_path, capsys):
    out = tmp_path / "run.npz"
    assert main([*TRANSFORMER, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "transformer chain: 1 layers x width 8, 2 heads" in text
    assert "validation=4 points" in text and "median test ppl" in text
    assert "g=0: " in text and "g=1: " in text
    with np.load(out) as data:
        assert data["test_perplexity"].shape == (2, 2)
        assert np.isfinite(data["test_perplexity"][:, 1]).all()
        assert np.isnan(data["kl"]).all()  # the KL is the n-gram's only
        cfg = json.loads(str(data["config"]))
    assert cfg["transformer_config"]["width"] == 8 and cfg["validation_points"] == 4
    assert cfg["real_points"] == 16 and cfg["policy_parsed"] == "replace"


BAD = [
    ([*TRANSFORMER, "--width", "10", "--heads", "4"], "config.width must be a multiple"),
    ([*TRANSFORMER, "--epochs", "0"], "config.epochs must be >= 1"),
    ([*TRANSFORMER, "--warmup", "1"], "config.warmup must be in [0, 1)"),
    ([*TRANSFORMER, "--lr", "0"], "config.lr must be > 0"),
    ([*TRANSFORMER, "--validation-blocks", "-1"], "validation_blocks must be >= 0"),
    ([*TRANSFORMER, "--beams", "0"], "beams must be >= 1"),
    ([*TRANSFORMER, "--vocab", "2"], "vocab must be >= 3"),
    ([*TRANSFORMER, "--chunk-size", "0"], "chunk_size must be >= 1"),
    ([*TRANSFORMER, "--policy", "fresh:0.01"], "rounds to 0 fresh points"),
    ([*TRANSFORMER, "--memory-limit", "1K"], "limit (--memory-limit)"),
    (["figure", "lm-perplexity", "--out", "x.png", *DATA, "--policies", "replace,bogus"],
     "policy must be one of"),
    (["figure", "lm-perplexity", "--out", "x.png", *DATA, "--generations", "0"],
     "generations must be >= 1"),
    (["figure", "lm-perplexity", "--out", "x.png", "--family", "rnn"], "invalid choice"),
    (["figure", "lm-perplexity", "--out", "x.foo"], "extension must name a figure format"),
    (["figure", "lm-perplexity", "--out", "x.png", *DATA, "--memory-limit", "1K"],
     "limit (--memory-limit)"),
    (["figure", "lm-histograms", "--out", "x.png", *DATA, "--generations", "0"],
     "generation >= 1"),
    (["figure", "lm-histograms", "--out", "x.png", *DATA, "--family", "transformer",
      "--epochs", "0"], "config.epochs must be >= 1"),
]


@pytest.mark.parametrize("argv, words", BAD, ids=[" ".join(a[-2:])[:40] for a, _ in BAD])
def test_bad_input_is_refused_before_any_work(argv, words, tmp_path, monkeypatch, capsys,
                                               no_work):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and words in captured.err
    assert list(tmp_path.iterdir()) == []


def test_figure_commands_write_pngs(corpus, tmp_path, capsys):
    paths = [tmp_path / "perplexity.png", tmp_path / "histograms.png", tmp_path / "v.png"]
    assert main(["figure", "lm-perplexity", "--out", str(paths[0]), *FIGURE, "--corpus", corpus,
                 "--generations", "2", "--policies", "replace"]) == 0
    assert main(["figure", "lm-histograms", "--out", str(paths[1]), *FIGURE, "--corpus", corpus,
                 "--generations", "0,1,2"]) == 0
    assert main(["figure", "lm-vocabulary", "--out", str(paths[2]), *FIGURE, "--corpus", corpus,
                 "--generations", "2", "--policies", "replace"]) == 0
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert capsys.readouterr().out.count("wrote ") == 3


def test_corpus_validation_points_are_cut_from_the_end_of_the_training_text(corpus):
    from argparse import Namespace

    from collapse_theory.cli import lm as cli_lm
    from collapse_theory.lm import points, read_corpus

    args = Namespace(block=4, corpus=corpus, level="word", vocab=None)
    real, test, val, words, source = cli_lm._data(args, 3)
    tokens, _ = read_corpus(corpus, "word", None)
    cut = int(0.9 * tokens.size)
    start = cut - 4 * 4
    assert source is None and val.shape == (3, 8)
    np.testing.assert_array_equal(val, points(tokens[start:cut], 4))
    np.testing.assert_array_equal(real, points(tokens[:start], 4))  # no token shared
    np.testing.assert_array_equal(test, points(tokens[cut:], 4))
    assert cli_lm._data(args)[2] is None


@pytest.mark.parametrize("flags, progress, limit", [([], False, None),
                                                    (["--progress", "--memory-limit", "2G"],
                                                     True, 2 * 2 ** 30)])
def test_figures_pass_progress_and_memory_limit_on(flags, progress, limit, monkeypatch,
                                                   tmp_path, capsys):
    from collapse_theory.figures import lm as figures

    runs, drawn = [], []
    monkeypatch.setattr(importlib.import_module("collapse_theory.lm.simulate"), "simulate",
                        lambda key, model, **kw: runs.append(kw) or len(runs))
    monkeypatch.setattr(figures, "perplexity", lambda path, results: drawn.append(results))
    monkeypatch.setattr(figures, "vocabulary", lambda path, results: drawn.append(results))
    monkeypatch.setattr(figures, "histograms", lambda path, result, generations:
                        drawn.append((result, generations)))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    out = str(tmp_path / "f.png")
    assert main(["figure", "lm-perplexity", "--out", out, *DATA, *flags]) == 0
    assert main(["figure", "lm-histograms", "--out", out, *DATA, *flags]) == 0
    assert main(["figure", "lm-vocabulary", "--out", out, *DATA, *flags]) == 0
    assert drawn == [{"replace": 1, "fresh:0.1": 2}, (3, [0, 1, 2, 3, 4, 6, 10]),
                     {"replace": 4, "fresh:0.1": 5}]
    assert [str(r["policy"]) for r in runs] == ["replace", "fresh:0.1", "replace", "replace",
                                                "fresh:0.1"]
    assert [r["generations"] for r in runs] == [10] * 5 and runs[2]["record"] == [
        0, 1, 2, 3, 4, 6, 10]
    assert all(r["progress"] is progress and r["memory_limit"] == limit for r in runs)
    assert runs[0]["source"] is not None and runs[0]["trials"] == 8  # order 1: the KL
    assert capsys.readouterr().err == ""
