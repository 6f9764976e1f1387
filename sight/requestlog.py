"""One structured line per request: method, path, status, duration and request id.

Nothing a person typed or was sent goes in: no query string, no body, no header but the
request id, and the secret part of emailed links (sign-in, reset, manage, resume) is replaced
by `:token`. The request id comes from the proxy (nginx's `$request_id` in X-Request-ID) or is
made here, and is returned in X-Request-ID so that a reader's report can be matched to the line.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time

from flask import Flask, g, request

log = logging.getLogger("sight.request")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# A path segment that looks like a random secret (an emailed link's token) is never logged.
SECRET_LOOKING = re.compile(r"^[A-Za-z0-9_-]{20,}$")


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
        json.dumps(
            {
                "event": "request",
                "method": request.method,
                "path": loggable_path(),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "request_id": g.request_id,
            },
            separators=(",", ":"),
        )
    )
    return response


def _json_lines_to_stderr() -> None:
    """Outside tests the lines go to stderr as they are (JSON), without a logging prefix."""
    if any(getattr(handler, "sight_request_log", False) for handler in log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.sight_request_log = True
    log.addHandler(handler)
    log.propagate = False


def init_app(app: Flask) -> None:
    # First in, so that the duration covers every other before_request.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    log.setLevel(logging.INFO)
    if not app.testing:
        _json_lines_to_stderr()
