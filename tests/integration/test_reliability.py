"""Exactly-once alerts and one run per source, through SIGKILLs, cuts and concurrent runs.

Every test ends with one exact count line over everything its rounds produced:
``expected=… stored=… delivered=… resent=… lost=0 duplicated=0``. ``expected`` is every
(indexed article, watchlist) hit, ``stored`` the alert documents, ``delivered`` the alerts
the receiver got, ``resent`` repeats the receiver could drop by their idempotency key
(at-least-once after a crash in mid-delivery), ``duplicated`` repeats it could not (two
keys for one alert, or an alert stored twice).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import UTC, datetime

import psutil
import pytest

from elasticsearch import Elasticsearch
from news_ingest.es import stories as story_store
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import GeneratedSite, SiteSpec, generate_site, running_site
from news_ingest.local.localnode import local_connection
from news_ingest.settings import get_settings
from tests.conftest import Receiver
from tests.integration.conftest import run_cli
from tests.integration.runs import (
    Victim,
    alert_report,
    finish,
    indexed_report,
    start_run,
    story_report,
)
from tests.integration.tcpproxy import TcpProxy

pytestmark = pytest.mark.integration

# Short leases so a killed run's source and deliveries are free again within seconds.
LEASES = {
    "NEWS_INGEST_RUN_LEASE_SECONDS": "3",
    "NEWS_INGEST_ALERT_LEASE_SECONDS": "3",
    "NEWS_INGEST_RUN_LEASE_WAIT": "60",
    "NEWS_INGEST_BATCH_SIZE": "8",
}


def generated(
    site_server: object, seed: int, pages: int = 16, latency: float = 0.0
) -> GeneratedSite:
    spec = SiteSpec(
        pages=pages, feeds=1, seed=seed, karabakh_share=0.5, min_bytes=20_000, latency=latency
    )
    return generate_site(site_server, spec)  # type: ignore[arg-type]


Env = dict[str, str]


@pytest.fixture
def env(ingest_env: Env, alert_config: Env) -> Env:
    """What the runs of these tests get: short leases, alerts to the test's receiver."""
    return {**LEASES, **alert_config}


def claim_request(names: IndexNames) -> bytes:
    """The request line of a conditional write to an alert (a claim or its progress)."""
    return f"PUT /{names.alerts}/_doc/".encode()


def proxied(es_proxy: TcpProxy) -> dict[str, str]:
    _, user, password = local_connection(get_settings())
    return {
        "NEWS_INGEST_ES_URL": es_proxy.url,
        "NEWS_INGEST_ES_USER": user or "",
        "NEWS_INGEST_ES_PASSWORD": password or "",
    }


def test_sigkill_at_several_points_loses_and_doubles_no_alert(
    es: Elasticsearch, names: IndexNames, es_proxy: TcpProxy, receiver: Receiver, env: Env
) -> None:
    claim = claim_request(names)
    # Where the run dies: after batch 1's articles are written but before its alerts are
    # stored; after the first channel answered but before that was recorded; as the
    # receiver gets the first alert (the claim written, the answer never read).
    points: list[tuple[str, bytes, int]] = [
        ("after-bulk", b"/_bulk", 2),
        ("after-send", claim, 2),
        ("receiver", b"", 1),
    ]
    sites = []
    orphans = 0
    with running_site() as server:
        for seed, (_name, marker, number) in enumerate(points, start=30):
            site = generated(server, seed)
            sites.append(site)
            victim = Victim()
            if marker:
                es_proxy.at_request(marker, number, victim.kill)
            else:
                receiver.on_post = victim.kill_at_post(len(receiver.received) + number)
            victim.run = start_run(site, {**env, **proxied(es_proxy)})
            code, output = finish(victim.run)
            assert code == -signal.SIGKILL, output
            receiver.on_post = None
            # No orphans: the pool's server, its workers and the resource tracker end too.
            assert len(victim.family) >= 3, victim.family
            _, alive = psutil.wait_procs(victim.family, timeout=10)
            orphans += len(alive)
            assert alive == [], alive
            run_cli("run", "--source", "sputnik_arabic", "--feed", site.feed_urls[0], env=env)
    print(f"runs killed={len(points)} processes left behind={orphans}")
    indexed_report(es, names, sites)
    alert_report(es, names, receiver)


