"""Watchlist alerts end to end: ingest -> alerts stored -> webhook delivered exactly once."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from elasticsearch import Elasticsearch
from news_ingest.fixturesite import FixtureSite
from news_ingest.indices import IndexNames
from news_ingest.settings import PROJECT_ROOT
from tests.conftest import FEED_PATH
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration

KARABAKH_FILES = {
    "putin-macron-karabakh.html",
    "russian-peacekeepers-karabakh.html",
    "sochi-trilateral-meeting-flash.html",
}


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records POSTs and can be switched to fail."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.failing = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 503 if receiver.failing else 204
                if not receiver.failing:
                    receiver.received.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def alert_config(tmp_path: Path, receiver: Receiver) -> dict[str, str]:
    """The project's config with the karabakh watchlist delivering to the receiver."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "include" / "config", config)
    data = yaml.safe_load((config / "watchlists.yaml").read_text("utf-8"))
    karabakh = next(w for w in data["watchlists"] if w["id"] == "karabakh")
    karabakh["channels"] = [{"type": "webhook", "url": receiver.url}, {"type": "log"}]
    (config / "watchlists.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return {"NEWS_INGEST_CONFIG_DIR": str(config)}


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


def test_watchlist_test_explains_a_match() -> None:
    hit = run_cli("watchlist", "test", "karabakh", "وصل الوفد إلى ستيباناكيرت في ناغورني-قرة باغ")
    assert "MATCH" in hit.stdout
    miss = run_cli("watchlist", "test", "karabakh", "قرة عين لأهل بغداد", check=False)
    assert miss.returncode == 1 and "no match" in miss.stdout
