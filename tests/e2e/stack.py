"""The stack the browser tests drive: a real ``airflow api-server`` with the plugin loaded,
over the real local node holding articles that ``news-ingest run`` ingested from the
loopback fixture site. Also runnable by hand: ``python -m tests.e2e.stack`` starts it and
prints the URL and logins until Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml
from playwright.sync_api import Page

from news_ingest.crawl.urls import canonicalize_url, document_id
from news_ingest.es import store
from news_ingest.es.indices import IndexNames, drop_all
from news_ingest.local import localmode
from news_ingest.local.fixturesite import FeedItem, FixtureSite, redesigned, text_page
from news_ingest.local.standalone import free_port
from news_ingest.settings import PROJECT_ROOT, Settings
from tests.conftest import FEED_PATH, SPUTNIK, Receiver, originals, serve_sputnik
from tests.integration.conftest import run_cli

BROKEN_FEED = "/export/rss2/politics/index.xml"
REDESIGNED_FEED = "/redesigned/export/rss2/archive/index.xml"
SCRIPT_PATH = "/20240101/script-in-title-1200000001.html"
SCRIPT_TITLE = "<script>window.__pwned = true</script> A headline that quotes markup"
SEED_FILE = "putin-macron-karabakh.html"


@dataclass
class Stack:
    url: str  # the API server's root, e.g. http://127.0.0.1:PORT
    env: dict[str, str]
    site: FixtureSite
    receiver: Receiver
    logins: dict[str, str]
    names: IndexNames
    seed_id: str
    script_id: str

    @property
    def views(self) -> str:
        return f"{self.url}/news-ingest"


def serve_fixtures(site: FixtureSite) -> None:
    """Sputnik's fixture pages, an article whose text is markup, a feed that answers 500,
    and the Arabic fixture pages again after a redesign, under their own feed."""
    script_page = text_page(
        SCRIPT_TITLE,
        "A lede that says <b>bold</b> and <img src=x onerror=alert(1)> in plain words.",
        [
            "The body also carries <script>window.__pwned = true</script> as text, which "
            "the views must print, not run, whatever the page or the search shows.",
            "A second paragraph keeps the body above the minimum length for an article.",
        ],
        language="en",
        article_id=1_200_000_001,
    )
    site.add(SCRIPT_PATH, script_page)
    script_item = FeedItem(link=site.url(SCRIPT_PATH), title=SCRIPT_TITLE, published=None)
    serve_sputnik(site, extra_items=[script_item])
    site.add(BROKEN_FEED, status=500)
    items = []
    for article in originals():
        if article["language"] != "ar" or article["encoding"] != "utf-8":
            continue
        path = "/redesigned" + article["path"]
        site.add(path, redesigned((SPUTNIK / article["file"]).read_text("utf-8")))
        items.append(
            FeedItem(
                link=site.url(path),
                title=article["title"],
                published=datetime.fromisoformat(article["published_at"]),
            )
        )
    site.add_feed(REDESIGNED_FEED, items)


def write_config(folder: Path, site: FixtureSite, receiver: Receiver) -> Path:
    shutil.copytree(PROJECT_ROOT / "include" / "config", folder)
    data = yaml.safe_load((folder / "watchlists.yaml").read_text("utf-8"))
    karabakh = next(w for w in data["watchlists"] if w["id"] == "karabakh")
    karabakh["channels"] = [{"type": "log"}, {"type": "webhook", "url": receiver.url}]
    (folder / "watchlists.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    common = {"language": "ar", "poll_minutes": 60, "profile": "sputnik"}
    sources = [
        {
            "id": "fixture_sputnik",
            "name": "Sputnik fixtures",
            "feeds": [site.url(FEED_PATH), site.url(BROKEN_FEED)],
            **common,
        },
        {
            "id": "fixture_redesigned",
            "name": "Sputnik fixtures after a redesign",
            "feeds": [site.url(REDESIGNED_FEED)],
            **common,
        },
    ]
    (folder / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}), "utf-8")
    return folder


def sign_in(page: Page, url: str, user: str, password: str) -> None:
    """Through the login page of Airflow's simple auth manager (local mode's)."""
    page.goto(f"{url}/auth/login?next={quote(url + '/news-ingest/search', safe='')}")
    page.get_by_label(re.compile("user ?name", re.I)).fill(user)
    page.get_by_label(re.compile("password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.wait_for_url(re.compile("/news-ingest/"))


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow api-server exited:\n{log.read_text()[-5000:]}")
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"airflow api-server not up after 300 s:\n{log.read_text()[-5000:]}")


@contextmanager
def running_stack(workdir: Path) -> Iterator[Stack]:
    prefix = f"e2e-{uuid.uuid4().hex[:10]}"
    receiver = Receiver()
    receiver.failing = True  # the first delivery fails: the alerts page offers a retry
    site = FixtureSite()
    site.start()
    serve_fixtures(site)
    env = {
        **os.environ,
        "NEWS_INGEST_INDEX_PREFIX": prefix,
        "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "true",
        "NEWS_INGEST_STAGING_URL": (workdir / "staging").as_uri(),
        "NEWS_INGEST_FETCH_RETRIES": "1",
        # The fixtures are archive articles (2018-2022): no feed is stale for these tests.
        "NEWS_INGEST_HEALTH_MAX_LAG_HOURS": str(24 * 365 * 30),
        "NEWS_INGEST_CONFIG_DIR": str(write_config(workdir / "config", site, receiver)),
    }
    process = None
    try:
        for source in ("fixture_sputnik", "fixture_redesigned"):
            run_cli("run", "--source", source, env=env)
        home = workdir / "airflow"
        port = free_port()
        passwords_file = home / "passwords.json"
        logins = localmode.passwords(passwords_file)
        env.update(localmode.airflow_env(home, passwords_file, port, parallelism=1))
        env["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_urlsafe(32)
        airflow = localmode.airflow_binary()
        subprocess.run(
            [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
        )
        log = workdir / "api-server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [airflow, "api-server", "--port", str(port), "--workers", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process, log)
        seed = next(a for a in originals() if a["file"] == SEED_FILE)
        yield Stack(
            url=url,
            env=env,
            site=site,
            receiver=receiver,
            logins=logins,
            names=IndexNames(prefix),
            seed_id=document_id(canonicalize_url(site.url(seed["path"]))),
            script_id=document_id(canonicalize_url(site.url(SCRIPT_PATH))),
        )
    finally:
        if process is not None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        site.stop()
        receiver.server.shutdown()
        drop_all(store.connect(Settings(index_prefix=prefix)), prefix)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch, running_stack(Path(scratch)) as stack:
        print(json.dumps({"url": stack.views, "logins": stack.logins, "seed": stack.seed_id}))
        sys.stdout.flush()
        with suppress(KeyboardInterrupt):
            signal.pause()
