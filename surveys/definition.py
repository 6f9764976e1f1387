"""Survey definitions as data: parse, validate (every problem located), normalise, dump,
evaluate `show_if`, and read a reader's answers to one page. No Flask, no database.

The contract is surveys/DEFINITION.md. A validated definition is plain JSON-able data with
every default filled in, so two definitions can be compared with `==`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import yaml
from email_validator import EmailNotValidError, validate_email

QUESTION_TYPES = (
    "single_choice",
    "multiple_choice",
    "dropdown",
    "short_text",
    "long_text",
    "email",
    "number",
    "rating",
    "matrix",
)
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice", "dropdown"})
ONE_RESPONSE_PER = ("any", "browser", "account")

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Staff pages live beside the results page at /staff/surveys/<slug>.
RESERVED_SLUGS = {"new", "import"}
# Form fields of our own that share the page with the questions.
RESERVED_IDS = {"csrf_token", "action", "link_account"}
OTHER_VALUE = "other"
OTHER_LABEL = "Other (please specify)"

DEFAULT_MAX_LENGTH = {"short_text": 200, "long_text": 2000, "email": 254}
MAX_MAX_LENGTH = 10_000
MAX_OPTIONS = 100
MAX_RATING_POINTS = 21

TOP_KEYS = {"slug", "title", "intro", "closing", "version", "settings", "pages"}
SETTINGS_KEYS = {"one_response_per", "resume_days", "min_seconds", "captcha", "opens_at", "closes_at"}
PAGE_KEYS = {"id", "title", "show_if", "questions"}
COMMON_QUESTION_KEYS = {"id", "type", "label", "help", "required", "show_if"}
TYPE_KEYS = {
    "single_choice": {"options", "other"},
    "multiple_choice": {"options", "other", "min_choices", "max_choices"},
    "dropdown": {"options"},
    "short_text": {"max_length", "pattern"},
    "long_text": {"max_length"},
    "email": {"max_length"},
    "number": {"min", "max", "integer"},
    "rating": {"scale", "nps"},
    "matrix": {"rows", "columns"},
}
DEFAULT_SETTINGS = {
    "one_response_per": "browser",
    "resume_days": 14,
    "min_seconds": 10,
    "captcha": False,
    "opens_at": None,
    "closes_at": None,
}


class DefinitionError(ValueError):
    """A definition that cannot be used; `problems` says what is wrong and where."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


# --- parsing and dumping -----------------------------------------------------------------


