"""A reader's answers to one page: read and validate the submitted form against the page's
questions, and turn stored answers back into what the form shows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email

from surveys.definition.schema import CHOICE_TYPES, DEFAULT_MAX_LENGTH, OTHER_VALUE
from surveys.definition.walk import choice_options, condition_met, question_field_names, shown_questions

# A NUL character cannot be stored (PostgreSQL text refuses it), and no keyboard types one.
NUL_MESSAGE = "This answer has an invisible character (NUL) we can't keep: please type it again."


@dataclass
class PageAnswers:
    """What one page's form said: clean answers, raw values to show again, and errors."""

    answers: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Answers of the questions that had no error (kept when the reader goes back).
    valid: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_page(page: Mapping, form: Any, earlier_answers: Mapping) -> PageAnswers:
    """Validate a page's submitted fields (a werkzeug MultiDict) against its questions.

    `earlier_answers` are the reader's answers to the other pages, for `show_if`. Questions
    hidden by `show_if` are neither required nor kept.
    """
    result = PageAnswers()
    known: dict[str, Any] = dict(earlier_answers)
    for question in shown_questions(page, earlier_answers):
        qid = question["id"]
        value, raw, errors = _read_question(question, form)
        if any("\x00" in given for name in question_field_names(question) for given in form.getlist(name)):
            value, errors = None, [NUL_MESSAGE]
        result.raw.update(raw)
        if not condition_met(question["show_if"], known):
            continue
        if errors:
            result.errors[qid] = errors
            continue
        if value is not None:
            result.answers[qid] = value
            known[qid] = value
            chosen = value if isinstance(value, list) else [value]
            if question.get("other") and OTHER_VALUE in chosen:
                result.answers[f"{qid}_other"] = raw[f"{qid}_other"]
    result.valid = dict(result.answers)
    return result


def raw_from_answers(page: Mapping, answers: Mapping) -> dict[str, Any]:
    """Stored answers in the shape the form shows them (strings), to fill a page again."""
    raw: dict[str, Any] = {}
    for question in page["questions"]:
        qid = question["id"]
        if qid not in answers:
            continue
        value = answers[qid]
        if question["type"] == "matrix":
            for row, column in value.items():
                raw[f"{qid}[{row}]"] = column
        elif isinstance(value, list):
            raw[qid] = list(value)
        else:
            raw[qid] = _format_number(value) if isinstance(value, (int, float)) else value
        if f"{qid}_other" in answers:
            raw[f"{qid}_other"] = answers[f"{qid}_other"]
    return raw


def _format_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean_text(value: str) -> str:
    # PostgreSQL cannot keep NUL in text; CR LF from browsers counts as one line break.
    return value.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _read_question(question: Mapping, form: Any) -> tuple[Any, dict[str, Any], list[str]]:
    qid, kind, required = question["id"], question["type"], question["required"]
    if kind == "matrix":
        return _read_matrix(question, form)
    if kind == "multiple_choice":
        return _read_multiple(question, form)
    values = [_clean_text(v) for v in form.getlist(qid)]
    raw_value = values[0] if values else ""
    raw: dict[str, Any] = {qid: raw_value}
    if len(values) > 1:
        return None, raw, ["Please give only one answer."]
    if raw_value == "":
        return None, raw, [_missing_message(kind)] if required else []
    if kind in CHOICE_TYPES:
        allowed = [o["value"] for o in choice_options(question)]
        if raw_value not in allowed:
            return None, raw, ["Please choose one of the answers given."]
        if raw_value == OTHER_VALUE and question.get("other"):
            return _with_other(question, form, raw_value, raw)
        return raw_value, raw, []
    if kind == "rating":
        scale = question["scale"]
        if not re.fullmatch(r"-?\d{1,3}", raw_value) or not scale["min"] <= int(raw_value) <= scale["max"]:
            return None, raw, [f"Please choose a number from {scale['min']} to {scale['max']}."]
        return int(raw_value), raw, []
    if kind == "number":
        return _read_number(question, raw_value, raw)
    limit = question["max_length"]
    if len(raw_value) > limit:
        return None, raw, [f"Please keep this to {limit} characters or fewer (this is {len(raw_value)})."]
    if kind == "email":
        try:
            validate_email(raw_value, check_deliverability=False)
        except EmailNotValidError:
            return None, raw, ["Please enter an email address like name@example.com."]
    if kind == "short_text" and question.get("pattern") and not re.fullmatch(question["pattern"], raw_value):
        return None, raw, [_pattern_message(question)]
    return raw_value, raw, []


