"""Staff pages: results, exports and survey management."""

from surveys.blueprint import bp  # noqa: F401
