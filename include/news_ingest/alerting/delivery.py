"""Alert delivery as a state machine on the alert document, with leased claims.

    pending ──claim──> delivering(owner, lease expiry) ──> delivered
                         │          │ a channel failed
         lease expired: ─┘          └──> failed(attempts) ──claim again (< max_attempts)

Every transition is a conditional write (``if_seq_no``/``if_primary_term``): of two processes
that read the same pending alert, one claims it and the other gets a conflict and leaves
it. A process that dies while delivering leaves ``delivering`` with a lease that expires;
the next notify pass claims it again. Each channel's success is written as soon as it is
known (and renews the lease), so a crash resends at most the one channel in flight.

The guarantee is therefore at-least-once per (article, watchlist, channel), and
exactly-once for receivers that honour the idempotency key sent with every delivery (the
``Idempotency-Key`` header and ``idempotency_key`` field of webhooks, the ``Message-ID``
of emails): a resend after a crash carries the same key. Slack incoming webhooks take no
key, so a crash in the instant between Slack's answer and the write can repeat a message.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any

from elasticsearch import ConflictError, Elasticsearch
from news_ingest.alerting import notify, watchlist_store
from news_ingest.es.indices import IndexNames
from news_ingest.settings import Settings

log = logging.getLogger(__name__)

PENDING, DELIVERING, DELIVERED, FAILED = "pending", "delivering", "delivered", "failed"


@cache
def process_owner() -> str:
    """Who holds a lease: host and pid for ops, and a nonce so a reused pid is not us."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def state_of(alert: Mapping[str, Any]) -> str:
    """Alerts stored before the state machine carry only ``notified``."""
    return str(alert.get("state") or (DELIVERED if alert.get("notified") else PENDING))


def claimable(alert: Mapping[str, Any], now: datetime, max_attempts: int | None) -> bool:
    """Whether a notify pass may claim the alert now; ``max_attempts`` None is an
    operator's retry, which a failed alert's spent attempts do not stop."""
    state = state_of(alert)
    if state == PENDING:
        return True
    if state == DELIVERING:
        expires = alert.get("lease_expires_at")
        return expires is None or datetime.fromisoformat(expires) <= now
    if state == FAILED:
        return max_attempts is None or int(alert.get("notify_attempts") or 0) < max_attempts
    return False


def claim_fields(
    alert: Mapping[str, Any], owner: str, now: datetime, lease: float
) -> dict[str, Any]:
    """The claim: the attempt is counted here, so a process that keeps dying mid-delivery
    still reaches ``max_attempts``."""
    return {
        "state": DELIVERING,
        "lease_owner": owner,
        "lease_expires_at": (now + timedelta(seconds=lease)).isoformat(),
        "notify_attempts": int(alert.get("notify_attempts") or 0) + 1,
    }


def outcome_fields(delivered: list[str], errors: list[str], now: datetime) -> dict[str, Any]:
    return {
        "state": FAILED if errors else DELIVERED,
        "delivered": delivered,
        "notified": not errors,
        "notified_at": None if errors else now.isoformat(),
        "notify_error": "; ".join(errors) or None,
        "lease_owner": None,
        "lease_expires_at": None,
    }


@dataclass
class Claim:
    """A held claim on one alert: the document as claimed and its sequence numbers."""

    alert: dict[str, Any]
    seq_no: int
    primary_term: int
    lost: bool = False


