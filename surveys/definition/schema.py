"""The schema of a survey definition and its validation: every problem located, every default
filled in, so that a validated definition is plain JSON-able data and two can be compared with
`==`. The contract is surveys/DEFINITION.md. No Flask, no database."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any


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
    "short_text": {"max_length", "pattern", "pattern_example", "pattern_hint"},
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
            _pattern_words(check, where, data, question)
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


def _pattern_words(check: _Checker, where: str, data: Mapping, question: dict) -> None:
    """An example that fits the pattern, and what it is in words: a reader whose answer does not
    fit is told "Please type 4 digits, like 3000". Kept only when given, so that definitions
    without them stay as they were stored."""
    for key, length in (("pattern_example", 200), ("pattern_hint", 200)):
        text = check.text(where, data, key, required=False, max_length=length)
        if not text:
            continue
        if "pattern" not in data or data.get("pattern") is None:
            check.add(f"{where}.{key}", "goes with a pattern: set `pattern` too")
        question[key] = text
    example, pattern = question.get("pattern_example"), question.get("pattern")
    if example and pattern and not re.fullmatch(pattern, example):
        check.add(f"{where}.pattern_example", f"{example!r} does not fit the pattern {pattern!r}")
    if example and len(example) > question["max_length"]:
        check.add(f"{where}.pattern_example", f"{example!r} is longer than max_length ({question['max_length']})")


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
        return set(range(question["scale"]["min"], question["scale"]["max"] + 1))
    return None


