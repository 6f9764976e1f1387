"""localstripe, keeping its state in a file of our choosing.

localstripe itself always saves to and loads from /tmp/localstripe.pickle, one file shared by
every localstripe on the machine (a second project, or the test suite, would read and overwrite
the first one's customers). `--state FILE` keeps this one's state in FILE, written whole and
then renamed so it is never read half-written; without it the state lives in memory only.

localstripe has no disputes either. This launcher adds Stripe's Dispute as far as the app reads
it (`GET /v1/disputes?charge=…` with Stripe's pagination, `GET /v1/disputes/{id}`, a disputed
charge's `disputed: true`), and two routes that are NOT Stripe's, for tests only, standing in
for the cardholder's bank and its verdict:

    POST /_test/disputes               charge=ch_…[&reason=fraudulent]  -> the dispute, needs_response
    POST /_test/disputes/{id}/close    status=won|lost                  -> the dispute, closed

Each sends Stripe's event (`charge.dispute.created`, `charge.dispute.closed`) to the webhooks
configured, and keeps it in the events list, as Stripe does.

    python scripts/localstripe_server.py --port 8420 --state instance/localstripe.pickle
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook


def keep_state_in(path: Path | None) -> None:
    def load(store: resources.Store) -> None:
        if path is not None and path.exists():
            saved = pickle.loads(path.read_bytes())
            dict.clear(store)
            dict.update(store, saved)

    def save(store: resources.Store) -> None:
        if path is None:
            return
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(pickle.dumps(dict(store), protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(path)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = save


def created_from(listed, created):
    """Stripe's `created[gte]=…` filter, which localstripe's refunds lack (and disputes, added here)."""
    if created is None:
        return listed
    if not isinstance(created, dict) or list(created) != ["gte"] or not str(created["gte"]).isdigit():
        raise UserError(400, "Bad request: created takes gte here")
    listed._list = [item for item in listed._list if item.created >= int(created["gte"])]
    return listed


def list_refunds_from(refund_list_all):
    """localstripe's refund list, with Stripe's `created[gte]` filter."""

    def list_all(cls, url, created=None, **kwargs):
        return created_from(refund_list_all(url, **kwargs), created)

    return classmethod(list_all)


class Dispute(resources.StripeObject):
    """Stripe's Dispute object, with the fields of Stripe's that the app reads (only listed and
    retrieved: Stripe has no API to create one)."""

    object = "dispute"
    _id_prefix = "dp_"
    _REASONS = ("bank_cannot_process", "credit_not_processed", "customer_initiated", "debit_not_authorized",
               "duplicate", "fraudulent", "general", "incorrect_account_details", "insufficient_funds",
               "product_not_received", "product_unacceptable", "subscription_canceled", "unrecognized")

    def __init__(self, charge: resources.Charge, reason: str):
        super().__init__()
        self.amount = charge.amount - charge.amount_refunded  # what is left to dispute
        self.currency = charge.currency
        self.charge = charge.id
        self.payment_intent = charge.payment_intent
        self.reason = reason
        self.status = "needs_response"
        # Stripe gives the merchant a week or more to answer with evidence.
        self.evidence_details = {"due_by": self.created + 7 * 24 * 3600, "has_evidence": False,
                                 "past_due": False, "submission_count": 0}
        self.metadata = {}

    @classmethod
    def _api_list_all(cls, url, charge=None, payment_intent=None, created=None, limit=None, starting_after=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        listed = created_from(super()._api_list_all(url, limit=limit, starting_after=starting_after), created)
        if charge is not None:
            listed._list = [d for d in listed._list if d.charge == charge]
        if payment_intent is not None:
            listed._list = [d for d in listed._list if d.payment_intent == payment_intent]
        listed._list.sort(key=lambda d: (d.created, d.id), reverse=True)  # newest first, as Stripe lists
        return listed


async def open_dispute(request: web.Request) -> web.Response:
    """Test-only: the cardholder disputes a charge (Stripe allows one dispute per charge)."""
    data = await server.get_post_data(request) or {}
    charge = resources.Charge._api_retrieve(str(data.get("charge", "")))
    reason = data.get("reason", "general")
    if charge.status != "succeeded" or reason not in Dispute._REASONS:
        raise UserError(400, "Bad request")
    if getattr(charge, "disputed", False):
        raise UserError(400, f"Charge {charge.id} has already been disputed.")
    dispute = Dispute(charge, reason)
    charge.disputed = True
    schedule_webhook(resources.Event("charge.dispute.created", dispute))
    return server.json_response(dispute._export())


async def close_dispute(request: web.Request) -> web.Response:
    """Test-only: the bank's verdict on an open dispute."""
    data = await server.get_post_data(request) or {}
    dispute = Dispute._api_retrieve(request.match_info["id"])
    if data.get("status") not in ("won", "lost") or dispute.status in ("won", "lost"):
        raise UserError(400, "Bad request")
    dispute.status = data["status"]
    schedule_webhook(resources.Event("charge.dispute.closed", dispute))
    return server.json_response(dispute._export())


def add_disputes() -> None:
    # A charge that was never disputed says so, as Stripe's do.
    resources.Charge.disputed = False
    resources.Refund._api_list_all = list_refunds_from(resources.Refund._api_list_all)
    server.app.router.add_post("/_test/disputes", open_dispute)
    server.app.router.add_post("/_test/disputes/{id}/close", close_dispute)
    server.app.router.add_get("/v1/disputes/{id}", server.api_retrieve(Dispute, "/v1/disputes/{id}"))
    server.app.router.add_get("/v1/disputes", server.api_list_all(Dispute, "/v1/disputes"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, help="where to keep the state (default: memory only)")
    args, localstripe_args = parser.parse_known_args()
    if args.state is not None:
        args.state.parent.mkdir(parents=True, exist_ok=True)
    keep_state_in(args.state)
    add_disputes()
    sys.argv = [sys.argv[0], *localstripe_args]
    server.start()


if __name__ == "__main__":
    main()
