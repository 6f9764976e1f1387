"""Reading stored survey definitions (see DEFINITION.md): questions in page order, their options,
matrix rows and columns, and how the questions of several versions line up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Re-exported: the exports and results read definitions through this module.
from surveys.definition import CHOICE_TYPES, OTHER_LABEL, choice_options, iter_questions, rating_points  # noqa: F401

TEXT_TYPES = frozenset({"short_text", "long_text", "email"})
NUMERIC_TYPES = frozenset({"number", "rating"})


def questions(definition: dict) -> list[dict]:
    """Every question of a definition, in page order."""
    return list(iter_questions(definition))


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
    """Union of (value, label) lists: the newest order and labels, then values only older ones had."""
    merged: dict[str, str] = {}
    for pairs in newest_first:
        for value, label in pairs:
            merged.setdefault(value, label)
    return list(merged.items())


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
