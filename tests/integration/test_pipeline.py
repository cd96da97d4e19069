"""`news-ingest run` end to end: loopback site -> real Elasticsearch."""

from __future__ import annotations

import json

import pytest

from elasticsearch import Elasticsearch
from news_ingest import pipeline, staging
from news_ingest.es import indices
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import FeedItem, FixtureSite, running_site
from news_ingest.settings import get_settings
from news_ingest.sources import get_source
from tests.conftest import FEED_PATH, originals, serve_sputnik
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def test_run_twice_indexes_each_article_once(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    articles = originals()
    karabakh = next(a for a in articles if a["file"] == "putin-macron-karabakh.html")
    with running_site() as site:
        site.add("/files/report.pdf", b"%PDF-1.4 fixture", content_type="application/pdf")
        extra = [
            # The same article again, as a feed with tracking parameters would list it.
            FeedItem(
                link=site.url(karabakh["path"]) + "?utm_source=rss&utm_medium=feed#comments",
                title=karabakh["title"],
            ),
            FeedItem(link=site.url("/20201024/gone-1046900000.html"), title="removed article"),
            FeedItem(link=site.url("/files/report.pdf"), title="a PDF, not a page"),
        ]
        serve_sputnik(site, extra_items=extra)
        feed = site.url(FEED_PATH)

        first = run_cli("run", "--source", "sputnik_arabic", "--feed", feed)
        es.indices.refresh(index=names.articles)
        assert es.count(index=names.articles)["count"] == len(articles), first.stdout

        second = run_cli("run", "--source", "sputnik_arabic", "--feed", feed)
        es.indices.refresh(index=names.articles)
        assert es.count(index=names.articles)["count"] == len(articles), second.stdout
        # The second poll was a conditional GET answered 304: no page was fetched again.
        assert site.count(FEED_PATH) == 2
        assert site.count(karabakh["path"]) == 1
        assert "feeds_unchanged" in second.stdout

    reasons = {
        row["url"].rsplit("/", 1)[-1]: row["reason"]
        for row in json.loads(run_cli("rejects", "--json").stdout)
    }
    assert reasons == {"gone-1046900000.html": "http-404", "report.pdf": "not-html"}

    hits = json.loads(run_cli("search", "قره باغ", "--json").stdout)
    assert karabakh["title"] in [hit["title"] for hit in hits]
    top = next(hit for hit in hits if hit["title"] == karabakh["title"])
    assert top["lede"] == karabakh["lede"]
    assert top["language"] == "ar"
    assert top["source"] == "sputnik_arabic"
    assert "مناقشة" not in top["body"]
    assert set(top.keys()) >= {
        "url",
        "title",
        "lede",
        "body",
        "language",
        "topics",
        "published_at",
        "source",
    }


def test_unreachable_elasticsearch_fails_with_a_clear_message(ingest_env: dict[str, str]) -> None:
    result = run_cli(
        "run",
        "--feed",
        "http://127.0.0.1:9/feed.xml",
        check=False,
        env={"NEWS_INGEST_ES_URL": "http://127.0.0.1:9"},
    )
    assert result.returncode != 0
    assert "unreachable" in result.stdout + result.stderr


def test_a_source_whose_feeds_all_fail_fails_the_run(ingest_env: dict[str, str]) -> None:
    with running_site() as site:
        site.add("/feed.xml", status=404)
        result = run_cli("run", "--feed", site.url("/feed.xml"), check=False)
    assert result.returncode != 0
    assert "all 1 feed(s) of adhoc failed (http-404)" in result.stdout + result.stderr


def test_entries_staged_by_a_run_that_died_before_fetching_are_replanned(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames, sputnik_site: FixtureSite
) -> None:
    settings = get_settings()
    source = get_source(settings.config_dir, "sputnik_arabic")
    feed = sputnik_site.url(FEED_PATH)
    crashed = staging.run_folder(settings.staging_base, source.id, "scheduled__crashed")
    indices.install(es, names.prefix)
    _, counts = pipeline.plan(source, [feed], settings, es, crashed)  # ...and then it died
    assert counts["new"] == len(originals())

    result = run_cli("run", "--source", "sputnik_arabic", "--feed", feed)

    # The feed answered 304 (its validators were saved with the staged entries), yet the
    # entries came back from the dead run's folder, and that folder was emptied.
    assert sputnik_site.count(FEED_PATH) == 2
    assert "feeds_unchanged" in result.stdout and "replanned" in result.stdout
    es.indices.refresh(index=names.articles)
    assert es.count(index=names.articles)["count"] == len(originals())
    assert staging.batch_paths(crashed, "entries") == []
    assert not crashed.exists()  # emptied run folders are pruned


def test_the_worker_preload_compiles_the_snapshot_a_run_takes(
    ingest_env: dict[str, str], es: Elasticsearch, names: IndexNames
) -> None:
    from news_ingest.alerting import watchlist_store

    settings = get_settings()
    indices.install(es, names.prefix)
    watchlist_store.from_snapshot.cache_clear()
    pipeline.load_worker_state(settings)  # what the pool's server process runs
    run_snapshot = watchlist_store.snapshot(es, names, settings.config_dir)
    before = watchlist_store.from_snapshot.cache_info()
    (active,) = watchlist_store.from_snapshot(run_snapshot)
    after = watchlist_store.from_snapshot.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 0)
    assert (active.watchlist.id, active.version) == ("karabakh", 1)
