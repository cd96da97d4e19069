"""Shared fixtures: the Sputnik fixture pages and a loopback site serving them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter

from news_ingest.local.fixturesite import FeedItem, FixtureSite, running_site

FIXTURES = Path(__file__).parent / "fixtures"
SPUTNIK = FIXTURES / "sites" / "sputnik"
FEED_PATH = "/export/rss2/archive/index.xml"


def sputnik_manifest() -> list[dict[str, Any]]:
    articles: list[dict[str, Any]] = json.loads((SPUTNIK / "articles.json").read_text("utf-8"))[
        "articles"
    ]
    return articles


def originals() -> list[dict[str, Any]]:
    """The distinct articles (re-encoded copies share an original's text)."""
    return [a for a in sputnik_manifest() if not a["copy_of"]]


def serve_sputnik(site: FixtureSite, *, extra_items: list[FeedItem] | None = None) -> None:
    """Serve every fixture page plus an archive feed listing the distinct articles."""
    for article in sputnik_manifest():
        charset = article["encoding"]
        site.add(
            article["path"],
            (SPUTNIK / article["file"]).read_bytes(),
            content_type=f"text/html; charset={charset}",
        )
    items = [
        FeedItem(
            link=site.url(a["path"]),
            title=a["title"],
            published=datetime.fromisoformat(a["published_at"]),
            categories=(a["section"],),
        )
        for a in originals()
    ]
    site.add_feed(FEED_PATH, [*items, *(extra_items or [])])


@pytest.fixture
def sputnik_site() -> Iterator[FixtureSite]:
    with running_site() as site:
        serve_sputnik(site)
        yield site


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records POSTs and can be switched to fail.

    ``on_post`` is called with the number of POSTs recorded so far, after recording one and
    before answering it: a test can kill the sender at that moment.
    """

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.arrivals: list[datetime] = []
        self.headers: list[dict[str, str]] = []
        self.failing = False
        self.on_post: Callable[[int], None] | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 503 if receiver.failing else 204
                if not receiver.failing:
                    with receiver._lock:
                        receiver.received.append(json.loads(body))
                        receiver.arrivals.append(datetime.now(UTC))
                        receiver.headers.append(dict(self.headers.items()))
                        count = len(receiver.received)
                    if receiver.on_post is not None:
                        receiver.on_post(count)
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


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Show every fault and count test's exact count line (``… lost=0 duplicated=0``) at
    the end of the run, passed or failed, so CI's log carries the figures."""
    reports = [
        report
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "") == "call"
    ]
    lines = [
        f"{report.nodeid.split('::')[-1]}: {line.strip()}"
        for report in reports
        for line in report.capstdout.splitlines()
        if "lost=" in line and "duplicated=" in line
    ]
    if lines:
        terminalreporter.section("count lines")
        for line in lines:
            terminalreporter.write_line(line)
