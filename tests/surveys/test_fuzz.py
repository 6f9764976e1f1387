"""No input a browser can send produces a 5xx: random fields and values on every page."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
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