def _pattern_message(question: dict) -> str:
    """Say which form is wanted, in the words and example staff gave: "Please type 4 digits, like 3000"."""
    example, hint = question.get("pattern_example"), question.get("pattern_hint")
    if example and hint:
        return f"Please type {hint}, like {example}."
    if example:
        return f"Please type it in the same form as this example: {example}."
    if hint:
        return f"Please type {hint}."
    return "That isn't in the form we asked for; please check it."


def _missing_message(kind: str) -> str:
    if kind in {"single_choice", "rating"}:
        return "Please choose an answer."
    if kind == "dropdown":
        return "Please choose an answer from the list."
    return "Please answer this question."


def _with_other(question, form, value, raw) -> tuple[Any, dict[str, Any], list[str]]:
    other_name = f"{question['id']}_other"
    other = _clean_text(form.get(other_name, ""))
    raw[other_name] = other
    if not other:
        return None, raw, ["You chose “Other”: please tell us what it is."]
    if len(other) > DEFAULT_MAX_LENGTH["short_text"]:
        return None, raw, [f"Please keep “Other” to {DEFAULT_MAX_LENGTH['short_text']} characters or fewer."]
    return value, raw, []


def _read_multiple(question, form) -> tuple[Any, dict[str, Any], list[str]]:
    qid = question["id"]
    options = [o["value"] for o in choice_options(question)]
    chosen = {_clean_text(v) for v in form.getlist(qid)}
    raw: dict[str, Any] = {qid: [v for v in options if v in chosen]}
    if question.get("other"):
        raw[f"{qid}_other"] = _clean_text(form.get(f"{qid}_other", ""))
    if chosen - set(options):
        return None, raw, ["Please choose only from the answers given."]
    low = question["min_choices"] or (1 if question["required"] else 0)
    high = question["max_choices"]
    if not chosen:
        return None, raw, ["Please choose at least one answer."] if question["required"] else []
    if len(chosen) < low:
        return None, raw, [f"Please choose at least {low}."]
    if high is not None and len(chosen) > high:
        return None, raw, [f"Please choose no more than {high} (you chose {len(chosen)})."]
    value = raw[qid]
    if OTHER_VALUE in chosen and question.get("other"):
        return _with_other(question, form, value, raw)
    return value, raw, []


def _read_number(question, raw_value, raw) -> tuple[Any, dict[str, Any], list[str]]:
    low, high = question["min"], question["max"]
    bounds = ""
    if low is not None and high is not None:
        bounds = f" from {_format_number(low)} to {_format_number(high)}"
    elif low is not None:
        bounds = f" of at least {_format_number(low)}"
    elif high is not None:
        bounds = f" of at most {_format_number(high)}"
    message = f"Please enter a {'whole ' if question['integer'] else ''}number{bounds}."
    if question["integer"]:
        if not re.fullmatch(r"[-+]?\d{1,15}", raw_value):
            return None, raw, [message]
        number: int | float = int(raw_value)
    else:
        if not re.fullmatch(r"[-+]?(\d{1,15}(\.\d{0,6})?|\.\d{1,6})", raw_value):
            return None, raw, [message]
        number = float(raw_value)
    if low is not None and number < low or high is not None and number > high:
        return None, raw, [message]
    return number, raw, []


def _read_matrix(question, form) -> tuple[Any, dict[str, Any], list[str]]:
    qid = question["id"]
    columns = {c["value"] for c in question["columns"]}
    raw: dict[str, Any] = {}
    value: dict[str, str] = {}
    errors: list[str] = []
    for row in question["rows"]:
        name = f"{qid}[{row['value']}]"
        given = [_clean_text(v) for v in form.getlist(name)]
        raw[name] = given[0] if given else ""
        if len(given) > 1 or (given and given[0] and given[0] not in columns):
            errors.append(f"{row['label']}: please choose one of the answers given.")
        elif given and given[0]:
            value[row["value"]] = given[0]
    if not errors and question["required"] and len(value) < len(question["rows"]):
        missing = [r["label"] for r in question["rows"] if r["value"] not in value]
        errors.append("Please answer every row (" + ", ".join(missing) + ").")
    if errors:
        return None, raw, errors
    return (value or None), raw, []