def parse_definition_text(text: str) -> Any:
    """YAML or JSON (JSON is YAML) into data; a syntax error says on which line."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        raise DefinitionError([f"{where}: {exc.problem or 'this is not valid YAML or JSON'}"]) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError([f"this is not valid YAML or JSON ({exc})"]) from exc
    return data


def load_definition(text: str) -> dict:
    """Parse and validate: the normalised definition, or DefinitionError with every problem."""
    return validate_definition(parse_definition_text(text))


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line text (intro, closing) dumped as readable `|` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def dump_definition(definition: Mapping, fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(
        dict(definition), Dumper=_BlockStyleDumper, sort_keys=False, allow_unicode=True, width=100
    )


# --- validation --------------------------------------------------------------------------


@dataclass
class _Checker:
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}" if where else message)

    def unknown_keys(self, where: str, data: Mapping, allowed: set[str], what: str = "") -> None:
        for key in data:
            if key not in allowed:
                hint = f" for {what}" if what else ""
                self.add(where, f"unknown key {key!r}{hint}")

    def text(self, where: str, data: Mapping, key: str, *, required: bool, max_length: int = 10_000) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.add(where, f"{key!r} is required")
            return ""
        if not isinstance(value, str):
            self.add(f"{where}.{key}", f"must be text, not {_kind(value)}")
            return ""
        value = value.strip()
        if required and not value:
            self.add(f"{where}.{key}", "must not be empty")
        if len(value) > max_length:
            self.add(f"{where}.{key}", f"is {len(value)} characters long; at most {max_length}")
        return value

    def integer(self, where: str, value: Any, *, low: int | None = None, high: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, f"must be a whole number, not {_kind(value)}")
            return None
        if low is not None and value < low or high is not None and value > high:
            self.add(where, f"must be from {low} to {high}, not {value}")
            return None
        return value

    def boolean(self, where: str, value: Any) -> bool:
        if not isinstance(value, bool):
            self.add(where, f"must be true or false, not {_kind(value)}")
            return False
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (put it in quotes if you meant text: YAML reads yes/no/on/off as true/false)"
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    ) + (f" {value!r}" if isinstance(value, (int, float, str)) else "")


def validate_definition(data: Any) -> dict:
    """Check a parsed definition; return it normalised or raise DefinitionError."""
    check = _Checker()
    if not isinstance(data, Mapping):
        raise DefinitionError([f"a survey definition is a mapping of keys (slug, title, pages …), not {_kind(data)}"])
    check.unknown_keys("", data, TOP_KEYS)
    slug = check.text("", data, "slug", required=True, max_length=80)
    if slug and not SLUG_PATTERN.match(slug):
        check.add("slug", f"{slug!r} must be lowercase letters, digits and single hyphens")
    elif slug in RESERVED_SLUGS:
        check.add("slug", f"{slug!r} is reserved for a staff page; choose another")
    if "version" in data:
        check.integer("version", data["version"], low=1, high=1_000_000)
    definition = {
        "slug": slug,
        "title": check.text("", data, "title", required=True, max_length=200),
        "intro": check.text("", data, "intro", required=False),
        "closing": check.text("", data, "closing", required=False),
        "settings": _settings(check, data.get("settings")),
        "pages": [],
    }
    pages = data.get("pages")
    if not isinstance(pages, list) or not pages:
        check.add("pages", "a survey needs a list of at least one page")
        pages = []
    seen: dict[str, dict] = {}
    field_names: set[str] = set()
    page_ids: set[str] = set()
    for p, page in enumerate(pages):
        definition["pages"].append(
            _page(check, f"pages[{p}]", page, seen, field_names, page_ids, last=p == len(pages) - 1)
        )
    if check.problems:
        raise DefinitionError(check.problems)
    return definition


def _settings(check: _Checker, data: Any) -> dict:
    settings = dict(DEFAULT_SETTINGS)
    if data is None:
        return settings
    if not isinstance(data, Mapping):
        check.add("settings", f"must be a mapping, not {_kind(data)}")
        return settings
    check.unknown_keys("settings", data, SETTINGS_KEYS)
    if data.get("one_response_per") is not None:
        value = data["one_response_per"]
        if value not in ONE_RESPONSE_PER:
            check.add("settings.one_response_per", f"must be one of {', '.join(ONE_RESPONSE_PER)}, not {value!r}")
        else:
            settings["one_response_per"] = value
    if data.get("resume_days") is not None:
        settings["resume_days"] = check.integer("settings.resume_days", data["resume_days"], low=1, high=365) or 14
    if data.get("min_seconds") is not None:
        value = check.integer("settings.min_seconds", data["min_seconds"], low=0, high=3600)
        settings["min_seconds"] = value if value is not None else DEFAULT_SETTINGS["min_seconds"]
    if data.get("captcha") is not None:
        settings["captcha"] = check.boolean("settings.captcha", data["captcha"])
    for key in ("opens_at", "closes_at"):
        if data.get(key) is not None:
            moment = _moment(check, f"settings.{key}", data[key])
            settings[key] = moment.isoformat() if moment else None
    if settings["opens_at"] and settings["closes_at"] and settings["opens_at"] >= settings["closes_at"]:
        check.add("settings.closes_at", "must be later than opens_at")
    return settings


def _moment(check: _Checker, where: str, value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    else:
        moment = None
    if moment is None or moment.tzinfo is None:
        check.add(where, "must be a date and time with a UTC offset, e.g. 2026-12-01T09:00:00+11:00")
        return None
    return moment.astimezone(timezone.utc)


def _page(check, where, data, seen, field_names, page_ids, *, last: bool) -> dict:
    page = {"id": "", "title": "", "show_if": None, "questions": []}
    if not isinstance(data, Mapping):
        check.add(where, f"a page must be a mapping (id, title, questions), not {_kind(data)}")
        return page
    check.unknown_keys(where, data, PAGE_KEYS, "a page")
    page["id"] = _identifier(check, where, data)
    if page["id"] in page_ids:
        check.add(f"{where}.id", f"page id {page['id']!r} is used twice")
    page_ids.add(page["id"])
    page["title"] = check.text(where, data, "title", required=False, max_length=200)
    if data.get("show_if") is not None:
        if last:
            check.add(f"{where}.show_if", "the last page is always shown (it holds the Send button)")
        page["show_if"] = _show_if(check, f"{where}.show_if", data["show_if"], seen)
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        check.add(f"{where}.questions", "a page needs a list of at least one question")
        questions = []
    for q, question in enumerate(questions):
        normalised = _question(check, f"{where}.questions[{q}]", question, seen, field_names)
        page["questions"].append(normalised)
        if normalised.get("id") and normalised["id"] not in seen:
            seen[normalised["id"]] = normalised
    return page


def _identifier(check: _Checker, where: str, data: Mapping) -> str:
    value = data.get("id")
    if value is None:
        check.add(where, "'id' is required")
        return ""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        check.add(
            f"{where}.id",
            f"{value!r} must start with a lowercase letter and use only a-z, 0-9 and _ (at most 60)",
        )
        return ""
    if value in RESERVED_IDS:
        check.add(f"{where}.id", f"{value!r} is reserved; choose another id")
    return value


def _question(check, where, data, seen, field_names) -> dict:
    if not isinstance(data, Mapping):
        check.add(where, f"a question must be a mapping (id, type, label …), not {_kind(data)}")
        return {}
    kind = data.get("type")
    if kind not in QUESTION_TYPES:
        if kind is None:
            check.add(where, "'type' is required")
        else:
            check.add(where, f"unknown type {kind!r} (one of: {', '.join(QUESTION_TYPES)})")
        check.unknown_keys(where, data, COMMON_QUESTION_KEYS | set().union(*TYPE_KEYS.values()))
        return {}
    check.unknown_keys(where, data, COMMON_QUESTION_KEYS | TYPE_KEYS[kind], f"type {kind!r}")
    qid = _identifier(check, where, data)
    question: dict[str, Any] = {
        "id": qid,
        "type": kind,
        "label": check.text(where, data, "label", required=True, max_length=500),
        "help": check.text(where, data, "help", required=False, max_length=1000),
        "required": check.boolean(f"{where}.required", data["required"]) if "required" in data else False,
        "show_if": None,
    }
    if qid:
        names = {qid} | ({f"{qid}_other"} if data.get("other") else set())
        for name in names:
            if name in field_names:
                check.add(f"{where}.id", f"{name!r} is already used by another question (ids are never reused)")
        field_names.update(names)
    if data.get("show_if") is not None:
        question["show_if"] = _show_if(check, f"{where}.show_if", data["show_if"], seen)
    if kind in CHOICE_TYPES:
        question["options"] = _options(check, f"{where}.options", data.get("options"))
        if kind != "dropdown":
            question["other"] = check.boolean(f"{where}.other", data["other"]) if "other" in data else False
            if question["other"] and OTHER_VALUE in {o["value"] for o in question["options"]}:
                check.add(f"{where}.options", f"value {OTHER_VALUE!r} is added by `other: true`; remove it")
        if kind == "multiple_choice":
            _choice_limits(check, where, data, question)
    elif kind in DEFAULT_MAX_LENGTH:
        question["max_length"] = DEFAULT_MAX_LENGTH[kind]
        if data.get("max_length") is not None:
            question["max_length"] = check.integer(f"{where}.max_length", data["max_length"], low=1, high=MAX_MAX_LENGTH) or DEFAULT_MAX_LENGTH[kind]
        if kind == "short_text":
            question["pattern"] = None
            if data.get("pattern") is not None:
                pattern = data["pattern"]
                try:
                    re.compile(pattern)
                    question["pattern"] = pattern
                except (re.error, TypeError) as exc:
                    check.add(f"{where}.pattern", f"is not a valid regular expression ({exc})")
    elif kind == "number":
        question["integer"] = check.boolean(f"{where}.integer", data["integer"]) if "integer" in data else True
        for key in ("min", "max"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
                check.add(f"{where}.{key}", f"must be a number, not {_kind(value)}")
                value = None
            question[key] = value
        if question["min"] is not None and question["max"] is not None and question["min"] > question["max"]:
            check.add(f"{where}.max", "must not be less than min")
    elif kind == "rating":
        question["scale"] = _scale(check, f"{where}.scale", data.get("scale"))
        # Kept only when true, so that definitions without it stay as they were stored.
        if "nps" in data and check.boolean(f"{where}.nps", data["nps"]):
            question["nps"] = True
            if (question["scale"]["min"], question["scale"]["max"]) != (0, 10):
                check.add(f"{where}.nps", "a Net Promoter question is rated from 0 to 10")
    elif kind == "matrix":
        question["rows"] = _options(check, f"{where}.rows", data.get("rows"))
        question["columns"] = _options(check, f"{where}.columns", data.get("columns"))
    return question


def _options(check: _Checker, where: str, data: Any) -> list[dict]:
    if not isinstance(data, list) or not data:
        check.add(where, "a list of at least one {value, label} is required")
        return []
    if len(data) > MAX_OPTIONS:
        check.add(where, f"at most {MAX_OPTIONS} entries")
    options, values = [], set()
    for i, item in enumerate(data):
        here = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            check.add(here, f"must be a mapping {{value, label}}, not {_kind(item)}")
            continue
        check.unknown_keys(here, item, {"value", "label"})
        value = item.get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > 60:
            check.add(f"{here}.value", f"must be text of 1 to 60 characters, not {_kind(value)}")
            continue
        if value in values:
            check.add(f"{here}.value", f"{value!r} is used twice")
        values.add(value)
        options.append({"value": value, "label": check.text(here, item, "label", required=True, max_length=300)})
    return options


def _choice_limits(check: _Checker, where: str, data: Mapping, question: dict) -> None:
    available = len(question["options"]) + (1 if question["other"] else 0)
    for key in ("min_choices", "max_choices"):
        question[key] = None
        if data.get(key) is not None:
            question[key] = check.integer(f"{where}.{key}", data[key], low=0 if key == "min_choices" else 1, high=max(available, 1))
    low, high = question["min_choices"], question["max_choices"]
    if low is not None and high is not None and low > high:
        check.add(f"{where}.max_choices", "must not be less than min_choices")


def _scale(check: _Checker, where: str, data: Any) -> dict:
    scale = {"min": 1, "max": 5, "min_label": "", "max_label": ""}
    if not isinstance(data, Mapping):
        check.add(where, "a rating needs a scale {min, max, min_label, max_label}")
        return scale
    check.unknown_keys(where, data, set(scale))
    for key in ("min", "max"):
        if key not in data:
            check.add(where, f"{key!r} is required")
        else:
            value = check.integer(f"{where}.{key}", data[key], low=-100, high=100)
            if value is not None:
                scale[key] = value
    if scale["max"] <= scale["min"]:
        check.add(f"{where}.max", "must be more than min")
    elif scale["max"] - scale["min"] + 1 > MAX_RATING_POINTS:
        check.add(where, f"at most {MAX_RATING_POINTS} points")
    scale["min_label"] = check.text(where, data, "min_label", required=False, max_length=100)
    scale["max_label"] = check.text(where, data, "max_label", required=False, max_length=100)
    return scale


def _show_if(check: _Checker, where: str, data: Any, seen: dict[str, dict]) -> dict | None:
    if not isinstance(data, Mapping):
        check.add(where, "must be a mapping like {question: ID, equals: VALUE}")
        return None
    check.unknown_keys(where, data, {"question", "equals", "any_of", "answered"})
    target_id = data.get("question")
    target = seen.get(target_id) if isinstance(target_id, str) else None
    if target is None:
        check.add(where, f"question {target_id!r} is not an earlier question of this survey")
        return None
    tests = [key for key in ("equals", "any_of", "answered") if key in data]
    if len(tests) != 1:
        check.add(where, "give exactly one of equals, any_of or answered")
        return None
    test = tests[0]
    if test == "answered":
        return {"question": target_id, "answered": check.boolean(f"{where}.answered", data["answered"])}
    wanted = data[test] if test == "any_of" else [data[test]]
    if not isinstance(wanted, list) or not wanted:
        check.add(f"{where}.{test}", "must be a non-empty list of values")
        return None
    allowed = _comparable_values(target)
    if allowed is None:
        check.add(where, f"{target_id!r} is a {target['type']} question: only `answered` can be tested")
        return None
    values = []
    for value in wanted:
        if isinstance(value, int) and not isinstance(value, bool) and target["type"] != "rating":
            value = str(value)
        if value not in allowed:
            check.add(f"{where}.{test}", f"{value!r} is not an answer of {target_id!r}")
        values.append(value)
    return {"question": target_id, test: values if test == "any_of" else values[0]}


def _comparable_values(question: dict) -> set | None:
    if question["type"] in CHOICE_TYPES:
        values = {o["value"] for o in question["options"]}
        return values | ({OTHER_VALUE} if question.get("other") else set())
    if question["type"] == "rating":
        return set(rating_points(question))
    return None


# --- reading a definition ----------------------------------------------------------------


def iter_questions(definition: Mapping) -> Iterator[dict]:
    """Every question, in page order (tolerant of a part-built definition, as exports may meet)."""
    for page in definition.get("pages") or []:
        yield from page.get("questions") or []


def question_by_id(definition: Mapping, question_id: str) -> dict | None:
    return next((q for q in iter_questions(definition) if q["id"] == question_id), None)


def choice_options(question: Mapping) -> list[dict]:
    """The options a reader sees, with the "Other" option added where the question has one."""
    options = list(question.get("options") or [])
    if question.get("other") and all(option["value"] != OTHER_VALUE for option in options):
        options.append({"value": OTHER_VALUE, "label": OTHER_LABEL})
    return options


def rating_points(question: Mapping) -> list[int]:
    scale = question.get("scale") or {}
    return list(range(int(scale.get("min", 1)), int(scale.get("max", 5)) + 1))


def option_label(question: Mapping, value: str) -> str:
    for option in choice_options(question):
        if option["value"] == value:
            return option["label"]
    return value


def questions_changed(old: Mapping, new: Mapping) -> bool:
    """Whether answers to `old` could mean something else under `new` (a new version is due)."""
    return old["pages"] != new["pages"]


def condition_met(show_if: Mapping | None, answers: Mapping) -> bool:
    if not show_if:
        return True
    answer = answers.get(show_if["question"])
    if "answered" in show_if:
        return (answer is not None) == show_if["answered"]
    wanted = show_if["any_of"] if "any_of" in show_if else [show_if["equals"]]
    given = answer if isinstance(answer, list) else [answer]
    return any(value in given for value in wanted)


def visible_pages(definition: Mapping, answers: Mapping) -> list[int]:
    """Indexes of the pages shown given these answers (the last page always is)."""
    return [i for i, page in enumerate(definition["pages"]) if condition_met(page["show_if"], answers)]


def visible_answers(definition: Mapping, answers: Mapping) -> dict:
    """Only the answers to questions the reader was shown, in definition order."""
    kept: dict[str, Any] = {}
    for page in definition["pages"]:
        if not condition_met(page["show_if"], kept):
            continue
        for question in page["questions"]:
            if question["id"] in answers and condition_met(question["show_if"], kept):
                kept[question["id"]] = answers[question["id"]]
                other = f"{question['id']}_other"
                if other in answers:
                    kept[other] = answers[other]
    return kept


# --- a reader's answers to one page ------------------------------------------------------


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


def page_field_names(page: Mapping) -> set[str]:
    names: set[str] = set()
    for question in page["questions"]:
        if question["type"] == "matrix":
            names.update(f"{question['id']}[{row['value']}]" for row in question["rows"])
        else:
            names.add(question["id"])
        if question.get("other"):
            names.add(f"{question['id']}_other")
    return names


def page_answer_keys(page: Mapping) -> set[str]:
    """The keys of `Response.answers` that this page's questions own."""
    keys = {q["id"] for q in page["questions"]}
    return keys | {f"{q['id']}_other" for q in page["questions"] if q.get("other")}


def shown_questions(page: Mapping, earlier_answers: Mapping) -> list[dict]:
    """The page's questions whose show_if refers to earlier pages and holds (rendered by the server)."""
    page_ids = {q["id"] for q in page["questions"]}
    return [
        q
        for q in page["questions"]
        if not q["show_if"] or q["show_if"]["question"] in page_ids or condition_met(q["show_if"], earlier_answers)
    ]


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
        return None, raw, ["That isn't in the form we asked for; please check it."]
    return raw_value, raw, []


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
