"""What every membership domain function needs from the app, in one object: the rules' settings,
the signed links and the Stripe gateway. Views build it once per request with `context_for(app)`;
domain code receives it and never reaches for `current_app`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from membership.links import Links
from membership.stripe_api import StripeGateway
from sight.templating import Formats


@dataclass(frozen=True)
class Settings:
    currency: str
    threshold_cents: int
    grace_days: int
    min_cents: int
    max_cents: int
    # Dates in emails are written in this zone, as pages show them.
    display_timezone: str = "Australia/Sydney"
    # Printed on every receipt.
    org_legal_name: str = "Sight"
    org_abn: str = ""
    tax_statement: str = ""
    # Money and dates in emails are written for this locale (with `currency` and `display_timezone`).
    locale: str = "en_AU"

    @property
    def formats(self) -> Formats:
        return Formats(currency=self.currency, locale=self.locale, timezone=self.display_timezone)

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(
            currency=config["CURRENCY"],
            threshold_cents=config["SIGHT_PLUS_THRESHOLD_CENTS"],
            grace_days=config["SIGHT_PLUS_GRACE_DAYS"],
            min_cents=config["MIN_DONATION_CENTS"],
            max_cents=config["MAX_DONATION_CENTS"],
            display_timezone=config["DISPLAY_TIMEZONE"],
            org_legal_name=config["ORG_LEGAL_NAME"],
            org_abn=config["ORG_ABN"],
            tax_statement=config["RECEIPT_TAX_STATEMENT"],
            locale=config["LOCALE"],
        )


@dataclass(frozen=True)
class MembershipContext:
    settings: Settings
    links: Links
    gateway: StripeGateway


def context_for(app: Flask) -> MembershipContext:
    """The context for this app; the gateway (and its HTTP connection pool) is made once per app."""
    if "sight_stripe" not in app.extensions:
        app.extensions["sight_stripe"] = StripeGateway(
            app.config["STRIPE_SECRET_KEY"], app.config["STRIPE_API_BASE"]
        )
    return MembershipContext(
        settings=Settings.from_config(app.config),
        links=Links(app.config["SECRET_KEY"], app.config["PUBLIC_URL"]),
        gateway=app.extensions["sight_stripe"],
    )
