"""Backfill the Airflow way, under a real scheduler: ``airflow backfill create``.

A week of the daily DAG (``sputnik_arabic_daily``), then the same week again with
``--reprocess-behavior completed``, and two quarter hours of the 15-minute polling DAG. Each run
must ingest exactly the articles published in its data interval (the feeds only list the
newest items, so those days come from the date-range sitemap), the second backfill adds
nothing, and the scheduled polls that Airflow starts meanwhile double nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import FixtureSite, GeneratedSite, generate_site
from news_ingest.local.standalone import Standalone, running_standalone
from tests.integration.conftest import task_env
from tests.integration.test_timeline import SPEC, write_config

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

DAILY, POLLING = "sputnik_arabic_daily", "sputnik_arabic"


@pytest.fixture
def site(served: FixtureSite) -> GeneratedSite:
    return generate_site(served, SPEC)


@pytest.fixture
def airflow(
    tmp_path: Path, ingest_env: dict[str, str], site: GeneratedSite
) -> Iterator[Standalone]:
    env = task_env(ingest_env, **write_config(tmp_path, site))
    with running_standalone(tmp_path / "airflow", env) as real:
        real.wait_for_dag(DAILY)
        yield real


def set_paused(airflow: Standalone, dag_id: str, paused: bool) -> None:
    """Pause or unpause a DAG; the API's audit-log write can hit SQLite's lock (500)."""
    for _ in range(60):
        response = airflow.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": paused})
        if response.status_code != 500:
            break
        time.sleep(1)
    assert response.status_code == 200, response.text


def backfill(
    airflow: Standalone, dag_id: str, start: str, end: str, reprocess: str = "none"
) -> None:
    """What ``airflow backfill create`` and the UI's Backfills tab do, through the REST API.

    On SQLite (the test's metadata DB) Airflow refuses a backfill while the scheduler holds
    the database lock (503, "use PostgreSQL or MySQL"), and its audit-log write can hit the
    same lock (500); the lock is brief, so ask again. A refused request can leave its
    backfill behind without runs (the row is committed before the runs are made), and any
    backfill of the DAG not yet marked complete makes the next request a 409; the scheduler
    marks such a leftover complete two minutes on. So each attempt first waits until no
    backfill of the DAG is open, and only a 200 is a backfill made: its runs exist.
    The DAG is paused, for one scheduler loop, while the backfill is created: SQLite has no
    row locks, and a scheduler loop over runs that a reprocessing backfill clears at the same
    moment dies (ObjectDeletedError); paused, the next loop leaves the DAG's runs alone."""
    body = {
        "dag_id": dag_id,
        "from_date": start,
        "to_date": end,
        "reprocess_behavior": reprocess,
        "max_active_runs": 2,
    }
    for _ in range(20):
        airflow.wait_for(
            lambda: all(b["completed_at"] for b in backfills(airflow, dag_id)),
            600,
            f"every backfill of {dag_id} marked complete",
        )
        set_paused(airflow, dag_id, True)
        airflow.wait_for_scheduler_loop()
        response = airflow.client.post("/api/v2/backfills", json=body)
        set_paused(airflow, dag_id, False)
        if response.status_code == 200:
            return
        assert response.status_code in (409, 500, 503), response.text
        time.sleep(1)
    raise AssertionError(f"no backfill of {dag_id} made: {response.text}")


def backfills(airflow: Standalone, dag_id: str) -> list[dict[str, Any]]:
    response = airflow.client.get("/api/v2/backfills", params={"dag_id": dag_id})
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["backfills"]
    return found


def backfill_runs(
    airflow: Standalone, dag_id: str, count: int, *, ended_after: str = ""
) -> list[dict[str, Any]]:
    """Wait until ``count`` backfill runs of ``dag_id`` have finished (after
    ``ended_after``, an ISO time, when runs are redone); return them."""
    runs: list[dict[str, Any]] = []

    def finished() -> bool:
        nonlocal runs
        runs = [r for r in airflow.runs(dag_id) if r["run_type"] == "backfill"]
        return len(runs) >= count and all(
            r["state"] in ("success", "failed") and (r["end_date"] or "") > ended_after
            for r in runs
        )

    airflow.wait_for(finished, 900, f"{count} backfill runs of {dag_id}")
    return runs


def report(airflow: Standalone, dag_id: str, run_id: str) -> dict[str, int]:
    response = airflow.client.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/report/xcomEntries/return_value"
    )
    response.raise_for_status()
    value: dict[str, int] = response.json()["value"]
    return value


