"""Figures (PNG, matplotlib's Agg backend): simulated curves with closed-form overlays."""
