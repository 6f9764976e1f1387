"""Staff insight pages read back against counts made in the test: the NPS and margins on the
results page, cross-tabs (page, CSV, chart), Sight+ beside other readers, one whole response,
charts as files, the search highlight, and the promise on the dashboard."""

from __future__ import annotations

import copy
import csv
import io
import random
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import select

from accounts.models import Role
from sight.audit import AuditEntry
from surveys.staff_views import survey_panel
from surveys.statistics import Share
from tests.helpers import create_user, csrf_token_from, sign_in_as, sign_in_url
from tests.surveys.staff.conftest import V1, V2, add_response, make_survey

UTC = timezone.utc
SVG = "{http://www.w3.org/2000/svg}"


def with_nps(definition: dict) -> dict:
    flagged = copy.deepcopy(definition)
    for page in flagged["pages"]:
        for question in page["questions"]:
            if question["id"] == "recommend":
                question["nps"] = True
    return flagged


@pytest.fixture
def many(session):
    """120 responses over two versions, with random answers, Sight+ snapshots and sources."""
    survey = make_survey(session, (with_nps(V1), with_nps(V2)))
    rng = random.Random(1313)
    made = []
    start = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    for n in range(120):
        version = 1 if n < 50 else 2
        answers = {"read_frequency": rng.choice(["daily", "weekly", "monthly"])}
        if rng.random() < 0.8:
            answers["recommend"] = rng.randint(0, 10)
        if rng.random() < 0.5:
            answers["sections"] = sorted(rng.sample(["news", "culture", "science"], rng.randint(1, 2)))
        plus = rng.choice([True, False, None])
        response = add_response(session, survey, answers, version=version, sight_plus=plus,
                                submitted_at=start + timedelta(hours=7 * n))
        made.append((response.id, version, plus, answers))
    return survey, made


def test_the_results_page_shows_the_nps_and_every_share_with_its_margin_and_base(staff_client, many):
    _, made = many
    ratings = [a["recommend"] for _, _, _, a in made if "recommend" in a]
    promoters, detractors = sum(r >= 9 for r in ratings), sum(r <= 6 for r in ratings)
    score = (promoters - detractors) * 100 / len(ratings)
    html = staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True)
    assert f"Net Promoter Score: <strong>{score:+.0f}</strong>" in html
    assert f"Promoters (9–10): {promoters}, {promoters * 100 / len(ratings):.0f}%" in html
    assert f"of {len(ratings)} who answered" in html
    mean = sum(ratings) / len(ratings)
    assert f"<dt>Mean</dt><dd>{mean:.1f}</dd>" in html
    daily = sum(1 for _, _, _, a in made if a["read_frequency"] == "daily")
    share = Share(daily, len(made))
    assert f"{share.percent:.0f}%<span class=\"margin\"> ±{share.margin:.0f}</span>" in html
    assert "/staff/surveys/reader-survey/charts/q-read_frequency.png" in html
    assert 'style="' not in html and "<script>" not in html


def test_a_cross_tab_by_sight_plus_counts_what_the_responses_say(staff_client, many):
    _, made = many
    html = staff_client.get("/staff/surveys/reader-survey/crosstab?rows=read_frequency&columns=sight_plus").get_data(as_text=True)
    table = html[html.index('<table class="grid crosstab">'):html.index("</table>")]
    weekly = [plus for _, _, plus, a in made if a["read_frequency"] == "weekly"]
    row = re.search(r'<th scope="row">Every week</th>(.*?)</tr>', table, re.S).group(1)
    counts = [int(c.replace(",", "")) for c in re.findall(r'<td class="num">([\d,]+) <span class="pct">', row)]
    assert counts == [weekly.count(True), weekly.count(False), weekly.count(None)]
    assert f'<td class="num">{len(weekly)}</td>' in row
    # The same table as CSV, and the export is audited.
    body = staff_client.get("/staff/surveys/reader-survey/crosstab.csv?rows=read_frequency&columns=sight_plus")
    assert body.status_code == 200 and body.headers["Content-Disposition"].startswith('attachment; filename="reader-survey-crosstab-')
    lines = list(csv.reader(io.StringIO(body.get_data(as_text=True))))
    line = next(line for line in lines if line[0] == "Every week")
    assert int(line[1]) == len(weekly)
    assert int(line[lines[0].index("Sight+ members (count)")]) == weekly.count(True)
    assert float(line[lines[0].index("Sight+ members (% of row)")]) == round(weekly.count(True) * 100 / len(weekly), 1)


