"""One log line per request: method, path, status, duration and request id (sight.logs makes it JSON).

Nothing a person typed or was sent goes in: no query string (OIDC `code`s, search words), no body,
no header but the request id, and the secret part of every emailed or handed-out link (sign-in,
password reset, pay, thanks, manage, survey resume) is replaced by `:token`. The request id comes
from the proxy (nginx's `$request_id` in X-Request-ID) or is made here, and is returned in
X-Request-ID so that a reader's report can be matched to the line.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from flask import Flask, g, request

log = logging.getLogger("sight.request")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# A path segment that looks like a random secret (a link's token, signed ones with their dots
# included) is never logged, even on a URL that matched no route.
SECRET_LOOKING = re.compile(r"^[A-Za-z0-9_.~=-]{20,}$")


def loggable_path() -> str:
    secrets_in_path = {
        str(value) for name, value in (request.view_args or {}).items() if "token" in name
    }
    segments = request.path.split("/")
    return "/".join(
        ":token" if segment in secrets_in_path or SECRET_LOOKING.match(segment) else segment
        for segment in segments
    )


def _start() -> None:
    g.request_started = time.perf_counter()
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if REQUEST_ID.match(offered) else secrets.token_hex(16)


def _finish(response):
    started = g.get("request_started")
    if started is None:  # a request refused before ours began (e.g. by another before_request)
        return response
    response.headers["X-Request-ID"] = g.request_id
    log.info(
        "request",
        extra={
            "method": request.method,
            "path": loggable_path(),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "request_id": g.request_id,
        },
    )
    return response


def init_app(app: Flask) -> None:
    # First in, so that the duration covers every other before_request.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    log.setLevel(logging.INFO)
