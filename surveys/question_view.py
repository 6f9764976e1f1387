"""What a template needs to show one question: its controls with their ids, names, labels and
checked state, the "Other" text box, its help and errors tied to it, and the `show_if` the
browser evaluates. Every rule about a question's form is decided here, once; the template in
templates/surveys/_questions.html only writes it out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from surveys.definition.schema import DEFAULT_MAX_LENGTH
from surveys.definition.walk import choice_options, rating_points

# Which control a question type is answered with.
CONTROLS = {
    "single_choice": "choices",
    "multiple_choice": "choices",
    "rating": "rating",
    "matrix": "matrix",
    "dropdown": "select",
    "long_text": "textarea",
    "short_text": "input",
    "email": "input",
    "number": "input",
}


@dataclass(frozen=True)
class ChoiceView:
    value: str
    label: str
    input_id: str
    checked: bool


@dataclass(frozen=True)
class MatrixRowView:
    label: str
    name: str
    choices: list[ChoiceView]


@dataclass(frozen=True)
class OtherView:
    """The text box beside an "Other (please specify)" choice."""

    name: str
    input_id: str
    value: str
    max_length: int


@dataclass(frozen=True)
class QuestionView:
    id: str
    type: str
    label: str
    help: str
    required: bool
    errors: list[str]
    control: str  # choices | rating | matrix | select | textarea | input
    input_type: str = "text"  # radio or checkbox for choices; text or email for an input
    inputmode: str | None = None
    choices: list[ChoiceView] = field(default_factory=list)
    rows: list[MatrixRowView] = field(default_factory=list)
    other: OtherView | None = None
    value: str = ""
    max_length: int | None = None
    # A show_if on an answer of the same page, which the browser applies as the reader answers
    # (the server applies every other show_if before the page is drawn).
    show_if: dict | None = None
    # The earlier question any show_if of this question depends on (the editor's preview says so).
    depends_on: str | None = None

    @property
    def help_id(self) -> str:
        return f"q-{self.id}-help"

    @property
    def error_id(self) -> str:
        return f"q-{self.id}-error"

    @property
    def describedby(self) -> str:
        return " ".join(
            name for name, present in ((self.help_id, self.help), (self.error_id, self.errors)) if present
        )

    @property
    def anchor(self) -> str:
        """The id of the first control, where a link from the error summary goes."""
        if self.rows:
            return self.rows[0].choices[0].input_id
        if self.choices and self.control != "select":
            return self.choices[0].input_id
        return f"f-{self.id}"


def _chosen(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _choices(prefix: str, options: Iterable[tuple[str, str]], chosen: list[str]) -> list[ChoiceView]:
    return [
        ChoiceView(value, label, f"{prefix}-{i}", value in chosen) for i, (value, label) in enumerate(options)
    ]


def _rating_label(point: int, scale: Mapping, first: bool, last: bool) -> str:
    end = scale.get("min_label") if first else scale.get("max_label") if last else ""
    return f"{point} ({end})" if end else str(point)


def question_view(
    question: Mapping, raw: Mapping, errors: Mapping[str, list[str]], page_question_ids: set[str]
) -> QuestionView:
    """One question as the reader sees it, with `raw` (what to show again) and its errors."""
    qid, kind = question["id"], question["type"]
    show_if = question.get("show_if")
    view = dict(
        id=qid,
        type=kind,
        label=question["label"],
        help=question.get("help") or "",
        required=bool(question.get("required")),
        errors=list(errors.get(qid, [])),
        control=CONTROLS[kind],
        show_if=show_if if show_if and show_if["question"] in page_question_ids else None,
        depends_on=show_if["question"] if show_if else None,
    )
    chosen = _chosen(raw.get(qid))
    if kind in ("single_choice", "multiple_choice", "dropdown"):
        pairs = [(o["value"], o["label"]) for o in choice_options(question)]
        view["choices"] = _choices(f"f-{qid}", pairs, chosen)
        view["input_type"] = "checkbox" if kind == "multiple_choice" else "radio"
        if question.get("other"):
            other_name = f"{qid}_other"
            view["other"] = OtherView(
                other_name, f"f-{qid}-other", str(raw.get(other_name, "")), DEFAULT_MAX_LENGTH["short_text"]
            )
    elif kind == "rating":
        points = rating_points(question)
        scale = question.get("scale") or {}
        pairs = [
            (str(p), _rating_label(p, scale, i == 0, i == len(points) - 1)) for i, p in enumerate(points)
        ]
        view["choices"] = _choices(f"f-{qid}", pairs, chosen)
        view["input_type"] = "radio"
    elif kind == "matrix":
        columns = [(c["value"], c["label"]) for c in question["columns"]]
        view["rows"] = [
            MatrixRowView(
                row["label"],
                f"{qid}[{row['value']}]",
                _choices(f"f-{qid}-{r}", columns, _chosen(raw.get(f"{qid}[{row['value']}]"))),
            )
            for r, row in enumerate(question["rows"])
        ]
    else:
        view["value"] = str(raw.get(qid, ""))
        view["max_length"] = question.get("max_length")
        view["input_type"] = "email" if kind == "email" else "text"
        if kind == "number":
            view["inputmode"] = "numeric" if question.get("integer") else "decimal"
    return QuestionView(**view)


def question_views(
    questions: Iterable[Mapping],
    raw: Mapping | None = None,
    errors: Mapping[str, list[str]] | None = None,
    page_question_ids: set[str] | None = None,
) -> list[QuestionView]:
    return [question_view(q, raw or {}, errors or {}, page_question_ids or set()) for q in questions]
