"""Membership: donations through Stripe, the ledger, Sight+ rules, the member area, benefits."""

from __future__ import annotations

from flask import Flask

from membership import models  # noqa: F401  (tables known to migrations)


def init_app(app: Flask) -> None:
    pass
