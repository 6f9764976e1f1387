"""Forms of the survey pages. The questions themselves are read by `surveys.answers.read_page`
(their fields are named by the definition); these forms carry what every page has: the CSRF
token (with a lifetime that suits a slow reader), the honeypot, and the buttons."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.utils import cached_property
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from surveys.definition.schema import SLUG_PATTERN

HONEYPOT_FIELD = "contact-website"
HONEYPOT_LABEL = "Leave this field empty (it is here to catch spam robots)"


class SurveyForm(FlaskForm):
    class Meta(FlaskForm.Meta):
        @cached_property
        def csrf_time_limit(self):
            return current_app.config["SURVEY_CSRF_TIME_LIMIT"]

    def csrf_failed(self) -> bool:
        return "csrf_token" in self.errors

    def honeypot_filled(self, formdata) -> bool:
        return bool((formdata.get(HONEYPOT_FIELD) or "").strip())


class StartForm(SurveyForm):
    """The intro page's Start button; carries where the reader came from."""

    utm_source = HiddenField()
    utm_medium = HiddenField()
    utm_campaign = HiddenField()
    utm_term = HiddenField()
    utm_content = HiddenField()
    referrer = HiddenField()


class DeleteAnswersForm(SurveyForm):
    """The reader's "Delete my answers" button: CSRF only."""


class PageForm(SurveyForm):
    link_account = BooleanField("Link this response to my account")

    OWN_FIELDS = frozenset({"csrf_token", "action", "link_account", HONEYPOT_FIELD})

    def chosen_action(self, formdata) -> str:
        """Which button was pressed (they are named `action`); Enter in a text box means Next."""
        value = formdata.get("action", "next")
        return value if value in ("next", "back", "submit") else "next"


# --- staff -------------------------------------------------------------------------------


class DefinitionForm(FlaskForm):
    definition = TextAreaField(
        "Definition (YAML or JSON)",
        validators=[DataRequired("Please write or paste a definition."), Length(max=200_000)],
        description="See surveys/DEFINITION.md for every key. Ids and option values are never reused.",
    )
    # The version the editor was opened on: saving over someone else's newer edit is refused.
    based_on = HiddenField()


class ImportForm(FlaskForm):
    file = FileField("Definition file (.yaml, .yml or .json)")


class DuplicateForm(FlaskForm):
    slug = StringField(
        "New slug",
        validators=[
            DataRequired("Please give the copy a slug."),
            Length(max=80),
            Regexp(SLUG_PATTERN, message="Use lowercase letters, digits and single hyphens."),
        ],
        description="Its address: /surveys/<slug>. Lowercase letters, digits and hyphens.",
    )
    title = StringField("New title", validators=[DataRequired("Please give the copy a title."), Length(max=200)])


class DatesForm(FlaskForm):
    opens_at = DateTimeLocalField("Opens at", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    closes_at = DateTimeLocalField("Closes at", validators=[Optional()], format="%Y-%m-%dT%H:%M")

    def validate_closes_at(self, field):
        if field.data and self.opens_at.data and field.data <= self.opens_at.data:
            raise ValidationError("The closing time must be later than the opening time.")

    def moments(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The times staff typed, read in the display time zone, as UTC."""
        return tuple(
            value.replace(tzinfo=zone).astimezone(timezone.utc) if value else None
            for value in (self.opens_at.data, self.closes_at.data)
        )


class RetentionForm(FlaskForm):
    text_months = IntegerField(
        "Remove free-text and email answers after (months)",
        validators=[InputRequired("Enter a number of months."), NumberRange(1, 240, "From 1 to 240 months.")],
    )
    unfinished_days = IntegerField(
        "Delete unfinished responses after (days)",
        validators=[InputRequired("Enter a number of days."), NumberRange(1, 3650, "From 1 to 3650 days.")],
    )


class ActionForm(FlaskForm):
    """A button that changes something (open, close): CSRF only."""
