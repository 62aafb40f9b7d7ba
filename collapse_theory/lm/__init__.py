"""Language models refitted on their own text (Shumailov et al. 2023, §5): the continuation
protocol (:mod:`~collapse_theory.lm.protocol`)."""

from .protocol import LanguageModel, continuation_sampler, points

__all__ = ["LanguageModel", "continuation_sampler", "points"]

from .source import MarkovSource, english
from .text import detokenize, read_corpus, tokenize

__all__ += ["MarkovSource", "english", "tokenize", "read_corpus", "detokenize"]

from . import transformer

__all__ += ["transformer"]

from . import ngram
from .simulate import LMResult, simulate

__all__ += ["ngram", "LMResult", "simulate"]
