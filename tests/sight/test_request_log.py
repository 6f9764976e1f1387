"""One structured line per request, and nothing secret in it."""

from __future__ import annotations

import json
import logging

import pytest

from tests.helpers import submit_form


@pytest.fixture
def request_lines(caplog):
    caplog.set_level(logging.INFO, logger="sight.request")

    def lines() -> list[dict]:
        fields = ("method", "path", "status", "duration_ms", "request_id")
        return [{name: getattr(r, name) for name in fields} for r in caplog.records if r.name == "sight.request"]

    return lines


def test_each_request_is_one_line_with_method_path_status_duration_and_id(client, request_lines):
    response = client.get("/no-such-page?email=someone%40example.com")
    [line] = request_lines()
    assert line["method"] == "GET" and line["path"] == "/no-such-page" and line["status"] == 404
    assert line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["X-Request-ID"] and len(line["request_id"]) == 32
    assert "example.com" not in json.dumps(line)


def test_the_proxys_request_id_is_kept_and_a_forged_one_replaced(client, request_lines):
    assert client.get("/", headers={"X-Request-ID": "0123456789abcdef0123"}).headers["X-Request-ID"] == "0123456789abcdef0123"
    forged = client.get("/", headers={"X-Request-ID": "x\" FAKE LOG LINE"}).headers["X-Request-ID"]
    assert "FAKE" not in forged
    assert [line["request_id"] for line in request_lines()] == ["0123456789abcdef0123", forged]


def test_tokens_passwords_and_emails_never_reach_the_log(client, make_user, mailbox, request_lines, caplog):
    make_user("reader@example.com")
    submit_form(client, "/sign-in", {"email": "reader@example.com", "password": "correct horse battery staple"})
    submit_form(client, "/password/reset", {"email": "reader@example.com"})
    link = mailbox.wait_for("reader@example.com").get_body(("plain",)).get_content().split("/password/reset/")[1].split()[0]
    client.get(f"/password/reset/{link}")
    lines = request_lines()
    assert {"path": "/password/reset/:token", "status": 200} in [
        {"path": line["path"], "status": line["status"]} for line in lines
    ]
    logged = json.dumps(lines)
    for secret in (link, "reader@example.com", "correct horse"):
        assert secret not in logged


def test_a_signed_token_is_hidden_even_where_no_route_matched(client, request_lines):
    client.get("/donate/pay/MQ.axTnXw.2RYAlq0JcFsn4nq_8hV-3dZkqg/nowhere?code=oidc-secret")
    client.get("/static/donate.js").close()
    assert [line["path"] for line in request_lines()] == ["/donate/pay/:token/nowhere", "/static/donate.js"]
