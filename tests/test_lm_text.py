"""lm.text (issue #13): a user's own text as tokens, and back."""

import re

import numpy as np
import pytest

from collapse_theory.lm import detokenize, read_corpus, tokenize
from collapse_theory.lm.text import UNK

TEXT = "The cat sat. The dog, the cat! Don't (really) 3.5% zebra-yak"


def test_word_level_splits_words_and_punctuation_and_orders_by_count():
    tokens, words = tokenize(TEXT)
    assert tokens.dtype == np.int32
    assert [words[t] for t in tokens] == [
        "the", "cat", "sat", ".", "the", "dog", ",", "the", "cat", "!", "don't", "(", "really",
        ")", "3", ".", "5", "%", "zebra", "-", "yak"]
    counts = np.bincount(tokens)
    assert np.all(np.diff(counts) <= 0)  # token 0 the most frequent
    assert words[:3] == ("the", "cat", ".")  # cat (2) before . (2): first appearance


@pytest.mark.parametrize("level, text", [
    ("word", TEXT),
    ("word", "Hello, world (again)! It's 4.5 [x] 100% ... ok?"),
    ("char", TEXT),
    ("char", "ab\nc  d\t\u00e9\u00e9"),
])
def test_detokenize_round_trips_through_tokenize(level, text):
    tokens, words = tokenize(text, level)
    back = detokenize(tokens, words, level)
    again, words_again = tokenize(back, level)
    np.testing.assert_array_equal(again, tokens)
    assert words_again == words
    if level == "char":
        assert back == text


def test_word_level_text_reads_naturally():
    tokens, words = tokenize("Hello , world ( again ) !")
    assert detokenize(tokens, words) == "hello, world (again)!"


def test_char_level_keeps_case_and_whitespace():
    tokens, words = tokenize("aAa b", "char")
    assert words == ("a", "A", " ", "b")
    np.testing.assert_array_equal(tokens, [0, 1, 0, 2, 3])


def test_vocabulary_cap_maps_rare_types_to_unk():
    tokens, words = tokenize("a a a b b c d e f", vocab=3)
    # a (3) and b (2) kept; c, d, e, f (1 each) become <unk> (4), now the most frequent
    assert words == (UNK, "a", "b")
    assert [words[t] for t in tokens] == ["a", "a", "a", "b", "b", UNK, UNK, UNK, UNK]
    # a tie with <unk> (3 each) goes to the first to appear: a, before c
    assert tokenize("a a a b b c d e", vocab=3)[1] == ("a", UNK, "b")
    assert tokenize("a a b", vocab=3)[1] == ("a", "b")  # no cap needed, no <unk>


def test_read_corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("Été, été.\nÉté!", encoding="utf-8")
    tokens, words = read_corpus(path)
    assert words == ("été", ",", ".", "!")
    np.testing.assert_array_equal(tokens, [0, 1, 0, 2, 0, 3])
    tokens, words = read_corpus(str(path), level="char", vocab=4)
    assert len(words) == 4 and UNK in words


@pytest.mark.parametrize("call, error, message", [
    (lambda: tokenize(b"bytes"), TypeError, "text must be a str"),
    (lambda: tokenize("a", level="byte"), ValueError, "level must be one of 'word', 'char'"),
    (lambda: tokenize("  \n", level="word"), ValueError, "text must hold at least one token"),
    (lambda: tokenize("a b", vocab=1), ValueError, "vocab must be >= 2, got 1"),
    (lambda: tokenize("a b", vocab=2.0), TypeError, "vocab must be an integer"),
    (lambda: read_corpus(3), TypeError, "path must be a file path"),
    (lambda: read_corpus("/no/such/file.txt"), ValueError, "path must be an existing file"),
    (lambda: detokenize([0, 5], ("a", "b")), ValueError, r"tokens must lie in [0, 1]"),
    (lambda: detokenize([[0]], ("a",)), TypeError, "tokens must be a 1-D integer array"),
    (lambda: detokenize([0], ("a",), level="x"), ValueError, "level must be one of"),
])
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_read_corpus_refuses_non_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        read_corpus(path)
