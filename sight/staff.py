"""The staff dashboard is built from panels that each area of the product registers.

A panel is `panel(session, now) -> DashboardPanel`; the shell and accounts never import the
packages that provide them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session


@dataclass
class DashboardPanel:
    title: str
    # (label, formatted value) pairs, e.g. ("Sight+ members now", "128").
    figures: list[tuple[str, str]] = field(default_factory=list)
    link_url: str | None = None
    link_text: str | None = None


Panel = Callable[[Session, datetime], DashboardPanel]


def register_dashboard_panel(app: Flask, panel: Panel) -> None:
    app.extensions.setdefault("sight_dashboard_panels", []).append(panel)


def dashboard_panels(app: Flask) -> list[Panel]:
    return list(app.extensions.get("sight_dashboard_panels", []))
