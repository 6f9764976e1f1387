"""The filters staff put on results and exports, read from a query string (or the CLI's options)."""

from __future__ import annotations

from datetime import tzinfo

from wtforms import DateField, Form, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from surveys.models import Survey
from surveys.results import ResponseFilter, day_bounds

DATE_MESSAGE = "Enter a date as YYYY-MM-DD, for example 2026-11-25."
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


class Choice(SelectField):
    """A select where an empty value means the default, so `?status=` is not an error."""

    def __init__(self, label, choices: list[tuple[str, str]], default, **kwargs):
        names = ", ".join(value for value, _ in choices if value)
        super().__init__(
            label,
            choices=[SelectChoice(value, text) for value, text in choices],
            default=default,
            invalid_choice_message=f"Choose one of: {names}.",
            **kwargs,
        )

    def process_formdata(self, valuelist):
        super().process_formdata([v for v in valuelist if v != ""][:1])


class ResultFilterForm(Form):
    date_from = DateField("From", name="from", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    date_to = DateField("To", name="to", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    version = Choice("Version", [("", "All versions")], default="")
    status = Choice(
        "Responses",
        [("finished", "Finished"), ("unfinished", "Unfinished"), ("all", "All")],
        default="finished",
    )
    sight_plus = Choice(
        "Sight+",
        [("", "Everyone"), ("yes", "Sight+ members"), ("no", "Other signed-in readers")],
        default="",
        description="Only responses a signed-in reader linked to their account know this.",
    )

    utm_source = StringField(
        "Came from (utm_source)",
        validators=[Optional(), Length(max=200)],
        description="Only responses whose link had this utm_source.",
    )

    def __init__(self, formdata, survey: Survey):
        super().__init__(formdata)
        numbers = [str(v.number) for v in survey.versions]
        self.version.choices = [SelectChoice("", "All versions")] + [SelectChoice(n, f"Version {n}") for n in numbers]
        self.version.invalid_choice_message = (
            f"This survey has no such version; it has {', '.join(numbers)}." if numbers else "This survey has no versions."
        )

    def _check_year(self, field):
        if field.data and not EARLIEST_YEAR <= field.data.year <= LATEST_YEAR:
            raise ValidationError(f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}.")

    def validate_date_from(self, field):
        self._check_year(field)

    def validate_date_to(self, field):
        self._check_year(field)
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")

    def response_filter(self, zone: tzinfo) -> ResponseFilter:
        since, until = day_bounds(self.date_from.data, self.date_to.data, zone)
        return ResponseFilter(
            since=since,
            until=until,
            version=int(self.version.data) if self.version.data else None,
            status=self.status.data,
            sight_plus={"yes": True, "no": False}.get(self.sight_plus.data),
            utm_source=(self.utm_source.data or "").strip() or None,
        )

    def query_args(self) -> dict[str, str]:
        """The filters that differ from the defaults, as query parameters (for links and the audit)."""
        args = {}
        for field in self:
            value = field._value() if isinstance(field, DateField) else field.data
            if value not in (None, "") and value != field.default:
                args[field.name] = str(value)
        return args

    def error_messages(self) -> list[str]:
        return [f"{self[name].name}: {error}" for name, errors in self.errors.items() for error in errors]


class ExportForm(ResultFilterForm):
    layout = Choice(
        "Multiple choice", [("summary", "One column, answers joined with ;"), ("details", "One 0/1 column per option")],
        default="summary",
    )
    values = Choice("Answers as", [("labels", "Labels"), ("codes", "Codes (option values)")], default="labels")
    bom = Choice("Byte-order mark", [("0", "No"), ("1", "Yes, for Excel")], default="0")


class TextAnswersForm(ResultFilterForm):
    q = StringField("Search the answers", validators=[Optional(), Length(max=200)])
    page = IntegerField(
        "Page",
        validators=[Optional(), NumberRange(min=1, max=100_000, message="Pages are numbered from 1.")],
        default=1,
        invalid_value_message="Pages are numbered from 1.",
    )


class FindResponseForm(Form):
    """Staff look for a response to erase (surveys.erasure.find_responses reads the words)."""

    q = StringField("Response number, resume link or code, or email address", validators=[Length(max=2000)])
