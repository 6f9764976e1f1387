"""Forms of the survey builder: each turns what staff typed into the plain values one function of
surveys/builder.py takes."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from surveys.definition.schema import SLUG_PATTERN

TYPE_CHOICES = [
    SelectChoice("single_choice", "One answer from a list (radio buttons)"),
    SelectChoice("multiple_choice", "Several answers from a list (checkboxes)"),
    SelectChoice("dropdown", "One answer from a drop-down list"),
    SelectChoice("short_text", "A short text (one line)"),
    SelectChoice("long_text", "A longer text (a paragraph)"),
    SelectChoice("email", "An email address"),
    SelectChoice("number", "A number"),
    SelectChoice("rating", "A rating on a scale (e.g. 1–5 or 0–10)"),
    SelectChoice("matrix", "A grid: several rows answered on one scale"),
]
WHOLE_NUMBER = "Enter a whole number."


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class StepForm(FlaskForm):
    """A builder step: CSRF, and beside the form's own fields the hidden `draft` (the fingerprint
    of the draft the page showed), `target` (the question or page) and `anchor` (where to go back)."""


class TextsForm(StepForm):
    title = StringField("Title", validators=[DataRequired("Please give the survey a title."), Length(max=200)])
    intro = TextAreaField(
        "Introduction", validators=[Optional(), Length(max=10_000)],
        description="Shown before the first page. Say what the survey is for and how long it takes. "
        "A blank line starts a new paragraph.",
    )
    closing = TextAreaField(
        "Thank-you text", validators=[Optional(), Length(max=10_000)],
        description="Shown after the last page, above the invitation to Sight+.",
    )


class QuestionSettingsForm(StepForm):
    """What a question's edit form changes (its type and id stay)."""

    label = StringField("Question", validators=[DataRequired("Please write the question."), Length(max=500)])
    help = StringField(
        "Help text", validators=[Optional(), Length(max=1000)], description="Optional: shown under the question."
    )
    required = BooleanField("Readers must answer it")
    other = BooleanField("Add “Other (please specify)” with a text box")
    min_choices = IntegerField(
        "At least this many answers", validators=[Optional(), NumberRange(min=0, max=100)],
        invalid_value_message=WHOLE_NUMBER,
    )
    max_choices = IntegerField(
        "At most this many answers", validators=[Optional(), NumberRange(min=1, max=100)],
        invalid_value_message=WHOLE_NUMBER,
    )
    max_length = IntegerField(
        "Longest answer (characters)", validators=[Optional(), NumberRange(min=1, max=10_000)],
        invalid_value_message=WHOLE_NUMBER,
        description="Empty for the usual limit: 200 for a short text, 2,000 for a long one.",
    )
    pattern = StringField(
        "Answer must match (regular expression)", validators=[Optional(), Length(max=200)],
        description="Optional, for experts: e.g. [0-9]{4} for a postcode. With a pattern, give an example below.",
    )
    # Not Optional(): that would stop the check that a pattern has its example.
    pattern_example = StringField(
        "An answer that fits the pattern", validators=[Length(max=200)],
        description="Needed with a pattern, e.g. 3000: a reader whose answer does not fit is shown it.",
    )
    pattern_hint = StringField(
        "What fits, in words", validators=[Optional(), Length(max=200)],
        description="Optional, e.g. 4 digits: the reader then reads “Please type 4 digits, like 3000”.",
    )
    min = IntegerField("Smallest number allowed", validators=[Optional()], invalid_value_message=WHOLE_NUMBER)
    max = IntegerField("Largest number allowed", validators=[Optional()], invalid_value_message=WHOLE_NUMBER)
    integer = BooleanField("Whole numbers only", default=True)
    scale_min = IntegerField(
        "Scale from", validators=[Optional(), NumberRange(min=-100, max=100)], default=1, invalid_value_message=WHOLE_NUMBER
    )
    scale_max = IntegerField(
        "Scale to", validators=[Optional(), NumberRange(min=-100, max=100)], default=5, invalid_value_message=WHOLE_NUMBER
    )
    min_label = StringField("Label of the lowest point", validators=[Optional(), Length(max=100)], description="E.g. Not at all likely.")
    max_label = StringField("Label of the highest point", validators=[Optional(), Length(max=100)], description="E.g. Extremely likely.")
    nps = BooleanField(
        "This is a “would you recommend” question: show the Net Promoter Score",
        description="Only for a scale from 0 to 10. Results then show promoters (9–10), passives (7–8) and detractors (0–6).",
    )

    def validate_pattern_example(self, field):
        """A pattern needs an example that fits it. A new question's form says its kind; the edit
        form shows a pattern only for a short text."""
        pattern, example = (self.pattern.data or "").strip(), (field.data or "").strip()
        kind = self.type.data if "type" in self else "short_text"
        if kind != "short_text" or not pattern:
            return
        if not example:
            raise ValidationError("Please give an example of an answer that fits the pattern, e.g. 3000 for [0-9]{4}.")
        try:
            fits = re.fullmatch(pattern, example)
        except re.error:
            return  # the pattern itself is refused, beside its own field
        if not fits:
            raise ValidationError(f"“{example}” does not fit the pattern: give an answer that does.")

    def settings(self, kind: str) -> dict:
        """The question's settings for its type, as surveys.builder takes them (None: default)."""
        values: dict = {"label": self.label.data.strip(), "help": (self.help.data or "").strip(), "required": self.required.data}
        if kind in ("single_choice", "multiple_choice"):
            values["other"] = self.other.data
        if kind == "multiple_choice":
            values.update(min_choices=self.min_choices.data, max_choices=self.max_choices.data)
        if kind in ("short_text", "long_text", "email"):
            values["max_length"] = self.max_length.data
        if kind == "short_text":
            values["pattern"] = (self.pattern.data or "").strip() or None
            # The example and its words belong to the pattern: without one they go too.
            for name in ("pattern_example", "pattern_hint"):
                values[name] = ((self[name].data or "").strip() or None) if values["pattern"] else None
        if kind == "number":
            values.update(min=self.min.data, max=self.max.data, integer=self.integer.data)
        if kind == "rating":
            values["scale"] = {
                "min": self.scale_min.data if self.scale_min.data is not None else 1,
                "max": self.scale_max.data if self.scale_max.data is not None else 5,
                "min_label": (self.min_label.data or "").strip(),
                "max_label": (self.max_label.data or "").strip(),
            }
            values["nps"] = True if self.nps.data else None
        return values

    def fill_from(self, question: dict) -> None:
        """Show a stored question's settings in the form."""
        for name in (
            "label", "help", "required", "other", "min_choices", "max_choices", "max_length", "pattern", "pattern_example",
            "pattern_hint", "min", "max", "integer", "nps",
        ):
            if name in question:
                self[name].data = question[name]
        if question["type"] in ("short_text", "long_text", "email"):
            self.max_length.data = question.get("max_length")
        scale = question.get("scale")
        if scale:
            self.scale_min.data, self.scale_max.data = scale["min"], scale["max"]
            self.min_label.data, self.max_label.data = scale["min_label"], scale["max_label"]


