"""Watchlist alerts end to end: ingest -> alerts stored -> webhook delivered exactly once."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from elasticsearch import Elasticsearch, helpers
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import FeedItem, FixtureSite, running_site
from news_ingest.settings import PROJECT_ROOT
from tests.conftest import FEED_PATH, Receiver
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration

KARABAKH_FILES = {
    "putin-macron-karabakh.html",
    "russian-peacekeepers-karabakh.html",
    "sochi-trilateral-meeting-flash.html",
}


def test_alert_once_and_redeliver_after_webhook_outage(
    ingest_env: dict[str, str],
    sputnik_site: FixtureSite,
    receiver: Receiver,
    alert_config: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
) -> None:
    feed = sputnik_site.url(FEED_PATH)
    receiver.failing = True
    run_cli("run", "--source", "sputnik_arabic", "--feed", feed, env=alert_config)
    stored = json.loads(run_cli("alerts", "--json", env=alert_config).stdout)
    expected_urls = {
        sputnik_site.url(a["path"])
        for a in json.loads(
            (PROJECT_ROOT / "tests/fixtures/sites/sputnik/articles.json").read_text("utf-8")
        )["articles"]
        if a["file"] in KARABAKH_FILES
    }
    assert {row["url"] for row in stored} == expected_urls
    assert all(row["watchlist"] == "karabakh" and not row["notified"] for row in stored)
    assert all(row["matched"] and row["snippet"] for row in stored)
    assert receiver.received == []

    receiver.failing = False
    run_cli("run", "--source", "sputnik_arabic", "--feed", feed, env=alert_config)
    assert sorted(p["url"] for p in receiver.received) == sorted(expected_urls)
    delivered = json.loads(run_cli("alerts", "--json", env=alert_config).stdout)
    assert all(row["notified"] for row in delivered)
    assert all(row["latency_fetched_seconds"] >= 0 for row in delivered)

    run_cli("run", "--source", "sputnik_arabic", "--feed", feed, env=alert_config)
    assert len(receiver.received) == len(expected_urls)
    assert es.count(index=names.alerts)["count"] == len(expected_urls)

    backfill = run_cli("alerts", "backfill", "--watchlist", "karabakh", env=alert_config)
    assert "0 new alert(s)" in backfill.stdout
    assert len(receiver.received) == len(expected_urls)


def test_alerts_go_out_as_soon_as_their_batch_is_written(
    sputnik_site: FixtureSite,
    receiver: Receiver,
    alert_config: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
) -> None:
    # One article per batch: the first alert must reach the webhook while later batches
    # are still being written, not when the whole run is over.
    env = {**alert_config, "NEWS_INGEST_BATCH_SIZE": "1"}
    run_cli("run", "--source", "sputnik_arabic", "--feed", sputnik_site.url(FEED_PATH), env=env)
    written = [
        datetime.fromisoformat(hit["_source"]["indexed_at"])
        for hit in helpers.scan(es, index=names.articles, _source=["indexed_at"])
    ]
    assert len(receiver.arrivals) == len(KARABAKH_FILES)
    assert min(receiver.arrivals) < max(written)


def test_watchlist_test_explains_a_match() -> None:
    hit = run_cli("watchlist", "test", "karabakh", "وصل الوفد إلى ستيباناكيرت في ناغورني-قرة باغ")
    assert "MATCH" in hit.stdout
    miss = run_cli("watchlist", "test", "karabakh", "قرة عين لأهل بغداد", check=False)
    assert miss.returncode == 1 and "no match" in miss.stdout


# Spellings kept out of the unit tests on purpose: the watchlist was written without them.
HELD_OUT_SPELLINGS = [
    "ناجورنو كاراباخ",
    "وللقاراباغ",
    "Нагорно-Карабахской автономной области",
    "Dağlıq Qarabağ",
    "مدينة خان كندي",
    "Haut‑Karabakh",
    "ستيبانكرت",
    "الصراع القره باغي",
    "قاره باغ",
    "Nagorno-Karabagh",
]
LOOKALIKES = [
    "قرة عين",
    "بغداد",
    "Kara Sea",
    "karaoke",
    "باغ",
]
FILLER = (
    "وقال المتحدث في مؤتمر صحفي إن الوفود ستواصل المشاورات خلال الأيام المقبلة، "
    "مشيرا إلى أن اللقاءات تناولت ملفات اقتصادية وإنسانية عدة، وأن البيان الختامي "
    "سيصدر بعد انتهاء الاجتماعات. The talks will continue next week, officials said."
)


def page(title: str, mention: str) -> str:
    body = f"<p>{FILLER}</p><p>ذكر التقرير {mention} في سياق الحديث.</p><p>{FILLER}</p>"
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{body}</article></body></html>"
    )


def test_held_out_spellings_alert_and_lookalikes_do_not(
    ingest_env: dict[str, str],
    receiver: Receiver,
    alert_config: dict[str, str],
) -> None:
    with running_site() as site:
        items = []
        for group, mentions in (("held", HELD_OUT_SPELLINGS), ("look", LOOKALIKES)):
            for number, mention in enumerate(mentions):
                path = f"/{group}-{number}.html"
                site.add(path, page(f"خبر {group} {number}", mention))
                items.append(FeedItem(link=site.url(path), title=f"{group} {number}"))
        site.add_feed("/feed.xml", items)
        run_cli("run", "--feed", site.url("/feed.xml"), env=alert_config)
        alerted = {row["url"] for row in json.loads(run_cli("alerts", "--json").stdout)}
        expected = {site.url(f"/held-{n}.html") for n in range(len(HELD_OUT_SPELLINGS))}
    assert alerted == expected
    assert len(receiver.received) == len(expected)
