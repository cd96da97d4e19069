"""Helpers for tests that start CLI runs and end with exact count lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable

import psutil

from elasticsearch import Elasticsearch, helpers
from news_ingest.alerting.alerts import alert_id
from news_ingest.es.indices import IndexNames
from news_ingest.es.stories import aggregated_story_docs
from news_ingest.local.fixturesite import GeneratedSite
from tests.conftest import Receiver


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


def alert_report(es: Elasticsearch, names: IndexNames, receiver: Receiver) -> None:
    """The exact count line: every (story, watchlist) of the indexed hits stored once and
    delivered once (by key). An article outside any story is its own."""
    es.indices.refresh(index=f"{names.articles},{names.alerts}")
    expected = {
        alert_id(watchlist, hit["_source"].get("story_id") or hit["_id"])
        for hit in helpers.scan(es, index=names.articles, _source=["watchlists", "story_id"])
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


def story_report(es: Elasticsearch, names: IndexNames) -> None:
    """The exact count line of stories: every story of the indexed articles has a document,
    and it is the one its indexed members derive (``stale``: missing or different)."""
    es.indices.refresh(index=f"{names.articles},{names.stories}")
    ids = {
        hit["_source"]["story_id"]
        for hit in helpers.scan(es, index=names.articles, _source=["story_id"])
        if hit["_source"].get("story_id")
    }
    derived = aggregated_story_docs(es, names, ids)
    stored = {
        hit["_id"]: hit["_source"] for hit in helpers.scan(es, index=names.stories, size=1000)
    }
    stale = sorted(key for key in ids if stored.get(key) != derived.get(key))
    print(
        f"stories expected={len(ids)} stored={len(stored)} stale={len(stale)} "
        f"orphaned={len(set(stored) - ids)}"
    )
    assert ids, "the sites should make stories"
    assert stale == [] and set(stored) == ids, stale
