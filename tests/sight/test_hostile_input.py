"""No 5xx from hostile input: every route with an integer in its URL answers ids beyond the
database's range (2**31 on PostgreSQL, 2**63 anywhere) with a 404, as a signed-in admin, for
each of its methods; a multipart part with no name is a 400."""

from __future__ import annotations

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
