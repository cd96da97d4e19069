"""`make demo`: local mode plus a news site on 127.0.0.1, so the views show data offline.

The site serves a few dozen Sputnik-layout articles: the Arabic and English fixture pages
(the Putin-Macron Karabakh article among them), generated Arabic ones, and short English,
French and Russian ones (``demo_articles.yaml``), with feed dates moved to the last hours so
the feeds look live, plus one section feed that answers 503 (feed health has a failing
feed to show). A ``demo_sputnik`` source pointing at the site exists only in a config folder
written at start under the state folder, never in ``include/config/sources.yaml``; the
demo keeps its own index prefix, staging folder and Airflow home, apart from `make run`'s.
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from news_ingest.local.fixturesite import (
    SPUTNIK_FIXTURES,
    FeedItem,
    FixtureSite,
    SiteSpec,
    encode_page,
    generate_articles,
    render_article,
    text_page,
)
from news_ingest.local.standalone import Standalone
from news_ingest.settings import PROJECT_ROOT

SOURCE_ID = "demo_sputnik"
INDEX_PREFIX = "demo"
ARCHIVE_FEED = "/export/rss2/archive/index.xml"
BROKEN_FEED = "/export/rss2/politics/index.xml"
GENERATED_PAGES = 16
# Feed dates: the newest article 10 minutes old, then one every 40 minutes.
SPACING = timedelta(minutes=40)
TEXTS = Path(__file__).with_name("demo_articles.yaml")
STARTUP_TIMEOUT = 900


@dataclass(frozen=True)
class DemoPage:
    path: str
    title: str
    section: str


def _fixture_pages(site: FixtureSite) -> list[DemoPage]:
    manifest: list[dict[str, Any]] = json.loads(
        (SPUTNIK_FIXTURES / "articles.json").read_text("utf-8")
    )["articles"]
    pages = []
    for article in manifest:
        charset = article["encoding"]
        site.add(
            article["path"],
            (SPUTNIK_FIXTURES / article["file"]).read_bytes(),
            content_type=f"text/html; charset={charset}",
        )
        if not article["copy_of"]:
            pages.append(DemoPage(article["path"], article["title"], article["section"]))
    return pages


def _generated_pages(site: FixtureSite) -> list[DemoPage]:
    spec = SiteSpec(pages=GENERATED_PAGES, feeds=1, seed=14, min_bytes=20_000, max_bytes=40_000)
    pages = []
    for article in generate_articles(spec):
        body, content_type = encode_page(article, render_article(article, spec))
        site.add(article.path, body, content_type=content_type)
        pages.append(DemoPage(article.path, article.title, article.section))
    return pages


def _written_pages(site: FixtureSite) -> list[DemoPage]:
    texts = yaml.safe_load(TEXTS.read_text("utf-8"))["articles"]
    pages = []
    for number, text in enumerate(texts):
        article_id = 1_300_000_000 + number
        path = f"/demo/{text['language']}/{article_id}.html"
        page = text_page(
            text["title"],
            text["lede"],
            text["body"],
            language=text["language"],
            article_id=article_id,
        )
        site.add(path, page)
        pages.append(DemoPage(path, text["title"], text["section"]))
    return pages


def serve_demo(site: FixtureSite, now: datetime) -> list[str]:
    """Serve the demo's pages and feeds on ``site`` (started); returns the feed URLs."""
    pages = [*_fixture_pages(site), *_written_pages(site), *_generated_pages(site)]
    items = [
        FeedItem(
            link=site.url(page.path),
            title=page.title,
            published=now - timedelta(minutes=10) - number * SPACING,
            categories=(page.section,),
        )
        for number, page in enumerate(pages)
    ]
    site.add_feed(ARCHIVE_FEED, items, title="Sputnik (demo)")
    site.add(BROKEN_FEED, status=503)
    return [site.url(ARCHIVE_FEED), site.url(BROKEN_FEED)]


def write_config(folder: Path, feed_urls: list[str]) -> Path:
    """The project's topics and watchlists, and a sources.yaml with only the demo source."""
    if folder.exists():
        shutil.rmtree(folder)
    config = PROJECT_ROOT / "include" / "config"
    folder.mkdir(parents=True)
    for name in ("topics.yaml", "watchlists.yaml"):
        shutil.copy(config / name, folder / name)
    source = {
        "id": SOURCE_ID,
        "name": "Sputnik (demo site on 127.0.0.1)",
        "language": "ar",
        "poll_minutes": 5,
        "profile": "sputnik",
        "feeds": feed_urls,
    }
    (folder / "sources.yaml").write_text(
        "# Written by `make demo` at start; the production sources are include/config.\n"
        + yaml.safe_dump({"sources": [source]}, allow_unicode=True),
        "utf-8",
    )
    return folder


@contextmanager
def demo_site() -> Iterator[tuple[FixtureSite, list[str]]]:
    site = FixtureSite()
    site.start()
    try:
        yield site, serve_demo(site, datetime.now(UTC))
    finally:
        site.stop()


def demo_env(config_dir: Path, staging: Path) -> Mapping[str, str]:
    return {
        "NEWS_INGEST_STAGING_URL": staging.as_uri(),
        # standalone starts the scheduler with the API server, which takes minutes on a
        # busy small machine: tasks started before it is up die and wait a retry delay. The
        # demo DAG starts paused and is unpaused once the API server answers (run).
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "NEWS_INGEST_CONFIG_DIR": str(config_dir),
        "NEWS_INGEST_INDEX_PREFIX": INDEX_PREFIX,
        # The demo site is on loopback, which the SSRF guard refuses otherwise.
        "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "true",
    }


def fresh_start(folder: Path) -> tuple[Path, Path]:
    """The demo's Airflow home and staging folder, without the last demo's metadata DB and
    staged batches (they point at a site that is gone); the logins stay."""
    home, staging = folder / "airflow", folder / "staging"
    (home / "airflow.db").unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    return home, staging


def run(state_dir: Path, port: int, parallelism: int) -> int:
    """Serve the site and run ``airflow standalone`` until Ctrl-C (or SIGTERM)."""
    with demo_site() as (site, feed_urls):
        config_dir = write_config(state_dir / "demo" / "config", feed_urls)
        print(f"demo site: {site.base_url} (source {SOURCE_ID}, config {config_dir})", flush=True)
        home, staging = fresh_start(state_dir / "demo")
        airflow = Standalone(home, dict(demo_env(config_dir, staging)), parallelism, port)
        print(airflow.command.describe(), flush=True)
        print(f"Airflow's output: {airflow.log_path}; starting (a few minutes here)", flush=True)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            airflow.start(timeout=STARTUP_TIMEOUT)
            airflow.wait_for_dag(SOURCE_ID, timeout=STARTUP_TIMEOUT)
            airflow.unpause(SOURCE_ID)
            print(f"{SOURCE_ID} unpaused, its first run starts now", flush=True)
            print(f"views: {airflow.command.url}/news-ingest/search", flush=True)
            assert airflow.process is not None
            return airflow.process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            airflow.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
