"""Watchlist alerts end to end: ingest -> alerts stored -> webhook delivered exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from elasticsearch import Elasticsearch, helpers
from news_ingest import pipeline
from news_ingest.es.indices import IndexNames
from news_ingest.local.fixturesite import FeedItem, FixtureSite, running_site
from news_ingest.settings import PROJECT_ROOT, get_settings
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
    # Latency from the pipeline's own first sight of the URL: at least the fetch's.
    assert all(
        row["latency_first_seen_seconds"] >= row["latency_fetched_seconds"] for row in delivered
    )

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


@pytest.mark.usefixtures("ingest_env")  # its own prefix: the command seeds a watchlists index
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
        # The pages share all their text but the mention: near-copies, which story
        # detection would rightly group into one story and one alert.
        env = {**alert_config, "NEWS_INGEST_STORIES": "false"}
        run_cli("run", "--feed", site.url("/feed.xml"), env=env)
        alerted = {row["url"] for row in json.loads(run_cli("alerts", "--json").stdout)}
        expected = {site.url(f"/held-{n}.html") for n in range(len(HELD_OUT_SPELLINGS))}
    assert alerted == expected
    assert len(receiver.received) == len(expected)


def test_a_watchlist_changed_by_cli_alerts_from_the_next_run_on(
    ingest_env: dict[str, str],
    receiver: Receiver,
    alert_config: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    tmp_path: Path,
) -> None:
    mentions = {1: "منتجع سوتشي", 2: "مطار أدلر", 3: "شاطئ سوتشي"}
    entry = {
        "id": "sochi",
        "name": "Sochi",
        "severity": "medium",
        "terms": {"ar": ["سوتشي"]},
        "channels": [{"type": "webhook", "url": receiver.url}],
    }
    definition = tmp_path / "sochi.yaml"
    definition.write_text(yaml.safe_dump(entry, allow_unicode=True), "utf-8")

    def sochi_alerts() -> dict[str, int]:
        rows = json.loads(run_cli("alerts", "--json", "--watchlist", "sochi").stdout)
        return {row["url"]: row["watchlist_version"] for row in rows}

    with running_site() as site:
        items: list[FeedItem] = []

        def run_with(number: int) -> None:
            path = f"/sochi-{number}.html"
            site.add(path, page(f"خبر {number}", mentions[number]))
            items.append(FeedItem(link=site.url(path), title=f"خبر {number}"))
            site.add_feed("/feed.xml", items)
            # Near-copies (see page): without stories, each page is its own alert.
            env = {**alert_config, "NEWS_INGEST_STORIES": "false"}
            run_cli("run", "--feed", site.url("/feed.xml"), env=env)

        run_with(1)
        assert sochi_alerts() == {}  # no such watchlist yet
        added = run_cli("watchlist", "add", "--file", str(definition), "--by", "analyst")
        assert "watchlist sochi version 1: created" in added.stdout
        backfill = run_cli("alerts", "backfill", "--watchlist", "sochi", env=alert_config)
        assert "version 1: scanned 1 article(s); 1 new alert(s)" in backfill.stdout
        assert sochi_alerts() == {site.url("/sochi-1.html"): 1}

        edited = run_cli("watchlist", "edit", "sochi", "--add-term", "ar:أدلر", "--by", "analyst")
        assert "version 2: terms.ar +أدلر" in edited.stdout
        run_with(2)
        assert sochi_alerts() == {site.url("/sochi-1.html"): 1, site.url("/sochi-2.html"): 2}

        run_cli("watchlist", "disable", "sochi", "--note", "trip over")
        run_with(3)
        assert site.url("/sochi-3.html") not in sochi_alerts()
        expected = [site.url("/sochi-1.html"), site.url("/sochi-2.html")]
    assert sorted(p["url"] for p in receiver.received) == expected
    shown = run_cli("watchlist", "show", "sochi").stdout
    assert "v2 " in shown and "by analyst: terms.ar +أدلر" in shown
    assert "v3 " in shown and "disabled (trip over)" in shown
    # The same validation and messages as watchlists.yaml.
    bad = run_cli("watchlist", "edit", "sochi", "--severity", "urgent", check=False)
    assert bad.returncode != 0 and "field 'severity'" in bad.stdout + bad.stderr
    assert es.count(index=names.watchlists)["count"] == 4  # karabakh seeded + sochi v1..v3


def test_two_edits_of_one_version_cannot_both_land(es: Elasticsearch, names: IndexNames) -> None:
    from news_ingest.alerting import watchlist_store
    from news_ingest.configfile import ConfigError
    from news_ingest.es import indices

    indices.install(es, names.prefix)
    watchlist_store.seed(es, names, PROJECT_ROOT / "include" / "config")
    karabakh = watchlist_store.get(es, names, "karabakh").watchlist
    watchlist_store.save(es, names, karabakh, version=2, changed_by="a", change="one")
    with pytest.raises(ConfigError, match="version 2 was stored by someone else"):
        watchlist_store.save(es, names, karabakh, version=2, changed_by="b", change="two")
    assert [v.changed_by for v in watchlist_store.history(es, names, "karabakh")][1:] == ["a"]
    assert watchlist_store.seed(es, names, PROJECT_ROOT / "include" / "config") == []


def test_a_digest_watchlist_gets_one_message_per_period(
    sputnik_site: FixtureSite,
    receiver: Receiver,
    alert_config: dict[str, str],
    es: Elasticsearch,
    names: IndexNames,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = Path(alert_config["NEWS_INGEST_CONFIG_DIR"]) / "watchlists.yaml"
    data = yaml.safe_load(config.read_text("utf-8"))
    next(w for w in data["watchlists"] if w["id"] == "karabakh")["delivery"] = "hourly"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    feed = sputnik_site.url(FEED_PATH)
    run_cli("run", "--source", "sputnik_arabic", "--feed", feed, env=alert_config)
    assert receiver.received == []  # this hour's alerts wait for the digest
    stored = json.loads(run_cli("alerts", "--json", env=alert_config).stdout)
    assert len(stored) == len(KARABAKH_FILES) and not any(row["notified"] for row in stored)

    monkeypatch.setenv("NEWS_INGEST_CONFIG_DIR", alert_config["NEWS_INGEST_CONFIG_DIR"])
    get_settings.cache_clear()
    next_hour = datetime.now(UTC) + timedelta(hours=1)
    counts = pipeline.notify_pending(get_settings(), es, now=next_hour)
    assert counts == {"digests_sent": 1, "digest_alerts": len(KARABAKH_FILES)}
    (message,) = receiver.received
    assert message["digest"] == "hourly"
    assert sorted(s["url"] for s in message["stories"]) == sorted(row["url"] for row in stored)
    assert pipeline.notify_pending(get_settings(), es, now=next_hour) == {}
    assert len(receiver.received) == 1
    delivered = json.loads(run_cli("alerts", "--json", env=alert_config).stdout)
    assert all(row["notified"] for row in delivered)