class ClaimStore:
    """The conditional writes of the state machine, on ``<prefix>-alerts``."""

    def __init__(self, es: Elasticsearch, names: IndexNames, *, owner: str, lease: float) -> None:
        self.es = es
        self.names = names
        self.owner = owner
        self.lease = lease

    def claim(self, alert_id: str, max_attempts: int | None) -> Claim | None:
        """Claim the alert if it is claimable now; None if it is not, or another process
        claimed it first."""
        current = self.es.options(ignore_status=404).get(index=self.names.alerts, id=alert_id)
        if not current.get("found"):
            return None
        alert = {"_id": alert_id, **current["_source"]}
        now = datetime.now(UTC)
        if not claimable(alert, now, max_attempts):
            return None
        fields = claim_fields(alert, self.owner, now, self.lease)
        claim = Claim(alert, current["_seq_no"], current["_primary_term"])
        if not self._write(claim, fields):
            return None
        return claim

    def progress(self, claim: Claim, delivered: list[str]) -> None:
        """One more channel delivered: record it and renew the lease."""
        expires = datetime.now(UTC) + timedelta(seconds=self.lease)
        self._write(claim, {"delivered": delivered, "lease_expires_at": expires.isoformat()})

    def finish(self, claim: Claim, delivered: list[str], errors: list[str]) -> None:
        self._write(claim, outcome_fields(delivered, errors, datetime.now(UTC)))

    def _write(self, claim: Claim, fields: dict[str, Any]) -> bool:
        if claim.lost:
            return False
        try:
            response = self.es.index(
                index=self.names.alerts,
                id=claim.alert["_id"],
                document={k: v for k, v in {**claim.alert, **fields}.items() if k != "_id"},
                if_seq_no=claim.seq_no,
                if_primary_term=claim.primary_term,
            )
        except ConflictError:
            # Another process got there first: claimed it, or (our lease having expired)
            # took it over. Either way it is theirs now.
            if claim.alert.get("lease_owner") == self.owner:
                log.warning("event=alert_lease_lost alert=%s", claim.alert["_id"])
            claim.lost = True
            return False
        claim.alert.update(fields)
        claim.seq_no, claim.primary_term = response["_seq_no"], response["_primary_term"]
        return True


Sender = Callable[[Mapping[str, Any], Callable[[list[str]], None]], tuple[list[str], list[str]]]


def deliver_claimed(
    store: ClaimStore, alert_ids: Iterable[str], send: Sender, max_attempts: int | None
) -> dict[str, int]:
    """Claim each alert and send it; ``send(alert, on_progress)`` returns (delivered keys,
    errors) and calls ``on_progress(delivered)`` after each channel that succeeded.

    Counts: ``notified`` delivered, ``notify_failed`` failed attempts, ``notify_skipped``
    alerts another process holds (or finished) and ``notify_lost`` claims taken over
    because this process outlived its lease.
    """
    counts: Counter[str] = Counter()
    for alert_id in alert_ids:
        claim = store.claim(alert_id, max_attempts)
        if claim is None:
            counts["notify_skipped"] += 1
            continue
        delivered, errors = send(claim.alert, partial(store.progress, claim))
        store.finish(claim, delivered, errors)
        if claim.lost:
            counts["notify_lost"] += 1
        else:
            counts["notify_failed" if errors else "notified"] += 1
    return dict(counts)


def claim_store(settings: Settings, es: Elasticsearch, names: IndexNames) -> ClaimStore:
    """This process's claims, held for ``alert_lease_seconds``."""
    return ClaimStore(es, names, owner=process_owner(), lease=settings.alert_lease_seconds)


def deliver(
    settings: Settings, es: Elasticsearch, alert_ids: Iterable[str], *, by_operator: bool = False
) -> dict[str, int]:
    """Claim each alert and send it to its watchlist's channels: the run's delivery of new
    alerts, its notify pass, and an operator's "retry delivery" in the views.

    ``notified`` counts alerts delivered, ``notify_failed`` failed attempts,
    ``notify_skipped`` alerts another process holds or already delivered. An operator's
    retry (``by_operator``) may claim an alert that used up ``alert_max_attempts``: that
    is how one that stayed failed is sent again once its channel is fixed.
    """
    # The newest version's channels, even of a list disabled since its alert was raised.
    names = IndexNames(settings.index_prefix)
    by_id = {v.watchlist.id: v.watchlist for v in watchlist_store.current(es, names)}

    def send(
        alert: Mapping[str, Any], on_progress: Callable[[list[str]], None]
    ) -> tuple[list[str], list[str]]:
        watchlist = by_id.get(alert["watchlist"])
        if watchlist is None:
            return list(alert.get("delivered") or []), ["watchlist no longer configured"]
        return notify.deliver(watchlist.channels, alert, on_progress)

    claims = claim_store(settings, es, names)
    max_attempts = None if by_operator else settings.alert_max_attempts
    return deliver_claimed(claims, alert_ids, send, max_attempts)
