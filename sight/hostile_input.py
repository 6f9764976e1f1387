"""Input no browser sends answered with a 400 or 404, before it can reach a query or a form
library and come back as a 500.

- Integer URL segments are bounded to the database's integer range (PostgreSQL's `integer` is
  32 bits; SQLite's 64), so `/account/receipts/99999999999999999999` is simply not found.
- A multipart part with no field name is refused (Flask-WTF's CSRF check cannot read it).
"""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

# The largest id any table's primary key can hold on every database we run on.
MAX_DATABASE_INT = 2**31 - 1


class DatabaseIntConverter(IntegerConverter):
    """`<int:…>` that only matches 0 … 2**31 - 1: a larger number is a 404, like an unknown id."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_DATABASE_INT if max is None else max, signed=signed)


def refuse_unnamed_form_parts() -> None:
    if request.mimetype == "multipart/form-data" and any(not name for name in (*request.form, *request.files)):
        abort(400)


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered (its rules pick the converter up) and before the
    CSRF check (the guard must run first)."""
    app.url_map.converters["int"] = DatabaseIntConverter
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unnamed_form_parts)
