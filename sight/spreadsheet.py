"""What every export that a spreadsheet may open shares."""

from __future__ import annotations

# A spreadsheet runs a text cell that starts with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(text: str) -> str:
    """Make a text cell that a spreadsheet would run as a formula read as plain text."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