class NewQuestionForm(QuestionSettingsForm):
    """A new question: its type, the settings, and its answers, rows or columns one per line."""

    page = SelectField("On the page", choices=[])
    type = SelectField("Kind of question", choices=TYPE_CHOICES, default="single_choice")
    options = TextAreaField(
        "Answers to choose from, one per line",
        description="For a list, checkboxes or a drop-down. Each answer gets a stored value made from its words "
        "(“Every day” is kept as every_day); you can change values afterwards.",
    )
    rows = TextAreaField("Rows of the grid, one per line", description="For a grid: the things readers rate, e.g. News, Sport.")
    columns = TextAreaField(
        "Columns of the grid, one per line", description="For a grid: the scale every row is answered on, e.g. Disagree, Neutral, Agree."
    )

    def validate_options(self, field):
        if self.type.data in ("single_choice", "multiple_choice", "dropdown") and not _lines(field.data):
            raise ValidationError("Please give at least one answer to choose from, one per line.")

    def validate_rows(self, field):
        if self.type.data == "matrix" and not _lines(field.data):
            raise ValidationError("Please give the grid at least one row.")

    def validate_columns(self, field):
        if self.type.data == "matrix" and not _lines(field.data):
            raise ValidationError("Please give the grid at least one column.")

    def spec(self) -> dict:
        """The new question as surveys.builder.add_question takes it."""
        kind = self.type.data
        spec = {"type": kind, **{k: v for k, v in self.settings(kind).items() if v is not None}}
        if kind in ("single_choice", "multiple_choice", "dropdown"):
            spec["options"] = _lines(self.options.data)
        if kind == "matrix":
            spec["rows"], spec["columns"] = _lines(self.rows.data), _lines(self.columns.data)
        return spec


class NewPageForm(NewQuestionForm):
    page = None  # the page is the new one
    page_title = StringField("Title of the new page", validators=[Optional(), Length(max=200)], description="Optional.")


class NewSurveyForm(NewQuestionForm):
    page = None  # the survey's first page
    title = StringField("Title of the survey", validators=[DataRequired("Please give the survey a title."), Length(max=200)])
    slug = StringField(
        "Address (slug)",
        validators=[Optional(), Length(max=80), Regexp(SLUG_PATTERN, message="Use lowercase letters, digits and single hyphens.")],
        description="Readers find it at /surveys/<slug>. Leave empty to make one from the title.",
    )


class PageSettingsForm(StepForm):
    title = StringField("Page title", validators=[Optional(), Length(max=200)])


class ConditionForm(StepForm):
    """show_if: an earlier question, and the answers that show this one (values arrive as
    `question_id=value`, so each checkbox says which question it belongs to)."""

    source = SelectField("Show only when this question…", choices=[], validate_choice=False)

    def wanted_values(self, formdata) -> list[str]:
        prefix = f"{self.source.data}="
        return [v.removeprefix(prefix) for v in formdata.getlist("answer") if v.startswith(prefix)]

    def stray_values(self, formdata) -> list[str]:
        """Ticked answers that belong to another question than the one chosen."""
        prefix = f"{self.source.data}="
        return [v for v in formdata.getlist("answer") if not v.startswith(prefix)]


class OptionForm(StepForm):
    kind = HiddenField(default="options")
    label = StringField("Answer", validators=[DataRequired("Please write the answer."), Length(max=300)])
    value = StringField(
        "Stored value", validators=[Optional(), Length(max=60)],
        description="Empty: made from the answer's words.",
    )

    def validate_kind(self, field):
        if field.data not in ("options", "rows", "columns"):
            raise ValidationError("Choose options, rows or columns.")


class PromiseForm(FlaskForm):
    minutes = IntegerField(
        "The invitation promises it takes (minutes)",
        validators=[InputRequired("Please give a number of minutes."), NumberRange(min=1, max=120, message="From 1 to 120 minutes.")],
        invalid_value_message=WHOLE_NUMBER,
        description="The dashboard sets the median time readers take against this.",
    )
