"""Public pages."""

from . import receipts  # noqa: F401  (adds its route to the ballot blueprint before it is registered)
