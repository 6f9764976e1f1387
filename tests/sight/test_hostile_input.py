"""No 5xx from hostile input: every route with an integer in its URL answers ids beyond the
database's range (2**31 on PostgreSQL, 2**63 anywhere) with a 404, as a signed-in admin, for
each of its methods; a multipart part with no name is a 400; text that cannot be UTF-8, and JSON no form could send, are 400s."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from sight.hostile_input import MAX_DATABASE_INT
from tests.helpers import csrf_token_from, make_user, sign_in_as

INT_SEGMENT = re.compile(r"<int:(\w+)>")
# Just past what PostgreSQL's integer, SQLite's integer and any 64-bit number can hold, and far beyond.
EDGES = [MAX_DATABASE_INT + 1, 2**63, 2**64 + 1, 10**20, 99999999999999999999]


def int_routes(app) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if INT_SEGMENT.search(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def url_for_ids(rule: str, ids: list[int]) -> str:
    values = iter(ids)
    url = INT_SEGMENT.sub(lambda _: str(next(values)), rule)
    return re.sub(r"<(?:\w+:)?\w+>", "reader-survey", url)


@pytest.fixture
def admin_client(app, client):
    sign_in_as(client, make_user(app, "admin@sight.example", role=Role.admin, totp=True))
    return client


def test_every_integer_route_is_covered(app):
    rules = {rule for rule, _ in int_routes(app)}
    assert {"/account/receipts/<int:entry_id>", "/staff/members/<int:user_id>",
            "/staff/benefits/<int:benefit_id>", "/staff/people/<int:user_id>/role"} <= rules


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.one_of(st.sampled_from(EDGES), st.integers(min_value=MAX_DATABASE_INT + 1, max_value=10**40)),
                    min_size=2, max_size=2))
def test_ids_beyond_the_database_are_not_found_never_a_server_error(app, admin_client, ids):
    token = csrf_token_from(admin_client.get("/donate").get_data(as_text=True))
    for rule, method in int_routes(app):
        url = url_for_ids(rule, ids)
        response = admin_client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 404, (method, url, response.status_code)


@pytest.mark.parametrize("url", ["/donate", "/sign-in", "/staff/members/1/grant"])
def test_a_multipart_part_without_a_name_is_a_400(client, url):
    body = b"--X\r\nContent-Disposition: form-data\r\n\r\nhello\r\n--X--\r\n"
    response = client.post(url, data=body, headers={"Content-Type": "multipart/form-data; boundary=X"})
    assert response.status_code == 400


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.integers(min_value=0, max_value=MAX_DATABASE_INT), min_size=2, max_size=2))
def test_ids_within_range_that_do_not_exist_are_never_a_server_error(app, admin_client, ids):
    token = csrf_token_from(admin_client.get("/donate").get_data(as_text=True))
    for rule, method in int_routes(app):
        url = url_for_ids(rule, ids)
        response = admin_client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code < 500, (method, url, response.status_code)


# A lone surrogate: JSON can escape it, Python reads it as a str, and it cannot be written as UTF-8.
LONE_SURROGATE = "\udcff"


def post_routes(app) -> list[str]:
    return sorted({url_for_ids(rule.rule, [1, 1]) for rule in app.url_map.iter_rules() if "POST" in rule.methods})


def test_text_that_cannot_be_utf8_in_a_json_body_is_a_400_on_every_post_route(app, admin_client):
    token = csrf_token_from(admin_client.get("/donate").get_data(as_text=True))
    bodies = [{"csrf_token": token, "utm_campaign": LONE_SURROGATE}, {"csrf_token": token, LONE_SURROGATE: "x"},
              {"csrf_token": token, "pets": ["cat", "dog" + LONE_SURROGATE]}, {"data": {"object": {"id": LONE_SURROGATE}}}]
    routes = post_routes(app)
    assert {"/surveys/reader-survey/start", "/stripe/webhook", "/sign-in", "/donate"} <= set(routes)
    for url in routes:
        for body in bodies:
            response = admin_client.post(url, data=json.dumps(body), content_type="application/json")
            assert response.status_code == 400, (url, body, response.status_code)


@pytest.mark.parametrize("body", ["[1]", '"x"', "5", "null", "{", '{"csrf_token": 5}', '{"utm_campaign": [1, 2]}',
                                  '{"utm_campaign": {"a": "b"}}', '{"utm_campaign": null}'])
def test_a_json_body_a_form_could_not_have_sent_is_a_400(app, admin_client, body):
    for url in post_routes(app):
        if url == "/stripe/webhook":
            continue  # reads and checks its own JSON (tests/membership/test_webhooks.py)
        response = admin_client.post(url, data=body, content_type="application/json")
        assert response.status_code == 400, (url, body, response.status_code)


@pytest.mark.parametrize("url", ["/donate", "/sign-in"])
def test_bytes_that_would_decode_to_a_surrogate_in_a_form_or_query_never_reach_the_server_as_one(app, client, url):
    """Forms and queries are decoded by Werkzeug, which replaces bytes that are not UTF-8: the
    reader's page comes back, never a 500."""
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    encoded = client.post(url + "?utm_campaign=%ED%B3%BF", data=f"csrf_token={token}&email=%ED%B3%BF&amount=%ED%B3%BF",
                          content_type="application/x-www-form-urlencoded")
    body = (b"--X\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + token.encode()
            + b"\r\n--X\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n\xed\xb3\xbf\r\n--X--\r\n")
    multipart = client.post(url, data=body, content_type="multipart/form-data; boundary=X")
    assert encoded.status_code < 500 and multipart.status_code < 500