def published_between(site: GeneratedSite, start: str, end: str) -> set[str]:
    low, high = datetime.fromisoformat(start), datetime.fromisoformat(end)
    return {site.url(a) for a in site.articles if low <= a.published < high}


# Eighteen DAG runs under a real scheduler on two shared cores: minutes, not seconds.
@pytest.mark.timeout(1800)
def test_backfill_through_airflow_ingests_each_interval_exactly_once(
    airflow: Standalone,
    served: FixtureSite,
    site: GeneratedSite,
    es: Elasticsearch,
    names: IndexNames,
) -> None:
    backfill(airflow, DAILY, "2026-01-03T00:00:00Z", "2026-01-09T00:00:00Z")
    runs = backfill_runs(airflow, DAILY, 7)
    assert len(runs) == 7 and {r["state"] for r in runs} == {"success"}, airflow.diagnostics()
    per_run = []
    for run in runs:
        expected = published_between(site, run["data_interval_start"], run["data_interval_end"])
        counts = report(airflow, DAILY, run["dag_run_id"])
        per_run.append((run["data_interval_start"][:10], len(expected), counts.get("indexed", 0)))
        assert counts.get("indexed", 0) == len(expected), (run, counts)
    print("per interval (day, published, indexed):", sorted(per_run))

    es.indices.refresh(index=names.articles)
    docs = [h["_source"] for h in helpers.scan(es, index=names.articles)]
    urls = [doc["url"] for doc in docs]
    week = published_between(site, "2026-01-03T00:00:00+00:00", "2026-01-10T00:00:00+00:00")
    in_week = [url for url in urls if url in week]
    # The scheduled polls Airflow ran meanwhile brought the feeds' newest items, no more.
    feeds_only = set(urls) - week
    newest = {site.url(a) for a in sorted(site.articles, key=lambda a: a.published)[-12:]}
    lost, duplicated = len(week - set(in_week)), len(urls) - len(set(urls))
    print(
        f"airflow backfill 7 days: expected={len(week)} indexed={len(in_week)} lost={lost} "
        f"duplicated={duplicated} scheduled_polls_added={len(feeds_only)} "
        f"scheduler_restarts={airflow.scheduler_restarts}"
    )
    assert (lost, duplicated) == (0, 0) and feeds_only <= newest

    # The same week again, every run redone: no page fetched twice, nothing added.
    week_paths = [a.path for a in site.articles if site.url(a) in week]
    pages = sum(served.count(path) for path in week_paths)
    redone_at = datetime.now(UTC).isoformat()
    backfill(airflow, DAILY, "2026-01-03T00:00:00Z", "2026-01-09T00:00:00Z", reprocess="completed")
    for run in backfill_runs(airflow, DAILY, 7, ended_after=redone_at):
        assert report(airflow, DAILY, run["dag_run_id"]).get("indexed", 0) == 0, run
    assert sum(served.count(path) for path in week_paths) == pages
    urls = [h["_source"]["url"] for h in helpers.scan(es, index=names.articles)]
    assert len(urls) == len(set(urls)) and week <= set(urls)

    # The 15-minute polling DAG backfills too: of the two quarter hours up to an article
    # outside that week, only the one it was published in ingests it.
    article = next(a for a in site.articles if a.published.day == 15)
    start = article.published - timedelta(minutes=15)
    backfill(airflow, POLLING, start.isoformat(), article.published.isoformat())
    quarters = backfill_runs(airflow, POLLING, 2)
    assert {r["state"] for r in quarters} == {"success"}, airflow.diagnostics()
    indexed = {
        r["data_interval_start"]: report(airflow, POLLING, r["dag_run_id"]).get("indexed", 0)
        for r in quarters
    }
    hits = [datetime.fromisoformat(at) for at, n in indexed.items() if n]
    assert hits == [article.published] and sum(indexed.values()) == 1, indexed
