"""Template filters: templates format values, they do not compute them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask


def format_money(cents: int | None) -> str:
    """Whole dollars when there are no cents: $26, $26.50, -$5."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    dollars, remainder = divmod(abs(cents), 100)
    text = f"{sign}${dollars:,}"
    return text if remainder == 0 else f"{text}.{remainder:02d}"


def init_app(app: Flask) -> None:
    zone = ZoneInfo(app.config["DISPLAY_TIMEZONE"])

    @app.template_filter("money")
    def money_filter(cents: int | None) -> str:
        return format_money(cents)

    @app.template_filter("date")
    def date_filter(value: datetime | None, fmt: str = "%-d %B %Y") -> str:
        if value is None:
            return ""
        return value.astimezone(zone).strftime(fmt)

    @app.template_filter("datetime")
    def datetime_filter(value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(zone).strftime("%-d %B %Y, %-I:%M %p %Z")
