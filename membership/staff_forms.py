"""Forms for the staff pages about members; filters are GET forms without CSRF (they change nothing)."""

from __future__ import annotations

from datetime import date, timedelta

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, Form, HiddenField, IntegerField, SearchField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from membership.staff_queries import STATUS_LABELS, StatusFilter

LONGEST_GRANT = timedelta(days=10 * 366)


def _page_number(form, field) -> None:
    if field.data is not None and not 1 <= field.data <= 1_000_000:
        raise ValidationError("Pages are numbered from 1.")


class MemberFilterForm(Form):
    q = SearchField(
        "Email or name",
        validators=[Optional(), Length(max=200, message="Search for at most 200 characters.")],
    )
    status = SelectField(
        "Status",
        choices=[SelectChoice(choice.value, label) for choice, label in STATUS_LABELS.items()],
        default=StatusFilter.all.value,
        validate_choice=True,
    )
    page = IntegerField("Page", validators=[Optional(), _page_number], default=1)

    @property
    def status_filter(self) -> StatusFilter:
        return StatusFilter(self.status.data or StatusFilter.all.value)

    @property
    def search(self) -> str:
        return (self.q.data or "").strip()

    def filters(self) -> dict:
        return {"q": self.search, "status": self.status_filter.value}


class MemberExportForm(MemberFilterForm):
    bom = BooleanField("For Excel (adds a byte-order mark)")


def _end_date_ok(form, field) -> None:
    if field.data is None:
        return
    if field.data <= form.today:
        raise ValidationError("The end date must be after today.")
    if field.data > form.today + LONGEST_GRANT:
        raise ValidationError("Choose an end date within ten years.")


class GrantForm(FlaskForm):
    reason = TextAreaField(
        "Why is this membership given?",
        validators=[DataRequired("Say why this membership is given."), Length(max=1000)],
        description="Kept with the grant and in the audit log, e.g. “Contributor, 2026 season”.",
    )
    ends_on = DateField(
        "Ends on",
        validators=[InputRequired("Choose the day it ends."), _end_date_ok],
        description="Sight+ stops at the start of this day (in the display time zone).",
    )

    # The member's grants version the page showed: the grant claims exactly that version.
    version = HiddenField()

    def __init__(self, *args, today: date, zone_words: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.ends_on.description = f"Sight+ stops at the start of this day ({zone_words})."

    def showing(self, version: int) -> GrantForm:
        self.version.data = version
        return self

    @property
    def shown_version(self) -> int | None:
        value = self.version.data
        return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 12 else None


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        "Why does it end now?",
        validators=[DataRequired("Say why this membership ends."), Length(max=1000)],
    )


class ResendReceiptForm(FlaskForm):
    """Only the CSRF token: the receipt and the address come from the ledger."""


class MemberOnDayForm(Form):
    on = DateField("Was this person Sight+ on", validators=[Optional()])


class ReconcileFilterForm(Form):
    since = DateField(
        "Stripe events since",
        validators=[Optional()],
        description="A day (UTC). Leave empty for every event Stripe still keeps (30 days).",
    )


class RepairForm(FlaskForm):
    since = DateField(validators=[Optional()], widget=HiddenInput())
