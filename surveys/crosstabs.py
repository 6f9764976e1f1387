"""Cross-tabs: the answers to one question (or a fact about the response: Sight+, version,
source) against another, as counts and row percentages with their margins of error, and as
rows for a spreadsheet.

A dimension says which categories a response falls in; `crosstab` counts the pairs over any
iterable of responses (it keeps counts only, so memory does not grow with the survey).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from surveys.definition import walk
from surveys.statistics import Share

# Question types whose answers fall into a few known categories.
CATEGORY_TYPES = frozenset(walk.CHOICE_TYPES | {"rating"})
NO_SOURCE = "(no source)"
SIGHT_PLUS_CATEGORIES = [("yes", "Sight+ members"), ("no", "Other signed-in readers"), ("unknown", "Not linked to an account")]
FACT_DIMENSIONS = {"sight_plus": "Sight+", "version": "Survey version", "source": "Source (utm_source)"}


@dataclass(frozen=True)
class ResponseFacts:
    """What a cross-tab needs to know of one response."""

    version: int
    sight_plus: bool | None
    source: str | None
    answers: Mapping


@dataclass(frozen=True)
class Dimension:
    key: str  # a question id, or one of FACT_DIMENSIONS
    label: str
    # Known categories in their order, as (value, label); values met that are not listed
    # are added after them, most frequent first.
    categories: list[tuple[str, str]]
    categories_of: Callable[[ResponseFacts], list[str]]
    multiple: bool = False


def _answer_values(qid: str, multiple: bool) -> Callable[[ResponseFacts], list[str]]:
    def values(facts: ResponseFacts) -> list[str]:
        answer = facts.answers.get(qid)
        if answer is None or answer == "" or answer == []:
            return []
        return [str(v) for v in answer] if multiple and isinstance(answer, list) else [str(answer)]

    return values


def _sight_plus(facts: ResponseFacts) -> list[str]:
    return ["unknown" if facts.sight_plus is None else "yes" if facts.sight_plus else "no"]


def _version(facts: ResponseFacts) -> list[str]:
    return [str(facts.version)]


def _source(facts: ResponseFacts) -> list[str]:
    return [facts.source or NO_SOURCE]


def question_dimension(question: walk.MergedQuestion) -> Dimension:
    if question.type == "rating":
        points = walk.merge_pairs([(str(p), str(p)) for p in walk.rating_points(q)] for q in question.by_version.values())
        categories = sorted(points, key=lambda pair: int(pair[0]))
    else:
        categories = question.options()
    multiple = question.type == "multiple_choice"
    return Dimension(question.id, question.label, categories, _answer_values(question.id, multiple), multiple)


def available_dimensions(definitions: dict[int, dict]) -> dict[str, Dimension]:
    """Every dimension staff can cross: the choice and rating questions of these versions, in
    page order, then Sight+, version and source."""
    found = {q.id: question_dimension(q) for q in walk.merge_questions(definitions) if q.type in CATEGORY_TYPES}
    found["sight_plus"] = Dimension("sight_plus", FACT_DIMENSIONS["sight_plus"], SIGHT_PLUS_CATEGORIES, _sight_plus)
    found["version"] = Dimension(
        "version", FACT_DIMENSIONS["version"], [(str(n), f"Version {n}") for n in sorted(definitions)], _version
    )
    found["source"] = Dimension("source", FACT_DIMENSIONS["source"], [], _source)
    return found


@dataclass(frozen=True)
class Cell:
    column: str  # the column's label
    share: Share  # count of the row's base


@dataclass(frozen=True)
class CrossRow:
    label: str
    base: int  # responses in this row that answered the column dimension
    cells: list[Cell]


@dataclass
class CrossTab:
    rows: Dimension
    columns: Dimension
    base: int  # responses that answered both
    column_labels: list[str] = field(default_factory=list)
    table: list[CrossRow] = field(default_factory=list)
    column_totals: list[Share] = field(default_factory=list)

    @property
    def percents_add_up(self) -> bool:
        """Row percentages add up to 100 only when a response has one column category."""
        return not self.columns.multiple


def _ordered(dimension: Dimension, seen: Counter) -> list[tuple[str, str]]:
    known = {value for value, _ in dimension.categories}
    extra = sorted((value for value in seen if value not in known), key=lambda v: (-seen[v], v))
    return list(dimension.categories) + [(value, value) for value in extra]


class CrossTabCounter:
    """Counts one cross-tab as responses are fed to it one at a time, so that several can be
    counted in one pass; it keeps counts only."""

    def __init__(self, rows: Dimension, columns: Dimension):
        self.rows, self.columns = rows, columns
        self.pairs: Counter = Counter()
        self.row_bases: Counter = Counter()
        self.column_counts: Counter = Counter()
        self.base = 0

    def add(self, facts: ResponseFacts) -> None:
        row_values = self.rows.categories_of(facts)
        column_values = self.columns.categories_of(facts)
        if not row_values or not column_values:
            return
        self.base += 1
        self.column_counts.update(column_values)
        for row_value in row_values:
            self.row_bases[row_value] += 1
            for column_value in column_values:
                self.pairs[row_value, column_value] += 1

    def result(self) -> CrossTab:
        column_categories = _ordered(self.columns, self.column_counts)
        table = CrossTab(self.rows, self.columns, self.base, column_labels=[label for _, label in column_categories])
        for row_value, row_label in _ordered(self.rows, self.row_bases):
            row_base = self.row_bases[row_value]
            cells = [Cell(label, Share(self.pairs[row_value, value], row_base)) for value, label in column_categories]
            table.table.append(CrossRow(row_label, row_base, cells))
        table.column_totals = [Share(self.column_counts[value], self.base) for value, _ in column_categories]
        return table


def crosstab(rows: Dimension, columns: Dimension, responses: Iterable[ResponseFacts]) -> CrossTab:
    """Count each (row category, column category) pair over the responses that answered both.

    A multiple-choice answer puts the response in every category it chose. A row's percentages
    are of the responses in that row."""
    counter = CrossTabCounter(rows, columns)
    for facts in responses:
        counter.add(facts)
    return counter.result()


# --- as a spreadsheet -------------------------------------------------------------------------


def crosstab_sheet(table: CrossTab) -> tuple[list[str], list[bool], Iterator[list]]:
    """Headers, which columns are numeric, and rows: per row category, its base, then the count
    and the row percentage (one decimal) of each column category; a last row of totals."""
    headers = [f"{table.rows.label} by {table.columns.label}", "Base"]
    for label in table.column_labels:
        headers += [f"{label} (count)", f"{label} (% of row)"]
    numeric = [False] + [True] * (len(headers) - 1)

    def rows() -> Iterator[list]:
        for row in table.table:
            line: list = [row.label, row.base]
            for cell in row.cells:
                line += [cell.share.count, round(cell.share.percent, 1)]
            yield line
        total: list = ["All who answered both", table.base]
        for share in table.column_totals:
            total += [share.count, round(share.percent, 1)]
        yield total

    return headers, numeric, rows()
