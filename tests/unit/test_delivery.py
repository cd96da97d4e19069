"""The delivery state machine's transitions (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from news_ingest.alerting.delivery import (
    DELIVERED,
    DELIVERING,
    FAILED,
    PENDING,
    claim_fields,
    claimable,
    outcome_fields,
    state_of,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_states_of_alerts_stored_before_the_state_machine() -> None:
    assert state_of({"notified": False}) == PENDING
    assert state_of({"notified": True}) == DELIVERED


def test_what_may_be_claimed() -> None:
    later = (NOW + timedelta(seconds=1)).isoformat()
    earlier = (NOW - timedelta(seconds=1)).isoformat()
    assert claimable({"state": PENDING}, NOW, 3)
    assert not claimable({"state": DELIVERING, "lease_expires_at": later}, NOW, 3)
    assert claimable({"state": DELIVERING, "lease_expires_at": earlier}, NOW, 3)
    assert claimable({"state": FAILED, "notify_attempts": 2}, NOW, 3)
    assert not claimable({"state": FAILED, "notify_attempts": 3}, NOW, 3)
    assert not claimable({"state": DELIVERED}, NOW, 3)


def test_a_claim_counts_the_attempt_and_sets_the_lease() -> None:
    fields = claim_fields({"notify_attempts": 1}, "me", NOW, 30)
    assert fields == {
        "state": DELIVERING,
        "lease_owner": "me",
        "lease_expires_at": (NOW + timedelta(seconds=30)).isoformat(),
        "notify_attempts": 2,
    }


def test_outcomes_free_the_lease() -> None:
    done = outcome_fields(["webhook:x", "log"], [], NOW)
    assert done["state"] == DELIVERED and done["notified"] and done["lease_owner"] is None
    failed = outcome_fields(["log"], ["webhook:x: 503"], NOW)
    assert failed["state"] == FAILED and not failed["notified"]
    assert failed["notify_error"] == "webhook:x: 503" and failed["lease_expires_at"] is None
