"""Money and dates as a reader reads them, in one place: the template filters and the mail use it.

Everything is written with Babel (CLDR) for the configured LOCALE, CURRENCY and DISPLAY_TIMEZONE,
so that no page or email spells a currency sign or a time zone of its own. One rule for money:
a whole amount has no cents ("$26", "€26"), any other shows them ("$26.50").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_location, get_timezone_name
from babel.numbers import format_currency, get_currency_name
from flask import Flask

# A pattern's decimals, e.g. the ".00" in "¤#,##0.00" (CLDR patterns always use "." for them).
PATTERN_DECIMALS = re.compile(r"\.[0#]+")


@lru_cache(maxsize=32)
def _whole_pattern(locale: str) -> str:
    """The locale's currency pattern without its decimals: "¤#,##0.00" → "¤#,##0"."""
    return PATTERN_DECIMALS.sub("", Locale.parse(locale).currency_formats["standard"].pattern)


def format_money(cents: int | None, currency: str, locale: str) -> str:
    """An amount in hundredths of `currency`, written for `locale`: "$26", "$26.50", "26 €", "-$5"."""
    if cents is None:
        return ""
    code = currency.upper()
    amount = Decimal(cents) / 100
    if cents % 100 == 0:
        return format_currency(amount, code, format=_whole_pattern(locale), locale=locale, currency_digits=False)
    return format_currency(amount, code, locale=locale)


@dataclass(frozen=True)
class Formats:
    """How this installation writes money, days and moments (from CURRENCY, LOCALE and DISPLAY_TIMEZONE)."""

    currency: str = "aud"
    locale: str = "en_AU"
    timezone: str = "Australia/Sydney"

    @classmethod
    def from_config(cls, config) -> Formats:
        return cls(currency=config["CURRENCY"], locale=config["LOCALE"], timezone=config["DISPLAY_TIMEZONE"])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def money(self, cents: int | None, currency: str | None = None) -> str:
        """`cents` of the configured currency (or of `currency`, e.g. a ledger entry's own)."""
        return format_money(cents, currency or self.currency, self.locale)

    def currency_code(self) -> str:
        return self.currency.upper()

    def currency_name(self) -> str:
        """The currency in words, as a sentence says it: "Australian dollars", "euros"."""
        return get_currency_name(self.currency_code(), count=2, locale=self.locale)

    def day(self, value: datetime | date | None) -> str:
        """A day: "1 December 2026" (a moment is first put in the display time zone)."""
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return format_date(value, "long", locale=self.locale)

    def month(self, value: datetime) -> str:
        """A month of the year in the display time zone: "December 2026"."""
        return format_date(value.astimezone(self.zone).date(), "MMMM y", locale=self.locale)

    def moment(self, value: datetime | None) -> str:
        """A moment with its day, time and zone: "1 December 2026, 1:00 am AEDT"."""
        if value is None:
            return ""
        local = value.astimezone(self.zone)
        time = format_time(local, "short", tzinfo=self.zone, locale=self.locale)
        zone_name = get_timezone_name(local, "short", locale=self.locale)
        return f"{self.day(local)}, {time} {zone_name}"

    def zone_words(self) -> str:
        """The display time zone in a phrase such as "days in Sydney time"."""
        city = get_timezone_location(self.zone, locale=self.locale, return_city=True)
        return f"{city} time"


def init_app(app: Flask) -> None:
    formats = Formats.from_config(app.config)
    app.add_template_filter(formats.money, "money")
    app.add_template_filter(formats.day, "date")
    app.add_template_filter(formats.moment, "datetime")

    @app.context_processor
    def formats_in_templates() -> dict:
        # "All amounts are in Australian dollars", "Dates are days in Sydney time": from settings.
        return {"formats": formats}
