"""Each filter selects exactly the right responses; a bad filter, an unknown survey or an unknown
format gets a clear 400/404 page, never a 5xx and never a file."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from tests.surveys.staff.conftest import V1, V2, add_response, make_survey

UTC = timezone.utc


@pytest.fixture
def responses(session):
    """Named responses around the edges of Sydney days (AEDT is UTC+11 in November)."""
    survey = make_survey(session, (V1, V2))

    def add(name, **kwargs):
        return name, add_response(session, survey, {"nickname": name}, **kwargs).id

    made = dict(
        [
            # 00:30 on 1 November in Sydney, still 31 October in UTC.
            add("early_sydney_morning", submitted_at=datetime(2026, 10, 31, 13, 30, tzinfo=UTC), sight_plus=True),
            # 23:59:59 on 10 November in Sydney, then 00:00 on 11 November.
            add("last_second_of_10th", submitted_at=datetime(2026, 11, 10, 12, 59, 59, tzinfo=UTC), sight_plus=False),
            add("first_second_of_11th", submitted_at=datetime(2026, 11, 10, 13, 0, tzinfo=UTC), version=2),
            add("unfinished", submitted_at=None, started_at=datetime(2026, 11, 5, tzinfo=UTC), version=2),
        ]
    )
    return survey, made


def exported_names(client, query: str) -> set[str]:
    response = client.get(f"/staff/surveys/reader-survey/export.csv?{query}")
    assert response.status_code == 200, response.data
    rows = list(csv.DictReader(io.StringIO(response.data.decode())))
    return {row["nickname"] for row in rows}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"early_sydney_morning", "last_second_of_10th", "first_second_of_11th"}),
        ("status=finished", {"early_sydney_morning", "last_second_of_10th", "first_second_of_11th"}),
        ("status=unfinished", {"unfinished"}),
        ("status=all", {"early_sydney_morning", "last_second_of_10th", "first_second_of_11th", "unfinished"}),
        ("from=2026-11-01&to=2026-11-01", {"early_sydney_morning"}),
        ("to=2026-10-31", set()),
        ("to=2026-11-10", {"early_sydney_morning", "last_second_of_10th"}),
        ("from=2026-11-11", {"first_second_of_11th"}),
        ("from=2026-11-02&to=2026-11-10&status=all", {"last_second_of_10th", "unfinished"}),
        ("version=1", {"early_sydney_morning", "last_second_of_10th"}),
        ("version=2&status=all", {"first_second_of_11th", "unfinished"}),
        ("sight_plus=yes", {"early_sydney_morning"}),
        ("sight_plus=no", {"last_second_of_10th"}),
        ("sight_plus=&status=&version=&from=&to=", {"early_sydney_morning", "last_second_of_10th", "first_second_of_11th"}),
    ],
)
def test_each_filter_selects_exactly_the_right_responses(staff_client, responses, query, expected):
    assert exported_names(staff_client, query) == expected


def test_results_page_counts_the_same_responses_the_export_holds(staff_client, responses):
    html = staff_client.get("/staff/surveys/reader-survey?sight_plus=no").get_data(as_text=True)
    assert "<dt>Responses</dt><dd>1</dd>" in html
    html = staff_client.get("/staff/surveys/reader-survey?status=all").get_data(as_text=True)
    assert "<dt>Responses</dt><dd>4</dd>" in html


def test_an_export_that_matches_nothing_still_has_its_headers(staff_client, responses):
    body = staff_client.get("/staff/surveys/reader-survey/export.csv?to=2026-10-31").data.decode()
    assert body.startswith('"response_id","survey_version","submitted_at"')
    assert body.count("\r\n") == 1


URLS = [
    "/staff/surveys/reader-survey",
    "/staff/surveys/reader-survey/answers/nickname",
    "/staff/surveys/reader-survey/export.csv",
    "/staff/surveys/reader-survey/export.xlsx",
    "/staff/surveys/reader-survey/export.json",
    "/staff/surveys/reader-survey/codebook.csv",
]
BAD_FILTERS = [
    ("from=2026-13-01", "Enter a date as YYYY-MM-DD"),
    ("to=yesterday", "Enter a date as YYYY-MM-DD"),
    ("from=2026-11-05&to=2026-11-01", "The end date is before the start date"),
    ("from=0001-01-01", "Enter a date between 1900 and 2999"),
    ("to=9999-12-31", "Enter a date between 1900 and 2999"),
    ("version=9", "This survey has no such version; it has 1, 2"),
    ("version=abc", "This survey has no such version"),
    ("status=done", "Choose one of: finished, unfinished, all"),
    ("sight_plus=maybe", "Choose one of: yes, no"),
]
EXPORT_ONLY = [
    ("layout=wide", "Choose one of: summary, details"),
    ("values=names", "Choose one of: labels, codes"),
    ("bom=2", "Choose one of: 0, 1"),
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(("query", "message"), BAD_FILTERS)
def test_bad_filters_get_a_400_page_that_says_what_is_wrong(staff_client, responses, url, query, message):
    response = staff_client.get(f"{url}?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("url", [u for u in URLS if "export" in u or "codebook" in u])
@pytest.mark.parametrize(("query", "message"), EXPORT_ONLY)
def test_bad_export_options_get_a_400_page(staff_client, responses, url, query, message):
    response = staff_client.get(f"{url}?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_the_results_page_shows_filter_errors_beside_the_fields_and_keeps_the_others(staff_client, responses):
    response = staff_client.get("/staff/surveys/reader-survey?from=2026-02-30&status=all")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="from-error"' in html and 'aria-describedby="from-error"' in html
    assert '<option selected value="all">' in html or 'value="all" selected' in html


@pytest.mark.parametrize("url", [u.replace("reader-survey", "no-such-survey") for u in URLS])
def test_an_unknown_survey_is_a_404_page(staff_client, responses, url):
    response = staff_client.get(url)
    assert response.status_code == 404
    assert "There is no survey with the address" in response.get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["pdf", "xls", "csv.exe", "CSV"])
def test_a_format_we_do_not_make_is_a_404_page(staff_client, responses, fmt):
    response = staff_client.get(f"/staff/surveys/reader-survey/export.{fmt}")
    assert response.status_code == 404
    assert "Exports come as .csv, .xlsx or .json" in response.get_data(as_text=True)


@pytest.mark.parametrize(("field", "query", "status"), [
    ("read_frequency", "", 404),  # not a free-text question
    ("nope", "", 404),
    ("nickname", "page=0", 400),
    ("nickname", "page=abc", 400),
    ("nickname", "q=" + "x" * 201, 400),
])  # fmt: skip
def test_free_text_page_refuses_what_it_cannot_show(staff_client, responses, field, query, status):
    assert staff_client.get(f"/staff/surveys/reader-survey/answers/{field}?{query}").status_code == status


def test_where_readers_came_from_is_a_filter_and_a_panel(staff_client, session):
    survey = make_survey(session, (V1,))
    for name, source, article in [
        ("a", "newsletter", "/news/one"), ("b", "newsletter", "/news/two"), ("c", "facebook", "/news/one"), ("d", None, None),
    ]:  # fmt: skip
        add_response(session, survey, {"nickname": name}, utm_source=source, referrer_url=article)
    assert exported_names(staff_client, "utm_source=newsletter") == {"a", "b"}
    assert exported_names(staff_client, "utm_source=nowhere") == set()

    page = staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True)
    panel = page[page.index("Where readers came from") :]
    assert "newsletter" in panel and "facebook" in panel and "/news/one" in panel and "/news/two" in panel
    assert '<th scope="row">newsletter</th><td class="num">2</td><td class="num">50%</td>' in panel
    assert '<th scope="row">/news/one</th><td class="num">2</td>' in panel
    assert '<th scope="row">(none)</th><td class="num">1</td>' in panel
    filtered = staff_client.get("/staff/surveys/reader-survey?utm_source=facebook").get_data(as_text=True)
    assert "Responses</dt><dd>1</dd>" in filtered.replace("\n", "").replace("  ", "")