def test_a_kill_between_articles_and_their_stories_leaves_no_story_stale(
    es: Elasticsearch, names: IndexNames, es_proxy: TcpProxy, receiver: Receiver, env: Env
) -> None:
    """The run dies as it sends its first story documents, its first batch's articles
    written: the next run indexes that batch again (unchanged, so it touches no story) and
    mends the stories from what is indexed."""
    victim = Victim()
    with running_site() as server:
        site = generated(server, 35)
        es_proxy.at_request(f"/{names.stories}/_bulk ".encode(), 1, victim.kill)
        victim.run = start_run(site, {**env, **proxied(es_proxy)})
        code, output = finish(victim.run)
        assert code == -signal.SIGKILL, output
        _, alive = psutil.wait_procs(victim.family, timeout=10)
        assert alive == [], alive
        es.indices.refresh(index=names.articles)
        written = es.count(index=names.articles)["count"]
        assert written > 0, "the run should die after its first articles were written"
        assert not es.indices.exists(index=names.stories) or (
            es.count(index=names.stories)["count"] == 0
        )
        again = run_cli("run", "--source", "sputnik_arabic", "--feed", site.feed_urls[0], env=env)
    mended = re.findall(r"event=stories_stale \S+ \S+", again.stdout)
    print(f"killed with articles={written} written, before their stories; then {mended}")
    indexed_report(es, names, [site])
    story_report(es, names)
    alert_report(es, names, receiver)
    assert len(mended) == 1, again.stdout[-5000:]
    # Documents written the normal way (the second batch's) are never taken for stale.
    assert story_store.repair_story_docs(es, names, datetime(2000, 1, 1, tzinfo=UTC)) == 0


def _wait_until_it_holds_the_lease(
    es: Elasticsearch, names: IndexNames, run: subprocess.Popen[str]
) -> None:
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline:
        lease = es.options(ignore_status=404).get(index=names.leases, id="sputnik_arabic")
        if lease.get("found") and lease["_source"]["pid"] == run.pid:
            return
        time.sleep(0.1)
    raise AssertionError(f"run {run.pid} never held the lease (exit code {run.poll()})")


def test_two_runs_of_one_source_started_together(
    es: Elasticsearch, names: IndexNames, receiver: Receiver, env: Env
) -> None:
    sites = []
    with running_site() as server:
        for seed in (40, 41):
            site = generated(server, seed)
            sites.append(site)
            runs = [start_run(site, env), start_run(site, env)]
            for code, output in map(finish, runs):
                assert code == 0, output
                assert "Traceback" not in output and "FileNotFoundError" not in output, output
        # Without waiting, the second run stops at once and names the holder. Rivals start
        # only once the first run holds the lease (a rival started with it could take the
        # lease first), and slow pages keep it holding while they come: 16 pages at 4 per
        # host and 3 s each hold it for 12 s, longer than a rival takes to start on a
        # loaded box (0.5 s pages were done before one was up).
        site = generated(server, 43, latency=3.0)
        sites.append(site)
        first = start_run(site, env)
        _wait_until_it_holds_the_lease(es, names, first)
        holder_seen = False
        while first.poll() is None and not holder_seen:
            second = start_run(site, {**env, "NEWS_INGEST_RUN_LEASE_WAIT": "0"})
            code, output = finish(second)
            holder_seen = code == 2 and "is being run by run cli__" in output
            assert code in (0, 2), output
        assert finish(first)[0] == 0
        assert holder_seen
    indexed_report(es, names, sites)
    alert_report(es, names, receiver)


def test_elasticsearch_cut_mid_run_loses_and_doubles_no_alert(
    es: Elasticsearch, names: IndexNames, es_proxy: TcpProxy, receiver: Receiver, env: Env
) -> None:
    """Elasticsearch gone at the Nth bulk request (articles or alerts of a batch) or at the
    first claim: the run fails with one clear line, the next one completes everything."""
    claim = claim_request(names)
    sites = []
    with running_site() as server:
        for seed, (marker, number) in enumerate(((b"/_bulk", 3), (claim, 1)), 60):
            site = generated(server, seed)
            sites.append(site)
            es_proxy.cut_at_request(marker, number)
            es_proxy.seen[marker] = 0
            code, output = finish(start_run(site, {**env, **proxied(es_proxy)}))
            assert code != 0 and "error: Elasticsearch" in output, output
            assert es_proxy.is_cut
            es_proxy.restore()
            run_cli("run", "--source", "sputnik_arabic", "--feed", site.feed_urls[0], env=env)
    indexed_report(es, names, sites)
    alert_report(es, names, receiver)