def test_the_cross_tab_csv_neutralises_a_formula_in_a_source(staff_client, session):
    survey = make_survey(session, (V1,))
    response = add_response(session, survey, {"read_frequency": "daily"})
    response.utm_source = "=HYPERLINK(\"http://x\")"
    session.commit()
    body = staff_client.get("/staff/surveys/reader-survey/crosstab.csv?rows=read_frequency&columns=source").get_data(as_text=True)
    header = next(csv.reader(io.StringIO(body)))
    assert "'=HYPERLINK(\"http://x\") (count)" in header
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "survey.export")).details["what"] == "crosstab"


def test_a_cross_tab_chart_as_svg_has_segments_as_wide_as_the_row_percentages(staff_client, many):
    _, made = many
    svg = staff_client.get("/staff/surveys/reader-survey/charts/crosstab.svg?rows=read_frequency&columns=version").get_data(as_text=True)
    root = ET.fromstring(svg)
    first = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-segment-0"]
    second = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class") == "chart-segment-1"]
    for value, v1_width, v2_width in zip(["daily", "weekly", "monthly"], first, second, strict=False):
        versions = [v for _, v, _, a in made if a["read_frequency"] == value]
        assert v1_width / (v1_width + v2_width) == pytest.approx(versions.count(1) / len(versions), abs=0.002)


def test_a_question_chart_as_png_and_svg(staff_client, many):
    _, made = many
    png = staff_client.get("/staff/surveys/reader-survey/charts/q-read_frequency.png")
    assert png.mimetype == "image/png"
    image = Image.open(io.BytesIO(png.data))
    assert image.size[0] > 1000  # drawn at twice the size, for a slide
    svg = ET.fromstring(staff_client.get("/staff/surveys/reader-survey/charts/q-read_frequency.svg").data)
    bars = [float(r.get("width")) for r in svg.iter(f"{SVG}rect") if r.get("class") == "chart-bar"]
    track = next(float(r.get("width")) for r in svg.iter(f"{SVG}rect") if r.get("class") == "chart-track")
    expected = [sum(1 for *_, a in made if a["read_frequency"] == v) / len(made) for v in ("daily", "weekly", "monthly")]
    assert [b / track for b in bars[:3]] == pytest.approx(expected, abs=0.002)
    days = ET.fromstring(staff_client.get("/staff/surveys/reader-survey/charts/days.svg").data)
    texts = [t.text for t in days.iter(f"{SVG}text")]
    assert "20 Nov" in texts  # a dated axis
    assert staff_client.get("/staff/surveys/reader-survey/charts/q-nickname.svg").status_code == 404


def test_sight_plus_members_beside_other_readers(staff_client, many):
    _, made = many
    html = staff_client.get("/staff/surveys/reader-survey/sight-plus").get_data(as_text=True)
    section = html[html.index('id="q-read_frequency"'):]
    section = section[: section.index("</table>")]
    members = [a["read_frequency"] for _, _, plus, a in made if plus is True]
    assert f"Sight+ members<br><span class=\"muted\">of {len(members)}</span>" in section
    row = re.search(r'<th scope="row">Daily \(was: Every day\)</th>(.*?)</tr>', section, re.S).group(1)
    first = re.search(r'<td class="num">(\d+) <span class="pct">(\d+)%', row)
    assert int(first.group(1)) == members.count("daily")
    assert int(first.group(2)) == round(members.count("daily") * 100 / len(members))


