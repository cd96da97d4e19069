"""Exactly-once alerts and one run per source, through SIGKILLs, cuts and concurrent runs.

Every test ends with one exact count line over everything its rounds produced:
``expected=… stored=… delivered=… resent=… lost=0 duplicated=0``. ``expected`` is every
(indexed article, watchlist) hit, ``stored`` the alert documents, ``delivered`` the alerts
the receiver got, ``resent`` repeats the receiver could drop by their idempotency key
(at-least-once after a crash in mid-delivery), ``duplicated`` repeats it could not (two
keys for one alert, or an alert stored twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable

import psutil
import pytest

from elasticsearch import Elasticsearch, helpers
from news_ingest.alerting.alerts import alert_id
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import GeneratedSite, SiteSpec, generate_site, running_site
from news_ingest.local.localnode import local_connection
from news_ingest.settings import get_settings
from tests.conftest import Receiver
from tests.integration.conftest import run_cli
from tests.integration.tcpproxy import TcpProxy

pytestmark = pytest.mark.integration

# Short leases so a killed run's source and deliveries are free again within seconds.
LEASES = {
    "NEWS_INGEST_RUN_LEASE_SECONDS": "3",
    "NEWS_INGEST_ALERT_LEASE_SECONDS": "3",
    "NEWS_INGEST_RUN_LEASE_WAIT": "60",
    "NEWS_INGEST_BATCH_SIZE": "8",
}


def start_run(site: GeneratedSite, env: dict[str, str]) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "news_ingest", "run", "--source", "sputnik_arabic"]
    for feed in site.feed_urls:
        args += ["--feed", feed]
    return subprocess.Popen(
        args,
        env={**os.environ, "COLUMNS": "200", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(run: subprocess.Popen[str]) -> tuple[int, str]:
    # A killed run's output ends only when every process holding its pipe is gone: an
    # orphaned pool would make this time out.
    output, _ = run.communicate(timeout=300)
    return run.returncode, output


class Victim:
    """The run a trigger kills with SIGKILL, and the processes it had at that moment."""

    def __init__(self) -> None:
        self.run: subprocess.Popen[str] | None = None
        self.family: list[psutil.Process] = []

    def kill(self) -> None:
        assert self.run is not None
        self.family = psutil.Process(self.run.pid).children(recursive=True)
        os.kill(self.run.pid, signal.SIGKILL)
        self.run.wait()

    def kill_at_post(self, number: int) -> Callable[[int], None]:
        def on_post(count: int) -> None:
            if count == number:
                self.kill()

        return on_post


def generated(site_server: object, seed: int, pages: int = 16) -> GeneratedSite:
    spec = SiteSpec(pages=pages, feeds=1, seed=seed, karabakh_share=0.5, min_bytes=20_000)
    return generate_site(site_server, spec)  # type: ignore[arg-type]


def alert_report(es: Elasticsearch, names: IndexNames, receiver: Receiver) -> None:
    """The exact count line: every indexed hit stored once and delivered once (by key)."""
    es.indices.refresh(index=f"{names.articles},{names.alerts}")
    expected = {
        alert_id(watchlist, hit["_id"])
        for hit in helpers.scan(es, index=names.articles, _source=["watchlists"])
        for watchlist in hit["_source"].get("watchlists") or []
    }
    stored = [hit["_id"] for hit in helpers.scan(es, index=names.alerts, _source=False)]
    keys_by_alert: dict[str, set[str]] = defaultdict(set)
    for body, headers in zip(receiver.received, receiver.headers, strict=True):
        keys_by_alert[str(body["alert_id"])].add(headers["Idempotency-Key"])
    delivered = set(keys_by_alert)
    distinct_keys = sum(len(keys) for keys in keys_by_alert.values())
    resent = len(receiver.received) - distinct_keys
    lost = expected - delivered
    duplicated = (
        (len(stored) - len(set(stored)))
        + sum(len(keys) - 1 for keys in keys_by_alert.values())
        + len(delivered - expected)
    )
    print(
        f"expected={len(expected)} stored={len(stored)} delivered={len(delivered)} "
        f"resent={resent} lost={len(lost)} duplicated={duplicated}"
    )
    assert expected, "the sites should produce watchlist hits"
    assert not lost, sorted(lost)
    assert duplicated == 0
    assert set(stored) == expected


def indexed_report(es: Elasticsearch, names: IndexNames, sites: list[GeneratedSite]) -> None:
    es.indices.refresh(index=names.articles)
    urls = [
        hit["_source"]["url"]
        for hit in helpers.scan(es, index=names.articles, _source_includes=["url"])
    ]
    expected = {site.url(article) for site in sites for article in site.articles}
    lost = expected - set(urls)
    print(
        f"articles expected={len(expected)} indexed={len(urls)} lost={len(lost)} "
        f"duplicated={len(urls) - len(set(urls))}"
    )
    assert not lost and len(urls) == len(set(urls)) == len(expected)


def proxied(es_proxy: TcpProxy) -> dict[str, str]:
    _, user, password = local_connection(get_settings())
    return {
        "NEWS_INGEST_ES_URL": es_proxy.url,
        "NEWS_INGEST_ES_USER": user or "",
        "NEWS_INGEST_ES_PASSWORD": password or "",
    }


def test_sigkill_at_several_points_loses_and_doubles_no_alert(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    es_proxy: TcpProxy,
    receiver: Receiver,
    alert_config: dict[str, str],
) -> None:
    env = {**LEASES, **alert_config}
    claim = f"PUT /{names.alerts}/_doc/".encode()
    # Where the run dies: after batch 1's articles are written but before its alerts are
    # stored; after the first channel answered but before that was recorded; as the
    # receiver gets the first alert (the claim written, the answer never read); after a
    # later batch's bulk write.
    points: list[tuple[str, bytes, int]] = [
        ("after-bulk", b"/_bulk", 2),
        ("after-send", claim, 2),
        ("receiver", b"", 1),
        ("after-bulk", b"/_bulk", 4),
    ]
    sites = []
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
            run_cli("run", "--source", "sputnik_arabic", "--feed", site.feed_urls[0], env=env)
    indexed_report(es, names, sites)
    alert_report(es, names, receiver)


def test_two_runs_of_one_source_started_together(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    receiver: Receiver,
    alert_config: dict[str, str],
) -> None:
    env = {**LEASES, **alert_config}
    sites = []
    with running_site() as server:
        for seed in (40, 41, 42):
            site = generated(server, seed)
            sites.append(site)
            runs = [start_run(site, env), start_run(site, env)]
            for code, output in map(finish, runs):
                assert code == 0, output
                assert "Traceback" not in output and "FileNotFoundError" not in output, output
        # Without waiting, the second run stops at once and names the holder.
        site = generated(server, 43)
        sites.append(site)
        first = start_run(site, env)
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


def test_a_sigkilled_run_leaves_no_process_behind(
    ingest_env: dict[str, str], es_proxy: TcpProxy
) -> None:
    """The pool's server, its workers and the resource tracker end with a killed run."""
    with running_site() as server:
        for seed, marker in ((50, b"/_bulk"), (51, b"_mget")):
            site = generated(server, seed)
            victim = Victim()
            es_proxy.at_request(marker, 1, victim.kill)  # mid-run: the pool is busy
            victim.run = start_run(site, {**LEASES, **proxied(es_proxy)})
            assert finish(victim.run)[0] == -signal.SIGKILL
            assert len(victim.family) >= 3, victim.family  # server, tracker, workers
            _, alive = psutil.wait_procs(victim.family, timeout=10)
            print(f"processes at the kill={len(victim.family)} left after 10 s={len(alive)}")
            assert alive == [], alive
