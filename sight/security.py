"""Security headers on every response, and requests no one could have typed refused up front."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request

FORM_MIMETYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# What Stripe publishes for Stripe.js (docs.stripe.com/security/guide, "Content Security Policy"):
# its scripts and the frames of the Card Element and of 3-D Secure (the bank's challenge runs in
# a js.stripe.com frame; hooks.stripe.com serves the redirect-based flows).
STRIPE_JS_ORIGIN = "https://js.stripe.com"
STRIPE_SOURCES = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}


def content_security_policy(stripe_js_url: str, stripe_api_base: str, extra_origins: list[str] = ()) -> str:
    """`extra_origins`: a CAPTCHA provider's, only when one is configured. With Stripe's own
    Stripe.js (production) every origin Stripe lists for it is allowed too."""
    base = sorted({_origin(stripe_js_url), _origin(stripe_api_base)})
    stripe = STRIPE_SOURCES if _origin(stripe_js_url) == STRIPE_JS_ORIGIN else {}

    def sources(directive: str) -> str:
        return " ".join(dict.fromkeys([*base, *stripe.get(directive, []), *extra_origins]))

    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {sources('script-src')}",
            f"frame-src {sources('frame-src')}",
            f"connect-src 'self' {sources('connect-src')}",
            "img-src 'self' data:",
            "style-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def reads_nul_itself(view):
    """Mark a view whose form answers NUL characters beside the field, keeping the reader's
    other answers, rather than with a bare 400 (its path and query string are still checked)."""
    view.reads_nul_itself = True
    return view


def refuse_nul_characters() -> None:
    """PostgreSQL text cannot hold NUL and no person types one: refuse it before it reaches a query."""
    values = [request.path]
    values.extend(v for _, vs in request.args.lists() for v in vs)
    view = current_app.view_functions.get(request.endpoint)
    if request.mimetype in FORM_MIMETYPES and not getattr(view, "reads_nul_itself", False):
        values.extend(v for _, vs in request.form.lists() for v in vs)
    if any("\x00" in value for value in values):
        abort(400)


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_characters)

    csp = content_security_policy(
        app.config["STRIPE_JS_URL"], app.config["STRIPE_API_BASE"], app.config.get("CAPTCHA_ORIGINS", [])
    )
    production = app.config["APP_ENV"] == "production"

    @app.after_request
    def set_security_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if production:
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response
