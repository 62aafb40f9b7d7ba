r"""A user's own text as tokens (``real=`` of a language-model chain, ``--corpus FILE``).

* **word** level: the text is lowercased and split by the regular expression
  ``\w+(?:'\w+)*|[^\w\s]``: runs of letters, digits and ``_`` (with inner apostrophes, so
  ``don't`` is one token) and every other non-space character as a token of its own
  (punctuation: ``"3.5"`` is ``3 . 5``).  Whitespace is dropped.
* **char** level: every character (case and whitespace kept) is a token.

The vocabulary is ordered by descending count, ties by first appearance: token 0 is the most
frequent.  With a cap ``vocab = V``, the ``V − 1`` most frequent types (in that order) keep
their tokens and every rarer one becomes ``<unk>`` (:data:`UNK`), itself placed by its total
count and first appearance; without one, or when the text has at most ``V`` types, nothing is
mapped.
"""

from __future__ import annotations

import os
import re

import numpy as np

from .. import _validate

#: The token of the types beyond a vocabulary cap.
UNK = "<unk>"
LEVELS = ("word", "char")
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_CLOSING = set(".,;:!?%)]}")
_OPENING = set("([{")


def tokenize(text: str, level: str = "word", vocab: int | None = None
             ) -> tuple[np.ndarray, tuple[str, ...]]:
    """``((n,) int32 tokens, vocabulary)`` of ``text`` at ``level`` (module docstring), with
    at most ``vocab`` types (``None``: no cap)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    level = _validate.choice("level", level, LEVELS)
    if vocab is not None:
        vocab = _validate.integer("vocab", vocab, minimum=2)
    pieces = _WORD.findall(text.lower()) if level == "word" else list(text)
    if not pieces:
        raise ValueError(f"text must hold at least one token at level {level!r}, got "
                         f"{text[:40]!r}")
    ids: dict[str, int] = {}  # type -> index in order of first appearance
    inverse = np.fromiter((ids.setdefault(p, len(ids)) for p in pieces), np.int64, len(pieces))
    types = list(ids)
    counts = np.bincount(inverse, minlength=len(types))
    rank = np.argsort(-counts, kind="stable")  # descending count, then first appearance
    if vocab is not None and len(types) > vocab:
        group = np.full(len(types), vocab - 1)  # the rarer types join <unk> ...
        group[rank[:vocab - 1]] = np.arange(vocab - 1)
        inverse = group[inverse]
        first_unk = rank[vocab - 1:].min()  # ... which first appears with the first of them
        types = [types[i] for i in rank[:vocab - 1]] + [UNK]
        counts = np.bincount(inverse, minlength=vocab)
        order = np.argsort(np.append(rank[:vocab - 1], first_unk), kind="stable")
        rank = order[np.argsort(-counts[order], kind="stable")]
    token_of = np.empty(len(types), np.int64)
    token_of[rank] = np.arange(len(types))
    return token_of[inverse].astype(np.int32), tuple(types[i] for i in rank)


def read_corpus(path, level: str = "word", vocab: int | None = None
                ) -> tuple[np.ndarray, tuple[str, ...]]:
    """:func:`tokenize` of the UTF-8 text file at ``path``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    if not os.path.isfile(path):
        raise ValueError(f"path must be an existing file, got {os.fspath(path)!r}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as err:
        raise ValueError(f"path {os.fspath(path)!r} is not UTF-8 text: {err}") from None
    return tokenize(text, level, vocab)


def detokenize(tokens, words, level: str = "word") -> str:
    """Text of ``tokens`` for reading: at word level, words separated by one space, none
    before closing punctuation (``.,;:!?%)]}``) or after an opening bracket; at char level,
    the characters joined.  ``tokenize`` of the result gives ``tokens`` back when every word
    is a token of that level (``<unk>`` is not)."""
    level = _validate.choice("level", level, LEVELS)
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or not (tokens.size == 0 or np.issubdtype(tokens.dtype, np.integer)):
        raise TypeError(f"tokens must be a 1-D integer array, got shape {tokens.shape} and "
                        f"dtype {tokens.dtype}")
    words = tuple(words)
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(words)):
        raise ValueError(f"tokens must lie in [0, {len(words) - 1}] (len(words) = "
                         f"{len(words)}), got [{tokens.min()}, {tokens.max()}]")
    pieces = [words[t] for t in tokens.tolist()]
    if level == "char":
        return "".join(pieces)
    out = []
    for i, piece in enumerate(pieces):
        if i and piece not in _CLOSING and pieces[i - 1] not in _OPENING:
            out.append(" ")
        out.append(piece)
    return "".join(out)
