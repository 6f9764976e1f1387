"""The results page: counts and percentages of a known set of responses, charts with data
tables, the matrix grid, numbers, free text (paginated, searchable), responses per day, and the
staff dashboard panel."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sight.staff import dashboard_panels
from surveys.results import ResponseFilter, survey_results
from surveys.staff_views import survey_panel
from surveys.statistics import Share
from tests.surveys.staff.conftest import V1, add_response, make_survey

UTC = timezone.utc
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.fixture
def known(session):
    survey = make_survey(session, (V1,))
    day_one = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 20 November in Sydney
    day_three = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    answers = [
        ({"read_frequency": "daily", "sections": ["news", "culture"], "recommend": 9, "age": 20,
          "agree": {"news": "3", "culture": "1"}, "nickname": "Ann"}, day_one, 60),
        ({"read_frequency": "daily", "sections": ["news"], "recommend": 10, "age": 40,
          "agree": {"news": "3"}, "nickname": "Bo"}, day_one, 100),
        ({"read_frequency": "weekly", "sections": ["news", "other"], "sections_other": "Gardening",
          "recommend": 0, "age": 60, "agree": {"news": "1"}}, day_three, 140),
        ({"recommend": 9}, day_three, 200),
    ]  # fmt: skip
    for answer, submitted_at, seconds in answers:
        add_response(session, survey, answer, submitted_at=submitted_at, seconds=seconds)
    add_response(session, survey, {"read_frequency": "monthly"}, submitted_at=None, started_at=day_one)
    return survey


def by_id(results, qid):
    return next(q for q in results.questions if q.id == qid)


def test_counts_and_percentages_are_of_those_who_answered(session, known):
    results = survey_results(session, known, ResponseFilter(), SYDNEY)
    assert results.total == 4
    frequency = by_id(results, "read_frequency")
    assert frequency.answered == 3
    assert [(b.label, b.count, round(b.percent)) for b in frequency.bars] == [
        ("Every day", 2, 67), ("Every week", 1, 33), ("Every month", 0, 0),
    ]  # fmt: skip
    sections = by_id(results, "sections")
    assert [(b.label, b.count, round(b.percent)) for b in sections.bars] == [
        ("News", 3, 100), ("Culture", 1, 33), ("Science", 0, 0), ("Other (please specify)", 1, 33),
    ]  # fmt: skip
    assert sections.other_count == 1 and sections.latest_texts == ["Gardening"]
    recommend = by_id(results, "recommend")
    assert [(b.label, b.count) for b in recommend.bars if b.count] == [("0", 1), ("9", 2), ("10", 1)]
    assert len(recommend.bars) == 11
    age = by_id(results, "age").numbers
    assert (age.minimum, age.median, age.mean, age.maximum) == (20, 40, 40, 60)
    agree = by_id(results, "agree")
    assert agree.matrix_columns == ["Disagree", "Neutral", "Agree"]
    assert [(r.label, r.answered, [c.count for c in r.cells]) for r in agree.matrix_rows] == [
        ("News", 3, [1, 0, 2]), ("Culture", 1, [1, 0, 0]),
    ]  # fmt: skip
    assert by_id(results, "nickname").latest_texts == ["Bo", "Ann"]
    assert results.median_seconds == 120
    assert results.duration_text == "2 min 0 s, within the 2 minutes promised"
    assert [(d.day.isoformat(), d.count) for d in results.per_day] == [
        ("2026-11-20", 2), ("2026-11-21", 0), ("2026-11-22", 2),
    ]  # fmt: skip


def test_results_page_shows_charts_with_data_tables_and_the_matrix_grid(staff_client, known):
    response = staff_client.get("/staff/surveys/reader-survey")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<dt>Responses</dt><dd>4</dd>" in html
    assert "2 min 0 s, within the 2 minutes promised" in html
    assert html.count('<svg class="chart"') == 6  # four choice questions, the rating, and the days
    assert "/staff/surveys/reader-survey/charts/days.svg" in html
    every_day = Share(2, 3)
    assert (
        f'<tr><th scope="row">Every day</th><td class="num">2</td><td class="num">67%<span class="margin"> ±{every_day.margin:.0f}</span></td>'
        f'<td class="num">{every_day.low:.0f}–{every_day.high:.0f}%</td></tr>'
    ) in html
    assert '<tr><th scope="row">21 November 2026</th><td class="num">0</td></tr>' in html
    news_agree = Share(2, 3)
    assert '<table class="grid">' in html and (
        f'<td class="num heat-3">2 <span class="pct">67%<span class="margin"> ±{news_agree.margin:.0f}</span></span></td>'
    ) in html
    assert '1 “Other” answers, searchable' in html
    assert "/staff/surveys/reader-survey/export.csv" in html
    assert 'style="' not in html and "<script>" not in html


def test_unfinished_responses_have_their_own_results(staff_client, known):
    html = staff_client.get("/staff/surveys/reader-survey?status=unfinished").get_data(as_text=True)
    assert "<dt>Responses</dt><dd>1</dd>" in html
    assert '<tr><th scope="row">Every month</th><td class="num">1</td><td class="num">100%<span class="margin">' in html


def test_a_survey_without_responses_shows_zero_counts(staff_client, session):
    make_survey(session, (V1,))
    html = staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True)
    assert "<dt>Responses</dt><dd>0</dd>" in html
    assert "no finished responses yet" in html


@pytest.fixture
def many_texts(session):
    survey = make_survey(session, (V1,))
    for n in range(30):
        add_response(session, survey, {"nickname": f"answer {n:02d}"}, submitted_at=datetime(2026, 11, 20, 1, n, tzinfo=UTC))
    return survey


def answers_on(html: str) -> list[str]:
    unmarked = html.replace("<mark>", "").replace("</mark>", "")  # searched words are highlighted
    return re.findall(r"<li><p>(answer \d\d)</p>", unmarked)


def test_free_text_is_paginated_newest_first(staff_client, many_texts):
    first = staff_client.get("/staff/surveys/reader-survey/answers/nickname").get_data(as_text=True)
    assert answers_on(first) == [f"answer {n:02d}" for n in range(29, 4, -1)]
    assert "30 answers. Page 1 of 2." in first
    assert 'rel="next" href="/staff/surveys/reader-survey/answers/nickname?page=2"' in first
    second = staff_client.get("/staff/surveys/reader-survey/answers/nickname?page=2").get_data(as_text=True)
    assert answers_on(second) == [f"answer {n:02d}" for n in range(4, -1, -1)]
    beyond = staff_client.get("/staff/surveys/reader-survey/answers/nickname?page=9").get_data(as_text=True)
    assert "No answers on this page." in beyond


def test_free_text_search_is_case_insensitive_and_keeps_the_filters(staff_client, many_texts):
    html = staff_client.get("/staff/surveys/reader-survey/answers/nickname?q=ANSWER+1&version=1").get_data(as_text=True)
    assert answers_on(html) == [f"answer {n:02d}" for n in range(19, 9, -1)]
    assert "10 answers containing “ANSWER 1”" in html
    assert 'value="ANSWER 1"' in html


def test_other_texts_have_their_own_page(staff_client, known):
    html = staff_client.get("/staff/surveys/reader-survey/answers/sections_other").get_data(as_text=True)
    assert "<li><p>Gardening</p>" in html


def test_dashboard_panel_gives_totals_this_week_and_time_against_the_promise(app, session, known):
    assert survey_panel in dashboard_panels(app)
    # Wednesday 25 November 2026 in Sydney: the week began on Monday 23rd, so no response is "this week".
    now = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    with app.test_request_context():
        panel = survey_panel(session, now)
        assert dict(panel.figures) == {
            "Sight reader survey: finished responses": "4",
            "Sight reader survey: this week (from Monday)": "0",
            "Sight reader survey: median time to finish": "2 min 0 s, within the 2 minutes promised",
            "Sight reader survey: Sight+ ask clicked": "0 of 0 thank-you pages (no views yet)",
        }
        assert panel.link_url == "/staff/surveys/reader-survey"
        # Sunday 22 November is in the week that began on Monday 16th.
        assert dict(survey_panel(session, datetime(2026, 11, 22, 5, 0, tzinfo=UTC)).figures)[
            "Sight reader survey: this week (from Monday)"
        ] == "4"


@pytest.mark.browser
def test_staff_read_results_and_download_csv_on_a_phone(staff_client, known, live_server, page):
    # The staff client's signed session cookie, handed to the browser.
    page.context.add_cookies(
        [{"name": "session", "value": staff_client.get_cookie("session").value, "url": live_server}]
    )
    page.goto(f"{live_server}/staff/surveys/reader-survey")
    assert page.locator("h1").inner_text() == "Sight reader survey: results"
    assert page.locator("svg.chart").first.is_visible()
    # Nothing makes a phone scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.select_option("#status", "all")
    page.get_by_role("button", name="Show results").click()
    assert "status=all" in page.url
    assert page.locator(".figures dd").first.inner_text() == "5"
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV", exact=True).click()
    assert download.value.suggested_filename.startswith("reader-survey-")
    body = Path(download.value.path()).read_bytes()
    assert body.count(b"\r\n") == 6  # the header and five responses (the filter carried over)
