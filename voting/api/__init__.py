"""The public JSON API."""

from . import receipts  # noqa: F401  (adds its route to the API blueprint before it is registered)
