"""Input no browser sends answered with a 400 or 404, before it can reach a query or a form
library and come back as a 500.

- Integer URL segments are bounded to the database's integer range (PostgreSQL's `integer` is
  32 bits; SQLite's 64), so `/account/receipts/99999999999999999999` is simply not found.
- A multipart part with no field name is refused (Flask-WTF's CSRF check cannot read it).
- Text that cannot be written as UTF-8 (a lone surrogate such as `"\\udcff"`, which JSON can
  escape but no browser form can send) is refused in every form, query and JSON body: no
  database, log or template can hold it.
- A JSON body is read by Flask-WTF as form data, so it must have a form's shape: one object whose
  values are text or lists of text. Only the endpoints that read their own JSON take any other.
"""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

# The largest id any table's primary key can hold on every database we run on.
MAX_DATABASE_INT = 2**31 - 1

# Endpoints that read and check their whole JSON body themselves (Stripe's signed events).
READS_OWN_JSON = frozenset({"membership.stripe_webhook"})


class DatabaseIntConverter(IntegerConverter):
    """`<int:…>` that only matches 0 … 2**31 - 1: a larger number is a 404, like an unknown id."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_DATABASE_INT if max is None else max, signed=signed)


def refuse_unnamed_form_parts() -> None:
    if request.mimetype == "multipart/form-data" and any(not name for name in (*request.form, *request.files)):
        abort(400)


def _writable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _all_text_writable(value: object) -> bool:
    if isinstance(value, str):
        return _writable(value)
    if isinstance(value, dict):
        return all(_writable(key) and _all_text_writable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_all_text_writable(item) for item in value)
    return True


def _form_shaped(body: object) -> bool:
    return isinstance(body, dict) and all(
        isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        for value in body.values()
    )


def refuse_unwritable_text() -> None:
    fields = [*request.args.items(multi=True), *request.form.items(multi=True)]
    names = [name for name, _ in fields] + [part.filename or "" for part in request.files.values()]
    if not all(map(_writable, [*names, *(value for _, value in fields)])):
        abort(400)
    if request.is_json and request.get_data():
        body = request.get_json(silent=True)
        if not _all_text_writable(body):
            abort(400)
        if request.endpoint not in READS_OWN_JSON and not _form_shaped(body):
            abort(400)  # not JSON, or not what a form could have sent


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered (its rules pick the converter up) and before the
    CSRF check (the guard must run first)."""
    app.url_map.converters["int"] = DatabaseIntConverter
    guards = app.before_request_funcs.setdefault(None, [])
    guards[:0] = [refuse_unnamed_form_parts, refuse_unwritable_text]
