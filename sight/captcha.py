"""The optional CAPTCHA (Turnstile, hCaptcha or reCAPTCHA): every provider verifies a token
the same way, by a form POST of secret + response to its verify URL."""

from __future__ import annotations

import json
import logging
from urllib.error import URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

log = logging.getLogger("sight.captcha")


def verify_captcha(verify_url: str, secret: str, token: str, remote_ip: str | None, timeout: float = 5) -> bool:
    """Whether the provider accepts `token`; an unreachable provider counts as not accepted."""
    if not token or not verify_url.startswith(("https://", "http://")):
        return False
    data = {"secret": secret, "response": token}
    if remote_ip:
        data["remoteip"] = remote_ip
    request = Request(verify_url, data=urlencode(data).encode(), method="POST")
    try:
        with urlopen(request, timeout=timeout) as reply:
            body = json.loads(reply.read(65536))
    except (URLError, OSError, ValueError) as exc:
        log.warning("CAPTCHA verification failed: %s", exc)
        return False
    return isinstance(body, dict) and body.get("success") is True
