"""The survey builder's edits: pure functions that take a definition (as stored, see
DEFINITION.md), make one change, and return a new, validated definition — so whatever the
builder makes, versions, import and download treat like any other definition.

Ids and option values are made from labels when none is given; each function refuses a change
that would leave the survey unusable, with a message staff can act on (BuilderError), and
anything the definition's own rules refuse comes back as DefinitionError. No Flask, no database.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from surveys.definition import validate_definition
from surveys.definition.schema import CHOICE_TYPES, OTHER_VALUE, RESERVED_IDS
from surveys.definition.walk import choice_options, iter_questions, rating_points

# Which lists of {value, label} each question type has.
LIST_KINDS = {
    "single_choice": ("options",),
    "multiple_choice": ("options",),
    "dropdown": ("options",),
    "matrix": ("rows", "columns"),
}
ID_LENGTH = 40
VALUE_LENGTH = 40
MOVES = ("up", "down")


class BuilderError(ValueError):
    """A change the builder refuses; `field` names the form field the message belongs beside."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


# --- names made from labels -----------------------------------------------------------------


def _ascii_words(label: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", plain)


def _join_words(words: list[str], limit: int) -> str:
    """Whole words joined with _ up to `limit` characters (a long first word is cut)."""
    joined = ""
    for word in words:
        longer = f"{joined}_{word}" if joined else word
        if len(longer) > limit:
            break
        joined = longer
    return joined or (words[0][:limit] if words else "")


def _unique(base: str, taken: set[str], limit: int) -> str:
    base = base[:limit].rstrip("_") or "x"
    candidate, number = base, 2
    while candidate in taken:
        suffix = f"_{number}"
        candidate = base[: limit - len(suffix)].rstrip("_") + suffix
        number += 1
    return candidate


def value_from_label(label: str, taken: set[str]) -> str:
    """An option value from its label: "Every day" -> "every_day", unique among `taken`."""
    base = _join_words(_ascii_words(label), VALUE_LENGTH) or "option"
    if base == OTHER_VALUE:
        base = "other_answer"  # `other` is the value of the "Other (please specify)" option
    return _unique(base, taken, VALUE_LENGTH)


def slug_from_title(title: str) -> str:
    """A survey's address from its title: "Reader survey 2027" -> "reader-survey-2027"."""
    return _join_words(_ascii_words(title), 80).replace("_", "-") or "survey"


def _taken_ids(definition: Mapping) -> set[str]:
    taken = set(RESERVED_IDS)
    for question in iter_questions(definition):
        taken |= {question["id"], f"{question['id']}_other"}
    return taken


def id_from_label(label: str, taken: set[str]) -> str:
    """A question id from its label: "How often do you read?" -> "how_often_do_you_read"."""
    words = _ascii_words(label)
    if words and not words[0][0].isalpha():
        words.insert(0, "q")
    base = _join_words(words, ID_LENGTH) or "question"
    candidate = _unique(base, taken, ID_LENGTH)
    # A new id must not clash with another question's `ID_other` field either.
    while candidate in taken or f"{candidate}_other" in taken:
        taken = taken | {candidate}
        candidate = _unique(base, taken, ID_LENGTH)
    return candidate


def _page_id(definition: Mapping, title: str) -> str:
    taken = {page["id"] for page in definition["pages"]}
    words = _ascii_words(title)
    if words and not words[0][0].isalpha():
        words.insert(0, "page")
    base = _join_words(words, ID_LENGTH) or "page"
    return _unique(base, taken, ID_LENGTH)


# --- finding things ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    page: int
    question: int


def _place(definition: Mapping, qid: str) -> Place:
    for p, page in enumerate(definition["pages"]):
        for q, question in enumerate(page["questions"]):
            if question["id"] == qid:
                return Place(p, q)
    raise BuilderError(f"There is no question “{qid}” in this survey (someone may have removed it).")


def _page_index(definition: Mapping, page_id: str) -> int:
    for p, page in enumerate(definition["pages"]):
        if page["id"] == page_id:
            return p
    raise BuilderError(f"There is no page “{page_id}” in this survey (someone may have removed it).")


def _dependants(definition: Mapping, qids: set[str]) -> list[str]:
    """Labels of the pages and questions whose show_if refers to one of `qids`."""
    found = []
    for page in definition["pages"]:
        if page["show_if"] and page["show_if"]["question"] in qids:
            found.append(f"page “{page['title'] or page['id']}”")
        for question in page["questions"]:
            if question["show_if"] and question["show_if"]["question"] in qids:
                found.append(f"“{question['label']}”")
    return found


def _finish(definition: dict) -> dict:
    """Validate the changed definition (the builder makes nothing the rules would refuse)."""
    return validate_definition(definition)


# --- the survey's own texts ----------------------------------------------------------------------


def new_definition(slug: str, title: str, first_question: Mapping) -> dict:
    """A one-page survey with one question: the smallest definition the rules accept."""
    definition = {"slug": slug, "title": title, "intro": "", "closing": "", "settings": {}, "pages": []}
    question = _new_question(definition, first_question)
    definition["pages"] = [{"id": "first", "title": "", "show_if": None, "questions": [question]}]
    return _finish(definition)


def update_texts(definition: Mapping, *, title: str, intro: str, closing: str) -> dict:
    changed = copy.deepcopy(dict(definition))
    changed.update(title=title, intro=intro, closing=closing)
    return _finish(changed)


# --- questions ------------------------------------------------------------------------------------


def _with_values(items: list, taken: set[str] | None = None) -> list[dict]:
    """Options from labels or {value, label}: a missing value is made from the label."""
    taken = set(taken or ())
    given = [item for item in items if isinstance(item, Mapping) and item.get("value")]
    taken |= {str(item["value"]) for item in given}
    made = []
    for item in items:
        if isinstance(item, Mapping):
            label, value = str(item.get("label", "")).strip(), str(item.get("value") or "").strip()
        else:
            label, value = str(item).strip(), ""
        if not label:
            continue
        if not value:
            value = value_from_label(label, taken)
            taken.add(value)
        made.append({"value": value, "label": label})
    return made


def _new_question(definition: Mapping, spec: Mapping) -> dict:
    question = {key: value for key, value in spec.items() if value is not None}
    if not question.get("id"):
        question["id"] = id_from_label(str(question.get("label", "")), _taken_ids(definition))
    for kind in LIST_KINDS.get(question.get("type", ""), ()):
        question[kind] = _with_values(list(question.get(kind) or []))
    return question


def add_question(definition: Mapping, page_id: str, spec: Mapping, *, after: str | None = None) -> tuple[dict, str]:
    """Add a question to a page (at its end, or after the question `after`); return the new
    definition and the question's id."""
    changed = copy.deepcopy(dict(definition))
    page = changed["pages"][_page_index(changed, page_id)]
    question = _new_question(changed, spec)
    position = len(page["questions"])
    if after:
        position = next((i + 1 for i, q in enumerate(page["questions"]) if q["id"] == after), position)
    page["questions"].insert(position, question)
    return _finish(changed), question["id"]


# Settings a question's edit form may change; `id` and `type` stay (answers are keyed by id and
# read by type: change them by adding a new question).
EDITABLE = {
    "label", "help", "required", "other", "min_choices", "max_choices", "max_length", "pattern",
    "pattern_example", "pattern_hint", "min", "max", "integer", "scale", "nps",
}


def update_question(definition: Mapping, qid: str, changes: Mapping) -> dict:
    """Change a question's settings; a value of None removes that setting (its default applies)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise BuilderError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    question = changed["pages"][place.page]["questions"][place.question]
    if question.get("other") and not changes.get("other", True) and _condition_uses(changed, qid, OTHER_VALUE):
        raise BuilderError("Another question or page is shown when “Other” is chosen here: change that first.", "other")
    for key, value in changes.items():
        if value is None:
            question.pop(key, None)
        else:
            question[key] = value
    return _finish(changed)


def _condition_uses(definition: Mapping, qid: str, value: str) -> bool:
    for page in definition["pages"]:
        for condition in [page["show_if"]] + [q["show_if"] for q in page["questions"]]:
            if condition and condition["question"] == qid:
                wanted = condition.get("any_of") or [condition.get("equals")]
                if value in wanted:
                    return True
    return False


def remove_question(definition: Mapping, qid: str) -> dict:
    """Remove a question; a page left empty goes with it. Refused while another question or
    page is shown depending on its answer, or when it is the survey's only question."""
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    dependants = _dependants(changed, {qid})
    if dependants:
        raise BuilderError(
            "Other questions are shown depending on this one's answer (" + ", ".join(dependants) + "): "
            "change their “Show only when” first."
        )
    page = changed["pages"][place.page]
    if len(page["questions"]) == 1:
        if len(changed["pages"]) == 1:
            raise BuilderError("A survey needs at least one question: add another before removing this one.")
        if place.page == len(changed["pages"]) - 1 and changed["pages"][place.page - 1]["show_if"]:
            raise BuilderError(
                "This is the only question of the last page, and the page before it is shown only sometimes; "
                "the last page must always be shown (it has the Send button). Remove that page's condition first."
            )
        del changed["pages"][place.page]
    else:
        del page["questions"][place.question]
    return _finish(changed)


def move_question(definition: Mapping, qid: str, direction: str) -> dict:
    """Move a question one place up or down; past the top or bottom of its page it moves to
    the end of the page before or the start of the page after."""
    if direction not in MOVES:
        raise BuilderError("Move a question up or down.")
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    pages = changed["pages"]
    questions = pages[place.page]["questions"]
    question = questions[place.question]
    step = -1 if direction == "up" else 1
    target = place.question + step
    if 0 <= target < len(questions):
        questions[place.question], questions[target] = questions[target], questions[place.question]
    else:
        other_page = place.page + step
        if not 0 <= other_page < len(pages):
            raise BuilderError(f"This is already the {'first' if step < 0 else 'last'} question of the survey.")
        if len(questions) == 1:
            raise BuilderError("This is the page's only question: move the page instead, or add another question first.")
        del questions[place.question]
        destination = pages[other_page]["questions"]
        destination.insert(len(destination) if step < 0 else 0, question)
    _check_order(changed)
    return _finish(changed)


def _check_order(definition: Mapping) -> None:
    """A show_if may only look back: say which move broke that, in words staff know."""
    seen: dict[str, str] = {}
    for page in definition["pages"]:
        if page["show_if"] and page["show_if"]["question"] not in seen:
            raise BuilderError(
                f"Page “{page['title'] or page['id']}” is shown depending on a question that would then come after it."
            )
        on_page: set[str] = set()
        for question in page["questions"]:
            condition = question["show_if"]
            if condition and condition["question"] not in seen and condition["question"] not in on_page:
                raise BuilderError(
                    f"“{question['label']}” is shown depending on a question that would then come after it."
                )
            on_page.add(question["id"])
        seen.update((q["id"], q["label"]) for q in page["questions"])


# --- options, matrix rows and columns ----------------------------------------------------------


def _list_of(question: dict, kind: str) -> list[dict]:
    if kind not in LIST_KINDS.get(question["type"], ()):
        raise BuilderError(f"A {question['type'].replace('_', ' ')} question has no {kind}.")
    return question[kind]


def add_option(definition: Mapping, qid: str, label: str, value: str = "", *, kind: str = "options") -> dict:
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    items = _list_of(changed["pages"][place.page]["questions"][place.question], kind)
    taken = {item["value"] for item in items}
    if value and value in taken:
        raise BuilderError(f"The value “{value}” is already used by another answer of this question.", "value")
    items.extend(_with_values([{"label": label, "value": value}], taken))
    return _finish(changed)


def update_option(
    definition: Mapping, qid: str, value: str, *, label: str, new_value: str = "", kind: str = "options", answered: bool = False
) -> dict:
    """Relabel an answer, or give it another value. `answered` says whether any response, of any
    version, holds this value: its value then stays, or those answers would change meaning."""
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    items = _list_of(changed["pages"][place.page]["questions"][place.question], kind)
    item = next((i for i in items if i["value"] == value), None)
    if item is None:
        raise BuilderError(f"This question has no answer with the value “{value}”.")
    new_value = new_value.strip() or value
    if new_value != value:
        if answered:
            noun = {"options": "answer", "rows": "row", "columns": "column"}[kind]
            raise BuilderError(
                f"Readers have already answered with “{item['label']}” (stored as “{value}”): its stored value "
                f"cannot change now, or their answers would change meaning. You can still change its words; "
                f"for a new meaning, add a new {noun} below.",
                "value",
            )
        if any(i["value"] == new_value for i in items):
            raise BuilderError(f"The value “{new_value}” is already used by another answer of this question.", "value")
        if kind == "options" and _condition_uses(changed, qid, value):
            raise BuilderError("Another question is shown depending on this answer: change that first.", "value")
    item.update(value=new_value, label=label)
    return _finish(changed)


def remove_option(definition: Mapping, qid: str, value: str, *, kind: str = "options") -> dict:
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    items = _list_of(changed["pages"][place.page]["questions"][place.question], kind)
    if kind == "options" and _condition_uses(changed, qid, value):
        raise BuilderError("Another question or page is shown depending on this answer: change that first.")
    if len(items) == 1:
        raise BuilderError(f"A question needs at least one entry in its {kind}: add another first.")
    items[:] = [i for i in items if i["value"] != value]
    return _finish(changed)


def move_option(definition: Mapping, qid: str, value: str, direction: str, *, kind: str = "options") -> dict:
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    items = _list_of(changed["pages"][place.page]["questions"][place.question], kind)
    index = next((i for i, item in enumerate(items) if item["value"] == value), None)
    if index is None:
        raise BuilderError(f"This question has no answer with the value “{value}”.")
    target = index + (-1 if direction == "up" else 1)
    if not 0 <= target < len(items):
        raise BuilderError(f"This is already the {'first' if direction == 'up' else 'last'} one.")
    items[index], items[target] = items[target], items[index]
    return _finish(changed)


# --- pages -------------------------------------------------------------------------------------------


def add_page(definition: Mapping, title: str, first_question: Mapping, *, after: str | None = None) -> tuple[dict, str]:
    """A new page (at the end, or after the page `after`) holding its first question."""
    changed = copy.deepcopy(dict(definition))
    pages = changed["pages"]
    position = _page_index(changed, after) + 1 if after else len(pages)
    question = _new_question(changed, first_question)
    page = {"id": _page_id(changed, title), "title": title, "show_if": None, "questions": [question]}
    pages.insert(position, page)
    return _finish(changed), page["id"]


def update_page(definition: Mapping, page_id: str, *, title: str) -> dict:
    changed = copy.deepcopy(dict(definition))
    changed["pages"][_page_index(changed, page_id)]["title"] = title
    return _finish(changed)


def remove_page(definition: Mapping, page_id: str) -> dict:
    changed = copy.deepcopy(dict(definition))
    index = _page_index(changed, page_id)
    if len(changed["pages"]) == 1:
        raise BuilderError("A survey needs at least one page.")
    dependants = _dependants(changed, {q["id"] for q in changed["pages"][index]["questions"]})
    if dependants:
        raise BuilderError(
            "Other questions are shown depending on answers on this page (" + ", ".join(dependants) + "): "
            "change their “Show only when” first."
        )
    del changed["pages"][index]
    if changed["pages"][-1]["show_if"]:
        raise BuilderError("The page before it is shown only sometimes, and the last page must always be shown.")
    return _finish(changed)


def move_page(definition: Mapping, page_id: str, direction: str) -> dict:
    changed = copy.deepcopy(dict(definition))
    pages = changed["pages"]
    index = _page_index(changed, page_id)
    target = index + (-1 if direction == "up" else 1)
    if not 0 <= target < len(pages):
        raise BuilderError(f"This is already the {'first' if direction == 'up' else 'last'} page.")
    pages[index], pages[target] = pages[target], pages[index]
    _check_order(changed)
    if pages[-1]["show_if"]:
        raise BuilderError("That would make a page that is shown only sometimes the last one, which holds the Send button.")
    return _finish(changed)


# --- show_if ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionSource:
    """An earlier question a show_if may test, and the answers it can test for."""

    id: str
    label: str
    answers: list[tuple[str, str]]  # (value, label); empty: only "answered" can be tested


def condition_sources(definition: Mapping, *, question: str | None = None, page: str | None = None) -> list[ConditionSource]:
    """The questions before `question` (on its page too) or before `page`, in order."""
    sources = []
    for page_data in definition["pages"]:
        if page is not None and page_data["id"] == page:
            break
        for candidate in page_data["questions"]:
            if candidate["id"] == question:
                return sources
            answers: list[tuple[str, str]] = []
            if candidate["type"] in CHOICE_TYPES:
                answers = [(o["value"], o["label"]) for o in choice_options(candidate)]
            elif candidate["type"] == "rating":
                answers = [(str(p), str(p)) for p in rating_points(candidate)]
            sources.append(ConditionSource(candidate["id"], candidate["label"], answers))
    return sources


def make_condition(definition: Mapping, source_id: str, values: list[str], *, before_question: str | None = None, before_page: str | None = None) -> dict:
    """A show_if from the form's choices: the question, and the answers that show it (none
    chosen means "when it was answered at all")."""
    sources = {s.id: s for s in condition_sources(definition, question=before_question, page=before_page)}
    source = sources.get(source_id)
    if source is None:
        raise BuilderError("Choose an earlier question.", "source")
    if not values:
        return {"question": source_id, "answered": True}
    allowed = {value for value, _ in source.answers}
    unknown = [v for v in values if v not in allowed]
    if unknown or not source.answers:
        raise BuilderError(f"“{source.label}” has no answer “{', '.join(unknown or values)}”.", "source")
    question = next(q for q in iter_questions(definition) if q["id"] == source_id)
    typed: list = [int(v) for v in values] if question["type"] == "rating" else list(values)
    return {"question": source_id, "equals": typed[0]} if len(typed) == 1 else {"question": source_id, "any_of": typed}


def set_question_condition(definition: Mapping, qid: str, condition: Mapping | None) -> dict:
    changed = copy.deepcopy(dict(definition))
    place = _place(changed, qid)
    changed["pages"][place.page]["questions"][place.question]["show_if"] = dict(condition) if condition else None
    return _finish(changed)


def set_page_condition(definition: Mapping, page_id: str, condition: Mapping | None) -> dict:
    changed = copy.deepcopy(dict(definition))
    index = _page_index(changed, page_id)
    if condition and index == len(changed["pages"]) - 1:
        raise BuilderError("The last page is always shown: it holds the Send button.", "source")
    changed["pages"][index]["show_if"] = dict(condition) if condition else None
    return _finish(changed)


def describe_condition(definition: Mapping, condition: Mapping | None) -> str:
    """A show_if in words: "when “How often…” is Every day or Every week"."""
    if not condition:
        return ""
    source = next((q for q in iter_questions(definition) if q["id"] == condition["question"]), None)
    if source is None:
        return ""
    if "answered" in condition:
        return f"when “{source['label']}” is {'answered' if condition['answered'] else 'not answered'}"
    wanted = condition["any_of"] if "any_of" in condition else [condition["equals"]]
    labels = {o["value"]: o["label"] for o in choice_options(source)}
    words = [labels.get(value, str(value)) for value in wanted]
    return f"when “{source['label']}” is " + " or ".join(words)
