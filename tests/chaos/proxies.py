"""Two real HTTP proxies for the chaos replay.

`WebhookChaos` stands where Stripe's delivery system stands: localstripe (and the replay's own
signed events) hand it events, and it delivers them to the app's webhook the way a bad week of
Stripe would: three copies of some, in any order, some held back and retried later, some with a
garbled signature, each signed afresh at delivery as Stripe does, and every non-2xx answer
retried. `FlakyStripeApi` stands between the app and localstripe and makes some of the app's
Stripe reads fail while a webhook is being applied: a failure in the middle of a handler,
after some of its writes.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import stripe

# The Stripe SDK retries a failed request twice: a read fails for the app once all three fail.
SDK_ATTEMPTS = 3


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler_class) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class Delivery:
    payload: bytes
    event_type: str
    attempts: int = 0
    held_back: bool = False


@dataclass
class ChaosSettings:
    duplicate_share: float = 0.3  # delivered three times
    hold_back_share: float = 0.15  # not delivered now; retried after the others
    garble_share: float = 0.05  # this delivery's signature is broken
    drop_for_good_share: float = 0.0  # never delivered (the reconcile round)
    drop_for_good_types: frozenset[str] = frozenset()
    senders: int = 4


@dataclass
class Figures:
    counts: Counter = field(default_factory=Counter)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n


class WebhookChaos:
    def __init__(self, webhook_url: str, secret: str, seed: int, settings: ChaosSettings):
        self.webhook_url = webhook_url
        self.secret = secret
        self.settings = settings
        self.random = random.Random(seed)
        self.figures = Figures()
        self._lock = threading.Lock()
        self._pending: list[Delivery] = []
        self._held_back: list[Delivery] = []
        self._in_flight = 0
        self._last_arrival = time.monotonic()
        self._stop = threading.Event()
        self.dropped_for_good: list[str] = []
        # localstripe sends each event a second after it happened, to every webhook registered
        # by then: events from before the replay (earlier tests' objects) are not ours. Event
        # times are whole seconds, so the replay starts on the next one.
        self._started = int(time.time()) + 1
        time.sleep(max(0.0, self._started - time.time()))
        chaos = self

        class Inbox(BaseHTTPRequestHandler):
            def do_POST(self):
                payload = self.rfile.read(int(self.headers["Content-Length"]))
                chaos.enqueue(payload)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server, self.inbox_url = _serve(Inbox)
        self._senders = [threading.Thread(target=self._send_loop, daemon=True) for _ in range(settings.senders)]
        for sender in self._senders:
            sender.start()

    # --- what Stripe has to deliver ---------------------------------------------------

    def enqueue(self, payload: bytes) -> None:
        event = json.loads(payload)
        event_type = event["type"]
        if event.get("created", self._started) < self._started:
            return
        with self._lock:
            self._last_arrival = time.monotonic()
            self.figures.add("events")
            if (
                event_type in self.settings.drop_for_good_types
                and self.random.random() < self.settings.drop_for_good_share
            ):
                self.dropped_for_good.append(event_type)
                self.figures.add("dropped for good")
                return
            delivery = Delivery(payload, event_type)
            if self.random.random() < self.settings.hold_back_share:
                delivery.held_back = True
                self._held_back.append(delivery)
                self.figures.add("held back, retried later")
            else:
                self._pending.append(delivery)

    def send_signed_event(self, event_type: str, obj: dict) -> int:
        """An event localstripe does not send (refunds, disputes), as Stripe would send it;
        returns its time."""
        created = int(time.time())
        self.enqueue(
            json.dumps(
                {
                    "id": f"evt_chaos_{self.random.getrandbits(64):016x}",
                    "object": "event",
                    "type": event_type,
                    "created": created,
                    "livemode": False,
                    "api_version": "2017-08-15",
                    "data": {"object": obj},
                }
            ).encode()
        )
        return created

    # --- delivering -------------------------------------------------------------------

    def _take(self) -> Delivery | None:
        with self._lock:
            if not self._pending:
                return None
            # Any order: the next delivery is any of those waiting.
            delivery = self._pending.pop(self.random.randrange(len(self._pending)))
            self._in_flight += 1
            copies = 3 if self.random.random() < self.settings.duplicate_share else 1
            garbled = [self.random.random() < self.settings.garble_share for _ in range(copies)]
            return delivery, copies, garbled

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            taken = self._take()
            if taken is None:
                time.sleep(0.02)
                continue
            delivery, copies, garbled = taken
            delivered = False
            try:
                if copies > 1:
                    self.figures.add("duplicate deliveries", copies - 1)
                for garble in garbled:
                    delivered = self._post(delivery, garble) or delivered
            finally:
                with self._lock:
                    if not delivered:
                        self._pending.append(delivery)  # Stripe retries anything but a 2xx
                    self._in_flight -= 1

    def _post(self, delivery: Delivery, garble: bool) -> bool:
        delivery.attempts += 1
        timestamp = int(time.time())
        header = stripe.WebhookSignature.generate_signature_header(
            delivery.payload.decode(), self.secret, timestamp
        )
        if garble:
            head, signature = header.split("v1=")
            header = head + "v1=" + signature[::-1]
        request = urllib.request.Request(
            self.webhook_url,
            data=delivery.payload,
            method="POST",
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )
        self.figures.add("deliveries")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        self.figures.add(f"answered {status}")
        if garble:
            self.figures.add("garbled signatures")
            assert status == 400, f"a garbled signature was answered {status}"
            return False
        return 200 <= status < 300

    def settle(self, quiet_seconds: float = 2.5, timeout: float = 900) -> None:
        """Deliver until nothing is waiting and localstripe has gone quiet; then what was held
        back, until that too is delivered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = not self._pending and self._in_flight == 0
                quiet = time.monotonic() - self._last_arrival > quiet_seconds
                if idle and quiet:
                    if not self._held_back:
                        return
                    self._pending.extend(self._held_back)
                    self._held_back.clear()
            time.sleep(0.05)
        waiting = [(d.event_type, json.loads(d.payload)["data"]["object"].get("id"), d.attempts) for d in self._pending]
        raise AssertionError(f"deliveries did not settle: {waiting} pending, {len(self._held_back)} held back")

    def close(self) -> None:
        self._stop.set()
        for sender in self._senders:
            sender.join(timeout=70)
        self._server.shutdown()
        self._server.server_close()


