"""Rate limits count readers, not the reverse proxy in front of the app (TRUSTED_PROXIES)."""


def sign_in_attempts(app, forwarded_for: list[str]) -> list[int]:
    client = app.test_client()
    return [
        client.post(
            "/sign-in",
            # A different email each time: only the per-address limit (30 a minute) is in play.
            data={"email": f"reader{n}@example.com", "password": "not the right password"},
            headers={"X-Forwarded-For": address},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        ).status_code
        for n, address in enumerate(forwarded_for)
    ]


def test_behind_a_configured_proxy_each_reader_has_their_own_limit(make_app):
    app = make_app(TRUSTED_PROXIES=1, WTF_CSRF_ENABLED=False)
    first_reader = sign_in_attempts(app, ["203.0.113.5"] * 31)
    second_reader = sign_in_attempts(app, ["203.0.113.6"])
    assert first_reader[-1] == 429
    assert second_reader == [200]


def test_without_a_configured_proxy_forwarded_headers_are_not_believed(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    statuses = sign_in_attempts(app, [f"203.0.113.{n}" for n in range(31)])
    assert statuses[-1] == 429
