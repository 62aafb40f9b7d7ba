"""Language models refitted on their own text (Shumailov et al. 2023, §5): the continuation
protocol (:mod:`~collapse_theory.lm.protocol`)."""

from .protocol import LanguageModel, continuation_sampler, points

__all__ = ["LanguageModel", "continuation_sampler", "points"]
