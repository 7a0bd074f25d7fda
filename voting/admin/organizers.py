"""Organizers and their roles: the admin adds organizers and assigns each a role."""

from __future__ import annotations

from .views import bp  # noqa: F401  (the admin blueprint these views belong to)