def test_one_response_whole_in_the_labels_of_its_version_with_previous_and_next(staff_client, session, many):
    survey, made = many
    response_id, version, plus, answers = made[60]  # a version 2 response
    html = staff_client.get(f"/staff/surveys/reader-survey/responses/{response_id}").get_data(as_text=True)
    assert f"<h1>Response {response_id}</h1>" in html
    label = {"daily": "Daily", "weekly": "Every week", "monthly": "Every month"}[answers["read_frequency"]]
    assert f"<dd>{label}</dd>" in html  # version 2 calls "daily" Daily
    assert f'href="/staff/surveys/reader-survey/responses/{made[59][0]}"' in html
    assert f'href="/staff/surveys/reader-survey/responses/{made[61][0]}"' in html
    assert {True: "Sight+ member", False: "not Sight+", None: "not known"}[plus] in html
    old = staff_client.get(f"/staff/surveys/reader-survey/responses/{made[0][0]}").get_data(as_text=True)
    if made[0][3]["read_frequency"] == "daily":
        assert "<dd>Every day</dd>" in old
    assert "Previous response" not in old
    # Filters carry over: with Sight+ members only, next is the next member's response.
    members = [r for r in made if r[2] is True]
    filtered = staff_client.get(f"/staff/surveys/reader-survey/responses/{members[0][0]}?sight_plus=yes").get_data(as_text=True)
    assert f'/responses/{members[1][0]}?sight_plus=yes"' in filtered
    start = staff_client.get("/staff/surveys/reader-survey/responses?sight_plus=yes")
    assert start.headers["Location"].endswith(f"/responses/{members[0][0]}?sight_plus=yes")
    assert staff_client.get("/staff/surveys/reader-survey/responses/999999").status_code == 404


def test_searched_words_are_highlighted_and_link_to_the_whole_response(staff_client, session):
    survey = make_survey(session, (V1,))
    response = add_response(session, survey, {"comment": "I <b>love</b> the Culture pages, agriculture and gardening news"})
    html = staff_client.get("/staff/surveys/reader-survey/answers/comment?q=culture+GARDEN").get_data(as_text=True)
    # Words that begin with a word searched for, as the search matches them; not "agriculture".
    assert "I &lt;b&gt;love&lt;/b&gt; the <mark>Culture</mark> pages, agriculture and <mark>gardening</mark> news" in html
    assert f'href="/staff/surveys/reader-survey/responses/{response.id}"' in html


def test_the_promise_is_set_per_survey_and_the_dashboard_measures_each_version_against_it(app, staff_client, session, many):
    survey, made = many
    form = staff_client.get("/staff/surveys/reader-survey/promise").get_data(as_text=True)
    bad = staff_client.post("/staff/surveys/reader-survey/promise", data={"csrf_token": csrf_token_from(form), "minutes": "0"})
    assert bad.status_code == 422 and "From 1 to 120 minutes." in bad.get_data(as_text=True)
    saved = staff_client.post("/staff/surveys/reader-survey/promise", data={"csrf_token": csrf_token_from(form), "minutes": "1"})
    assert saved.status_code == 302
    with app.test_request_context():
        figures = dict(survey_panel(session, datetime(2026, 12, 30, tzinfo=UTC)).figures)
    # Every response took 95 s: over a one-minute promise.
    assert figures["Sight reader survey: median time to finish"] == "1 min 35 s, over the 1 minute promised"
    assert figures["Sight reader survey, version 2: median time to finish"] == "1 min 35 s, over the 1 minute promised (70 finished)"
    assert figures["Sight reader survey, version 1: median time to finish"].endswith("(50 finished)")


INSIGHT_URLS = [
    "/staff/surveys/reader-survey/crosstab",
    "/staff/surveys/reader-survey/crosstab.csv",
    "/staff/surveys/reader-survey/sight-plus",
    "/staff/surveys/reader-survey/responses",
    "/staff/surveys/reader-survey/responses/1",
    "/staff/surveys/reader-survey/charts/days.svg",
    "/staff/surveys/reader-survey/charts/days.png",
    "/staff/surveys/reader-survey/promise",
]


@pytest.mark.parametrize("url", INSIGHT_URLS)
def test_anonymous_visitors_are_sent_to_sign_in(client, session, url):
    make_survey(session, (V1,))
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"] == sign_in_url(url)


@pytest.mark.parametrize("url", INSIGHT_URLS)
def test_readers_get_403(client, session, url):
    make_survey(session, (V1,))
    sign_in_as(client, create_user(session, "reader@example.com", role=Role.reader))
    assert client.get(url).status_code == 403