class FlakyStripeApi:
    """Forwards the app's Stripe calls to localstripe; some reads fail on every attempt."""

    def __init__(self, upstream: str, seed: int, failure_share: float):
        self.upstream = upstream
        self.random = random.Random(seed)
        self.failure_share = failure_share
        self.failures_injected = 0
        self._failing: dict[str, int] = {}
        self._lock = threading.Lock()
        flaky = self

        class Forwarder(BaseHTTPRequestHandler):
            def do_GET(self):
                if flaky._should_fail(self.path):
                    body = json.dumps({"error": {"type": "api_error", "message": "chaos: Stripe is having a bad minute"}}).encode()
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Stripe-Should-Retry", "true")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self._forward()

            def do_POST(self):
                self._forward()

            def do_DELETE(self):
                self._forward()

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                request = urllib.request.Request(flaky.upstream + self.path, data=body, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, reply, reply_headers = response.status, response.read(), response.headers
                except urllib.error.HTTPError as error:
                    status, reply, reply_headers = error.code, error.read(), error.headers
                self.send_response(status)
                self.send_header("Content-Type", reply_headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._server, self.url = _serve(Forwarder)

    def _should_fail(self, path: str) -> bool:
        with self._lock:
            left = self._failing.get(path, 0)
            if left:
                self._failing[path] = left - 1
                return True
            if self.random.random() < self.failure_share:
                self.failures_injected += 1
                self._failing[path] = SDK_ATTEMPTS - 1
                return True
            return False

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
