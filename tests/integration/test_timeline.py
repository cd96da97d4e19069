"""News over time, end to end on the loopback site: backfill, the daily sweep, revisions.

The generated site publishes an article every 20 hours from 2026-01-01 (about five weeks
for 40 articles); each feed lists only its newest items, as real feeds do, so a day that
is gone from the feeds can only come from the sitemaps.
"""

from __future__ import annotations

import gzip
import json
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.es.leases import RunLease
from news_ingest.local.fixturesite import (
    FixtureSite,
    GeneratedSite,
    SitemapEntry,
    SiteSpec,
    dated_sitemap_template,
    generate_site,
    publish_edit,
    running_site,
    sitemap_index_xml,
    urlset_xml,
)
from news_ingest.local.localnode import local_connection
from news_ingest.settings import PROJECT_ROOT, get_settings
from tests.conftest import Receiver
from tests.integration.conftest import deliver_to, run_cli
from tests.integration.runs import Victim, finish, start_run
from tests.integration.tcpproxy import TcpProxy

pytestmark = pytest.mark.integration

SPEC = SiteSpec(pages=40, feeds=2, seed=5, spacing_minutes=20 * 60, feed_items=3)
SINCE, UNTIL = datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 1, 10, tzinfo=UTC)  # 7 days


def write_config(tmp_path: Path, generated: GeneratedSite, **overrides: Any) -> dict[str, str]:
    """A config folder whose sputnik_arabic points at the generated site."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "include" / "config", config, dirs_exist_ok=True)
    sources = yaml.safe_load((config / "sources.yaml").read_text("utf-8"))
    sputnik = next(s for s in sources["sources"] if s["id"] == "sputnik_arabic")
    sputnik.update(
        {
            "feeds": generated.feed_urls,
            "sitemaps": [dated_sitemap_template(generated.base_url)],
            "discover_sitemaps": False,
            **overrides,
        }
    )
    (config / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True), "utf-8")
    return {"NEWS_INGEST_CONFIG_DIR": str(config)}


@pytest.fixture
def timeline_site() -> Iterator[tuple[FixtureSite, GeneratedSite]]:
    with running_site() as site:
        yield site, generate_site(site, SPEC)


def indexed(es: Elasticsearch, names: IndexNames) -> list[dict[str, Any]]:
    es.indices.refresh(index=names.articles)
    return [hit["_source"] for hit in helpers.scan(es, index=names.articles)]


def published_in(generated: GeneratedSite, start: datetime, end: datetime) -> set[str]:
    return {generated.url(a) for a in generated.articles if start <= a.published < end}


def count_line(expected: set[str], urls: list[str]) -> None:
    lost = expected - set(urls)
    duplicated = len(urls) - len(set(urls))
    extra = set(urls) - expected
    print(
        f"expected={len(expected)} indexed={len(urls)} lost={len(lost)} "
        f"duplicated={duplicated} outside_range={len(extra)}"
    )
    assert not lost and not duplicated and not extra, (sorted(lost), sorted(extra))


def test_cli_backfill_ingests_exactly_the_range_and_a_second_adds_nothing(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
    timeline_site: tuple[FixtureSite, GeneratedSite],
) -> None:
    site, generated = timeline_site
    env = write_config(tmp_path, generated)
    expected = published_in(generated, SINCE, UNTIL)
    assert 7 <= len(expected) < len(generated.articles) // 2
    # The feeds no longer list any of those days: only the dated sitemap has them.
    listed = {item for path in generated.feed_paths for item in [site.routes[path].body]}
    assert not any(url.encode() in body for url in expected for body in listed)

    first = run_cli(
        "backfill",
        "--source",
        "sputnik_arabic",
        "--since",
        "2026-01-03",
        "--until",
        "2026-01-09",
        env=env,
    )
    docs = indexed(es, names)
    count_line(expected, [doc["url"] for doc in docs])
    assert "2026-01-09" in first.stdout  # one row per day in the summary table
    # One dated sitemap request per day, each day's articles stamped as found there.
    dated = [t for t, _ in site.requests if t.startswith("/sitemap_article.xml")]
    assert len(dated) == 7
    assert {doc["discovered_via"] for doc in docs} == {"sitemap"}
    for doc in docs:
        article = next(a for a in generated.articles if generated.url(a) == doc["url"])
        assert datetime.fromisoformat(doc["published_at"]) == article.published
        assert doc["first_seen_at"] <= doc["fetched_at"] <= doc["indexed_at"]

    pages_before = sum(1 for t, _ in site.requests if t.endswith(".html"))
    run_cli(
        "backfill",
        "--source",
        "sputnik_arabic",
        "--since",
        "2026-01-03",
        "--until",
        "2026-01-09",
        env=env,
    )
    count_line(expected, [doc["url"] for doc in indexed(es, names)])
    assert sum(1 for t, _ in site.requests if t.endswith(".html")) == pages_before


def test_a_backfill_waits_for_the_source_lease_of_a_dag_run(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
    timeline_site: tuple[FixtureSite, GeneratedSite],
) -> None:
    """A backfill takes the source's one lease (not one per day): while a poll's DAG run
    holds it, the backfill fetches nothing and stops naming that run; after it, it runs."""
    site, generated = timeline_site
    env = {**write_config(tmp_path, generated), "NEWS_INGEST_RUN_LEASE_WAIT": "2"}
    args = ("backfill", "--source", "sputnik_arabic", "--since", "2026-01-03")
    poll = RunLease(es, names, "sputnik_arabic", "airflow:sputnik_arabic:scheduled__x", ttl=120)
    poll.acquire(wait=0)
    try:
        refused = run_cli(*args, "--until", "2026-01-03", env=env, check=False)
    finally:
        poll.release()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "being run by run airflow:sputnik_arabic:scheduled__x" in refused.stdout
    assert not any(t.startswith("/sitemap_article.xml") for t, _ in site.requests)
    assert indexed(es, names) == []

    run_cli(*args, "--until", "2026-01-03", env=env)
    day = datetime(2026, 1, 3, tzinfo=UTC)
    count_line(
        published_in(generated, day, day + timedelta(days=1)),
        [doc["url"] for doc in indexed(es, names)],
    )
    assert not es.options(ignore_status=404).get(index=names.leases, id="sputnik_arabic")["found"]


def test_daily_sweep_ingests_what_the_feeds_missed_and_reports_coverage(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
) -> None:
    # A burst: 12 articles an hour apart on 2026-01-01, feeds list the newest 2 each.
    spec = SiteSpec(pages=12, feeds=2, seed=6, spacing_minutes=60, feed_items=2)
    with running_site() as site:
        generated = generate_site(site, spec)
        env = write_config(tmp_path, generated)
        run_cli("run", "--source", "sputnik_arabic", env=env)
        polled = {doc["url"] for doc in indexed(es, names)}
        assert len(polled) == 4

        out = run_cli(
            "backfill",
            "--source",
            "sputnik_arabic",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-01",
            "--sweep",
            env=env,
        )
        urls = [doc["url"] for doc in indexed(es, names)]
        count_line({generated.url(a) for a in generated.articles}, urls)
        assert "2026-01-01" in out.stdout

    rows = store_rows(es, names)
    assert rows == [
        {
            "day": "2026-01-01",
            "sitemap_articles": 12,
            "feed_articles": 4,
            "swept_articles": 8,
            "coverage": pytest.approx(4 / 12, abs=1e-4),
        }
    ]
    printed = run_cli("coverage", "--source", "sputnik_arabic", env=env).stdout
    assert "33.3%" in printed and "2026-01-01" in printed


def store_rows(es: Elasticsearch, names: IndexNames) -> list[dict[str, Any]]:
    es.indices.refresh(index=names.feeds)
    hits = es.search(index=names.feeds, query={"term": {"kind": "coverage"}})["hits"]["hits"]
    keys = ("day", "sitemap_articles", "feed_articles", "swept_articles", "coverage")
    return [{key: hit["_source"][key] for key in keys} for hit in hits]


def age_articles(es: Elasticsearch, names: IndexNames, hours: float) -> None:
    """Move the clock on: every article was first seen ``hours`` earlier than recorded,
    so the revisit that was due ``hours`` after first seen is due now."""
    actions = []
    for hit in helpers.scan(es, index=names.articles, _source_includes=["first_seen_at"]):
        seen = datetime.fromisoformat(hit["_source"]["first_seen_at"]) - timedelta(hours=hours)
        doc = {"first_seen_at": seen.isoformat(), "next_revisit_at": datetime.now(UTC).isoformat()}
        actions.append(
            {"_op_type": "update", "_index": names.articles, "_id": hit["_id"], "doc": doc}
        )
    helpers.bulk(es, actions, refresh=True)


def test_an_edited_article_is_one_document_with_its_history(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
) -> None:
    spec = SiteSpec(pages=6, feeds=1, seed=7, spacing_minutes=60)
    with running_site() as site:
        generated = generate_site(site, spec)
        env = write_config(tmp_path, generated)
        run_cli("run", "--source", "sputnik_arabic", env=env)
        first = {doc["url"]: doc for doc in indexed(es, names)}
        assert len(first) == 6 and {doc["revision"] for doc in first.values()} == {0}
        for doc in first.values():  # the first look is an hour after first seen
            seen = datetime.fromisoformat(doc["first_seen_at"])
            assert datetime.fromisoformat(doc["next_revisit_at"]) == seen + timedelta(hours=1)

        target = generated.articles[2]
        generated = publish_edit(site, generated, target, datetime.now(UTC))
        age_articles(es, names, hours=1.01)
        aged = {doc["url"]: doc for doc in indexed(es, names)}
        second = run_cli("run", "--source", "sputnik_arabic", env=env)
        docs = {doc["url"]: doc for doc in indexed(es, names)}
        assert len(docs) == 6, second.stdout
        edited = docs[generated.url(target)]
        assert edited["revision"] == 1 and edited["edited_at"], second.stdout
        assert edited["title"].endswith("(محدث 1)")
        assert edited["first_seen_at"] == aged[generated.url(target)]["first_seen_at"]
        assert edited["updated_at"] > first[generated.url(target)]["updated_at"]
        for url, doc in docs.items():
            # The other revisits found nothing new: not rewritten, next look at 6 h.
            seen = datetime.fromisoformat(doc["first_seen_at"])
            assert datetime.fromisoformat(doc["next_revisit_at"]) == seen + timedelta(hours=6)
            if url != generated.url(target):
                assert doc["revision"] == 0 and doc["indexed_at"] == first[url]["indexed_at"]
        assert sum(1 for t, _ in site.requests if t.endswith(".html")) == 6 + 6

        # All six due again; max_per_run lets two of them in.
        env = write_config(tmp_path, generated, revisit={"max_per_run": 2})
        age_articles(es, names, hours=5)
        third = run_cli("run", "--source", "sputnik_arabic", env=env)
        assert sum(1 for t, _ in site.requests if t.endswith(".html")) == 6 + 6 + 2, third.stdout

    es.indices.refresh(index=names.revisions)
    revisions = [h["_source"] for h in es.search(index=names.revisions)["hits"]["hits"]]
    assert len(revisions) == 1
    change = revisions[0]["changes"]
    assert change["title_changed"] is True
    assert (change["paragraphs_added"], change["paragraphs_changed"]) == (1, 1)
    assert "{+41+}" in change["diff"] or "41" in change["diff"]
    assert revisions[0]["title"] == target.title

    history = json.loads(run_cli("history", generated.url(target), "--json", env=env).stdout)
    assert history["article"]["revision"] == 1 and len(history["revisions"]) == 1
    printed = run_cli("history", generated.url(target), env=env).stdout
    assert "revision 0" in printed and "title changed" in printed


def test_bad_sitemaps_are_rejected_and_nothing_indexed_is_lost(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
    timeline_site: tuple[FixtureSite, GeneratedSite],
) -> None:
    site, generated = timeline_site
    base = generated.base_url
    day = [a for a in generated.articles if SINCE <= a.published < SINCE + timedelta(days=1)]
    bomb = gzip.compress(b" " * 60_000_000)
    site.add("/bad/bomb.xml.gz", bomb, content_type="application/gzip")
    site.add(
        "/bad/malformed.xml", b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url>"
    )
    site.add("/bad/self.xml", sitemap_index_xml([(base + "/bad/self.xml", None)]))
    site.add(
        "/bad/foreign.xml",
        urlset_xml(
            [SitemapEntry("https://elsewhere.example/x.html", SINCE, SINCE, "x")]
            + [SitemapEntry(generated.url(a), a.published, a.published, a.title) for a in day]
        ),
    )
    site.add("/bad/huge.xml", b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    bad = ["bomb.xml.gz", "malformed.xml", "self.xml", "foreign.xml", "huge.xml"]
    env = {
        **write_config(tmp_path, generated, sitemaps=[f"{base}/bad/{name}" for name in bad]),
        "NEWS_INGEST_MAX_FEED_BYTES": "1000000",
    }
    run_cli("run", "--source", "sputnik_arabic", env=env)
    before = {doc["url"] for doc in indexed(es, names)}
    assert before

    run_cli(
        "backfill",
        "--source",
        "sputnik_arabic",
        "--since",
        "2026-01-03",
        "--until",
        "2026-01-03",
        env=env,
    )
    after = {doc["url"] for doc in indexed(es, names)}
    assert before <= after  # nothing indexed is lost
    assert after - before == {generated.url(a) for a in day} - before
    reasons = {
        row["url"].rsplit("/", 1)[-1]: row["reason"]
        for row in json.loads(run_cli("rejects", "--json", env=env).stdout)
        if row["stage"] == "sitemap"
    }
    assert reasons == {
        "bomb.xml.gz": "gzip-bomb",
        "malformed.xml": "malformed",
        "self.xml": "self-reference",
        "huge.xml": "too-large",
    }


def test_robots_txt_sitemaps_are_discovered_and_old_children_pruned(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
    timeline_site: tuple[FixtureSite, GeneratedSite],
) -> None:
    site, generated = timeline_site
    env = write_config(tmp_path, generated, sitemaps=[], discover_sitemaps=True)
    day = datetime(2026, 2, 1, tzinfo=UTC)
    run_cli(
        "backfill",
        "--source",
        "sputnik_arabic",
        "--since",
        "2026-02-01",
        "--until",
        "2026-02-01",
        env=env,
    )
    count_line(
        published_in(generated, day, day + timedelta(days=1)),
        [doc["url"] for doc in indexed(es, names)],
    )
    asked = [target for target, _ in site.requests]
    assert "/sitemap_index.xml" in asked and "/sitemaps/articles-2026-02.xml.gz" in asked
    # January's url set was last modified before the window: never fetched.
    assert "/sitemaps/articles-2026-01.xml.gz" not in asked


# A killed run's lease is free again within seconds.
SHORT_LEASES = {"NEWS_INGEST_RUN_LEASE_SECONDS": "3", "NEWS_INGEST_RUN_LEASE_WAIT": "60"}


def edit_report(es: Elasticsearch, names: IndexNames, receiver: Receiver, revisions: int) -> None:
    """The exact count line of edit alerts: one stored and one delivered (by key) per
    revision of an alerted article."""
    es.indices.refresh(index=names.alerts)
    query = {"query": {"term": {"kind": "edited"}}}
    stored = [hit["_id"] for hit in helpers.scan(es, index=names.alerts, query=query)]
    keys: dict[str, set[str]] = {}
    for body, headers in zip(receiver.received, receiver.headers, strict=True):
        if body.get("kind") == "edited":
            keys.setdefault(str(body["alert_id"]), set()).add(headers["Idempotency-Key"])
    duplicated = len(stored) - len(set(stored)) + sum(len(k) - 1 for k in keys.values())
    print(
        f"edit alerts: expected={revisions} stored={len(stored)} delivered={len(keys)} "
        f"lost={revisions - len(keys)} duplicated={duplicated}"
    )
    assert len(set(stored)) == len(keys) == revisions and duplicated == 0


def test_an_edit_of_an_alerted_article_is_announced_once_per_revision_even_after_a_kill(
    ingest_env: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
    receiver: Receiver,
    es_proxy: TcpProxy,
) -> None:
    spec = SiteSpec(pages=3, feeds=1, seed=11, spacing_minutes=60, karabakh_share=1.0)
    with running_site() as site:
        generated = generate_site(site, spec)
        env = {**write_config(tmp_path, generated), **SHORT_LEASES}
        deliver_to(tmp_path / "config", receiver)
        run_cli("run", "--source", "sputnik_arabic", env=env)
        alerted: list[dict[str, Any]] = [b for b in receiver.received if "kind" not in b]
        assert alerted, "the Karabakh pages should alert"
        article_id = es.get(index=names.alerts, id=alerted[0]["alert_id"])["_source"]["article_id"]
        url = es.get(index=names.articles, id=article_id)["_source"]["url"]
        target = next(a for a in generated.articles if generated.url(a) == url)

        generated = publish_edit(site, generated, target, datetime.now(UTC))
        age_articles(es, names, hours=1.01)
        second = run_cli("run", "--source", "sputnik_arabic", env=env)
        edits: list[dict[str, Any]] = [b for b in receiver.received if b.get("kind") == "edited"]
        assert len(edits) == 1, second.stdout
        assert (edits[0]["revision"], edits[0]["url"]) == (1, alerted[0]["url"])
        assert edits[0]["changes"]["title_changed"] is True
        assert "41" in edits[0]["changes"]["diff"] and edits[0]["title"].endswith("(محدث 1)")

        # Revisits that find nothing new announce nothing.
        age_articles(es, names, hours=5)
        run_cli("run", "--source", "sputnik_arabic", env=env)
        assert len(receiver.received) == len(alerted) + 1

        # The worst moment: the second edit is written, its event not yet stored (the run
        # dies at its first look for the alerts that named the article).
        target = next(a for a in generated.articles if a.number == target.number)
        generated = publish_edit(site, generated, target, datetime.now(UTC))
        age_articles(es, names, hours=18)
        victim = Victim()
        es_proxy.at_request(f"/{names.alerts}/_search".encode(), 1, victim.kill)
        _, user, password = local_connection(get_settings())
        proxied = {"NEWS_INGEST_ES_URL": es_proxy.url, "NEWS_INGEST_ES_USER": user or ""}
        victim.run = start_run(
            generated, {**env, **proxied, "NEWS_INGEST_ES_PASSWORD": password or ""}
        )
        code, output = finish(victim.run)
        assert code == -signal.SIGKILL, output
        es.indices.refresh(index=f"{names.articles},{names.alerts}")
        assert es.get(index=names.articles, id=article_id)["_source"]["revision"] == 2
        assert es.count(index=names.alerts, query={"term": {"kind": "edited"}})["count"] == 1
        recovery = run_cli("run", "--source", "sputnik_arabic", env=env)
        assert "edit_alerts_recovered=1" in recovery.stdout + recovery.stderr
    edit_report(es, names, receiver, revisions=2)
