"""The conditional writes under real contention: threads racing on one Elasticsearch node."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from elasticsearch import Elasticsearch
from news_ingest.alerting import delivery, watchlist_store
from news_ingest.alerting.delivery import DELIVERED, DELIVERING, FAILED, ClaimStore
from news_ingest.es import indices
from news_ingest.es.indices import IndexNames
from news_ingest.es.leases import LeaseHeld, RunLease
from news_ingest.settings import get_settings

pytestmark = pytest.mark.integration

ROUNDS = 5
RIVALS = 6


def _store_pending(es: Elasticsearch, names: IndexNames, count: int, round_: int) -> list[str]:
    ids = [f"r{round_}-a{n}" for n in range(count)]
    for alert_id in ids:
        es.create(
            index=names.alerts,
            id=alert_id,
            document={"watchlist": "karabakh", "notified": False, "state": "pending"},
        )
    es.indices.refresh(index=names.alerts)
    return ids


def test_each_alert_is_claimed_by_exactly_one_of_many_rivals(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    indices.install(es, get_settings().index_prefix)
    wins: Counter[str] = Counter()
    expected = 0
    for round_ in range(ROUNDS):
        ids = _store_pending(es, names, 10, round_)
        expected += len(ids)
        stores = [ClaimStore(es, names, owner=f"rival-{n}", lease=30) for n in range(RIVALS)]

        def race(store: ClaimStore, ids: list[str] = ids) -> list[str]:
            won = []
            for alert_id in ids:
                claim = store.claim(alert_id, max_attempts=10)
                if claim is not None:
                    store.finish(claim, ["log"], [])
                    won.append(alert_id)
            return won

        with ThreadPoolExecutor(RIVALS) as pool:
            for won in pool.map(race, stores):
                wins.update(won)
    es.indices.refresh(index=names.alerts)
    states = Counter(
        hit["_source"]["state"] for hit in es.search(index=names.alerts, size=1000)["hits"]["hits"]
    )
    duplicated = sum(n - 1 for n in wins.values())
    print(
        f"claims expected={expected} delivered={len(wins)} lost={expected - len(wins)} "
        f"duplicated={duplicated}"
    )
    assert len(wins) == expected and duplicated == 0
    assert states == {DELIVERED: expected}


def test_a_claim_whose_holder_died_is_taken_over_after_its_lease(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    indices.install(es, get_settings().index_prefix)
    (alert_id,) = _store_pending(es, names, 1, 0)
    dead = ClaimStore(es, names, owner="dead", lease=1.0)
    assert dead.claim(alert_id, max_attempts=10) is not None  # and then it "dies"
    heir = ClaimStore(es, names, owner="heir", lease=30)
    assert heir.claim(alert_id, max_attempts=10) is None  # still leased
    time.sleep(1.2)
    taken = heir.claim(alert_id, max_attempts=10)
    assert taken is not None and taken.alert["state"] == DELIVERING
    assert taken.alert["notify_attempts"] == 2
    assert datetime.fromisoformat(taken.alert["lease_expires_at"]) > datetime.now(UTC)


def test_one_run_lease_per_source_among_rivals(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    indices.install(es, get_settings().index_prefix)
    for round_ in range(ROUNDS):
        source = f"source-{round_}"
        rivals = [RunLease(es, names, source, f"run-{n}", ttl=30) for n in range(RIVALS)]
        with ThreadPoolExecutor(RIVALS) as pool:
            holders = list(pool.map(lambda lease: lease.try_take(), rivals))
        winners = [lease for lease, holder in zip(rivals, holders, strict=True) if holder is None]
        assert len(winners) == 1, holders
        losers = [holder for holder in holders if holder is not None]
        assert {holder.owner for holder in losers} == {winners[0].owner}
        with pytest.raises(LeaseHeld, match=f"being run by run {winners[0].owner}"):
            rivals[(rivals.index(winners[0]) + 1) % RIVALS].acquire(wait=0)
    print(f"lease rounds={ROUNDS} rivals={RIVALS} holders per round=1")


def test_a_dead_holders_lease_expires(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    indices.install(es, get_settings().index_prefix)
    RunLease(es, names, "s", "dead-run", ttl=1.0).acquire(wait=0)  # never renewed
    successor = RunLease(es, names, "s", "next-run", ttl=30)
    started = time.monotonic()
    successor.acquire(wait=10)
    assert 0.5 < time.monotonic() - started < 5
    lease = es.get(index=names.leases, id="s")["_source"]
    assert lease["owner"] == "next-run"


def test_a_cli_runs_lease_is_free_once_its_process_is_gone(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    """A one-process run that could not free its lease (Elasticsearch away as it ended) does
    not block the next run until expiry; a DAG run's lease (tasks come and go) does."""
    import subprocess
    import sys

    indices.install(es, get_settings().index_prefix)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(gone.stdout)
    for source, pid_bound in (("cli", True), ("dag", False)):
        RunLease(es, names, source, "ended-run", ttl=300, pid_bound=pid_bound).acquire(wait=0)
        doc = es.get(index=names.leases, id=source)
        es.index(
            index=names.leases,
            id=source,
            document={**doc["_source"], "pid": dead_pid},
            if_seq_no=doc["_seq_no"],
            if_primary_term=doc["_primary_term"],
        )
    assert RunLease(es, names, "cli", "next-run", ttl=30).try_take() is None
    held = RunLease(es, names, "dag", "next-run", ttl=30).try_take()
    assert held is not None and held.owner == "ended-run"


def test_an_operators_retry_resends_a_spent_alert_but_leaves_a_live_claim(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    settings = get_settings()
    indices.install(es, settings.index_prefix)
    watchlist_store.seed(es, names, settings.config_dir)  # karabakh's channel: the log
    spent = {
        "watchlist": "karabakh",
        "notified": False,
        "state": FAILED,
        "notify_attempts": settings.alert_max_attempts,
        "delivered": [],
    }
    es.create(index=names.alerts, id="spent", document=spent, refresh=True)
    assert delivery.deliver(settings, es, ["spent"]) == {"notify_skipped": 1}
    assert delivery.deliver(settings, es, ["spent"], by_operator=True) == {"notified": 1}
    done = es.get(index=names.alerts, id="spent")["_source"]
    assert (done["state"], done["delivered"]) == (DELIVERED, ["log"])
    assert done["notify_attempts"] == settings.alert_max_attempts + 1

    es.create(index=names.alerts, id="held", document={**spent, "notify_attempts": 0})
    rival = ClaimStore(es, names, owner="rival", lease=600)
    assert rival.claim("held", max_attempts=10) is not None
    assert delivery.deliver(settings, es, ["held"], by_operator=True) == {"notify_skipped": 1}
    held = es.get(index=names.alerts, id="held")["_source"]
    assert (held["state"], held["lease_owner"]) == (DELIVERING, "rival")
