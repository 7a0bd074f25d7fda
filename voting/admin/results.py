"""The results desk: sealed results per category, the chair's decisions, re-tallies, the
protocol, the exports and the reveal. Views are thin: `voting.results` does the work."""

from __future__ import annotations

from .views import bp  # noqa: F401  (the admin blueprint these views belong to)
