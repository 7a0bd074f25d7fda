"""The public JSON API."""

# Each adds its routes to the API blueprint before it is registered.
from . import receipts, results, reveal  # noqa: F401
