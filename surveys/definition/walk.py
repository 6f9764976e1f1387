"""The one walker of validated definitions: questions in page order, their options (with
"Other"), rating points, matrix rows and columns, `show_if`, which pages and answers a reader
was shown, the form fields of a page, and how the questions of several versions line up."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# CHOICE_TYPES and OTHER_LABEL are read through this module by results and exports.
from surveys.definition.schema import CHOICE_TYPES, OTHER_LABEL, OTHER_VALUE  # noqa: F401

TEXT_TYPES = frozenset({"short_text", "long_text", "email"})
NUMERIC_TYPES = frozenset({"number", "rating"})


def iter_questions(definition: Mapping) -> Iterator[dict]:
    """Every question, in page order (tolerant of a part-built definition, as exports may meet)."""
    for page in definition.get("pages") or []:
        yield from page.get("questions") or []


def questions(definition: Mapping) -> list[dict]:
    """Every question of a definition, in page order."""
    return list(iter_questions(definition))


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


def free_text_keys(definition: Mapping) -> set[str]:
    """The answer keys a reader types freely (text, email, "Other" texts): what retention removes."""
    keys: set[str] = set()
    for question in iter_questions(definition):
        if question.get("type") in TEXT_TYPES:
            keys.add(question["id"])
        if question.get("other"):
            keys.add(f"{question['id']}_other")
    return keys


def personal_data_questions(definition: Mapping) -> list[dict]:
    """The questions that ask who the reader is (an email address): staff are told the survey
    collects personal data."""
    return [question for question in iter_questions(definition) if question.get("type") == "email"]


def labelled_answers(definition: Mapping, answers: Mapping) -> list[dict]:
    """A response as a reader reads it: each answered question's label and the answer's labels."""
    shown = []
    for question in iter_questions(definition):
        qid = question["id"]
        if qid not in answers:
            continue
        value = answers[qid]
        if question["type"] == "matrix":
            rows, columns = dict(matrix_rows(question)), dict(matrix_columns(question))
            answer = [f"{rows.get(row, row)}: {columns.get(str(column), column)}" for row, column in value.items()]
        elif question["type"] in CHOICE_TYPES:
            labels = dict(options(question))
            answer = [labels.get(str(v), str(v)) for v in (value if isinstance(value, list) else [value])]
        else:
            answer = [str(value)]
        if f"{qid}_other" in answers:
            answer.append(str(answers[f"{qid}_other"]))
        shown.append({"question_id": qid, "question": question["label"], "answer": "; ".join(answer)})
    return shown


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


def skipped_questions(definition: Mapping, answers: Mapping) -> set[str]:
    """Ids of the questions these answers hid from the reader: a show_if of theirs or of their
    page did not hold, judged as visible_answers does, on the answers of questions shown."""
    kept: dict[str, Any] = {}
    skipped = set()
    for page in definition.get("pages") or []:
        page_shown = condition_met(page.get("show_if"), kept)
        for question in page.get("questions") or []:
            if page_shown and condition_met(question.get("show_if"), kept):
                if question["id"] in answers:
                    kept[question["id"]] = answers[question["id"]]
            else:
                skipped.add(question["id"])
    return skipped


def question_field_names(question: Mapping) -> set[str]:
    """The form fields a question is answered in (DEFINITION.md)."""
    if question["type"] == "matrix":
        names = {f"{question['id']}[{row['value']}]" for row in question["rows"]}
    else:
        names = {question["id"]}
    if question.get("other"):
        names.add(f"{question['id']}_other")
    return names


def page_field_names(page: Mapping) -> set[str]:
    return set().union(*(question_field_names(question) for question in page["questions"]))


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


# --- (value, label) pairs, and the questions of several versions ----------------------------


def _pairs(items: Iterable[dict]) -> list[tuple[str, str]]:
    return [(str(item["value"]), str(item.get("label", item["value"]))) for item in items]


def options(question: dict) -> list[tuple[str, str]]:
    """(value, label) of each option, with the "Other" option last when the question has one."""
    return _pairs(choice_options(question))


def matrix_rows(question: dict) -> list[tuple[str, str]]:
    return _pairs(question.get("rows") or [])


def matrix_columns(question: dict) -> list[tuple[str, str]]:
    return _pairs(question.get("columns") or [])


def merge_pairs(newest_first: Iterable[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Union of (value, label) lists, grouped by stored value: the newest order and labels, then
    values only older ones had. A value an older list labelled otherwise says so, e.g.
    "Crimson red (was: Red)", so that staff know its count holds answers given to other words."""
    labels: dict[str, list[str]] = {}
    for pairs in newest_first:
        for value, label in pairs:
            seen = labels.setdefault(value, [])
            if label not in seen:
                seen.append(label)
    return [(value, relabelled(seen)) for value, seen in labels.items()]


def relabelled(newest_first: list[str]) -> str:
    """A label and the earlier ones its value had: "Crimson red (was: Red; Scarlet)"."""
    newest, *earlier = newest_first
    return f"{newest} (was: {'; '.join(earlier)})" if earlier else newest


@dataclass(frozen=True)
class MergedQuestion:
    """One question id across the versions that ask it; `newest` holds its latest wording."""

    id: str
    newest: dict
    # The question as each version number asks it, newest first.
    by_version: dict[int, dict]

    @property
    def type(self) -> str:
        return self.newest.get("type", "")

    @property
    def label(self) -> str:
        return str(self.newest.get("label", self.id))

    @property
    def has_other(self) -> bool:
        return any(q.get("other") for q in self.by_version.values())

    def options(self) -> list[tuple[str, str]]:
        return merge_pairs(options(q) for q in self.by_version.values())

    def rows(self) -> list[tuple[str, str]]:
        return merge_pairs(matrix_rows(q) for q in self.by_version.values())

    def columns(self) -> list[tuple[str, str]]:
        return merge_pairs(matrix_columns(q) for q in self.by_version.values())


def merge_questions(definitions: dict[int, dict]) -> list[MergedQuestion]:
    """The questions of several versions (number -> definition) as one ordered list.

    The newest version sets the order; a question only older versions ask goes right after the
    question that preceded it there, so a dropped question stays near its old neighbours.
    """
    order: list[str] = []
    by_id: dict[str, dict[int, dict]] = {}
    for number in sorted(definitions, reverse=True):
        previous: str | None = None
        for question in questions(definitions[number]):
            qid = question["id"]
            if qid not in by_id:
                by_id[qid] = {}
                order.insert(order.index(previous) + 1 if previous is not None else 0, qid)
            by_id[qid][number] = question
            previous = qid
    return [MergedQuestion(qid, next(iter(by_id[qid].values())), by_id[qid]) for qid in order]
