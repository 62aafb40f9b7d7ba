"""Figures (PNG, matplotlib's Agg backend): simulated curves with closed-form overlays."""

from ._common import pyplot, save

__all__ = ["pyplot", "save"]
