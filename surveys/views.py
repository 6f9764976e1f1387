"""Reader pages: taking a survey."""

from surveys.blueprint import bp  # noqa: F401
