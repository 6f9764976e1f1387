"""No input a browser can send produces a 5xx: random fields and values on every page."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.helpers import csrf_token_from
from tests.surveys.conftest import responses
from tests.surveys.test_taking import GOOD_PAGE_1

NAMES = ["colour", "colour_other", "pets", "pets_other", "city", "dog_name", "postcode", "story", "email", "age",
         "score", "grid[news]", "grid[sport]", "grid[x]", "action", "link_account", "contact-website", "csrf_token",
         "read_frequency", "page"]
VALUES = st.one_of(
    st.sampled_from(["", "red", "other", "dog", "syd", "1", "2", "-1", "1e9", "nan", "10", "next", "back", "submit", "y"]),
    st.text(max_size=300),
)
FORMS = st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page_one=FORMS, page_two=FORMS)
def test_random_forms_never_fail_on_the_server(app, client, make_survey, reader_for, page_one, page_two):
    slug = "all-types"
    if not responses(app):
        make_survey()
        reader = reader_for(slug)
        reader.start()
        reader.send(1, GOOD_PAGE_1)
    token = csrf_token_from(client.get(f"/surveys/{slug}/page/1").get_data(as_text=True))
    for number, fields in ((1, page_one), (2, page_two)):
        data = MultiDict([("csrf_token", token), *fields])
        reply = client.post(f"/surveys/{slug}/page/{number}", data=data)
        assert reply.status_code < 500, reply.get_data(as_text=True)[:500]


JSON_VALUES = st.one_of(VALUES, st.sampled_from(["\udcff", "\ud800x", "a\udfff"]), st.none(), st.integers(),
                        st.lists(VALUES, max_size=3), st.dictionaries(st.text(max_size=5), VALUES, max_size=2))
JSON_BODIES = st.dictionaries(st.sampled_from(NAMES + ["utm_source", "utm_campaign", "referrer"]), JSON_VALUES, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=JSON_BODIES, page=JSON_BODIES)
@example(start={"utm_campaign": "\udcff"}, page={})  # was a 500: a lone surrogate reached the database
@example(start={}, page={"colour": "\udcff", "action": "next"})
@example(start={"utm_campaign": [1, 2]}, page={"pets": {"a": "b"}})
def test_random_json_bodies_never_fail_on_the_server(app, reader_survey, start, page):
    """Flask-WTF reads a JSON body as the form: anything a script can send gets a page or a 400."""
    client = app.test_client()
    token = csrf_token_from(client.get(f"/surveys/{reader_survey}").get_data(as_text=True))
    reply = client.post(f"/surveys/{reader_survey}/start", json={"csrf_token": token, **start})
    assert reply.status_code < 500, reply.get_data(as_text=True)[:500]
    if any(isinstance(v, str) and "\udcff" in v for v in start.values()):
        assert reply.status_code == 400
    reply = client.post(f"/surveys/{reader_survey}/page/1", json={"csrf_token": token, **page})
    assert reply.status_code < 500, reply.get_data(as_text=True)[:500]


def test_the_lone_surrogate_from_the_issue_is_refused_and_starts_nothing(app, client, reader_survey):
    intro = client.get(f"/surveys/{reader_survey}").get_data(as_text=True)
    body = '{"csrf_token": "%s", "utm_campaign": "\\udcff"}' % csrf_token_from(intro)
    reply = client.post(f"/surveys/{reader_survey}/start", data=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert responses(app) == []
