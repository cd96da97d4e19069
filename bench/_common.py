"""Helpers shared by the benchmarks: a generated news site in its own process, a scratch
index namespace on the real node, page records as the pipeline stages them, tables.

The site runs in a child process so that serving 100 KB pages costs the measured process
nothing but what a remote site would (its CPU still competes for the machine's cores, which
every figure printed here says).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar

import psutil
import yaml

from elasticsearch import Elasticsearch
from news_ingest.crawl.fetcher import Page
from news_ingest.crawl.urls import canonicalize_url
from news_ingest.es import indices, store
from news_ingest.local.fixturesite import SiteSpec, encode_page, generate_articles, render_article
from news_ingest.settings import PROJECT_ROOT, Settings, get_settings
from news_ingest.sources import Source

T = TypeVar("T")


@dataclass
class ServedSite:
    spec: SiteSpec
    base_url: str
    feeds: list[str]
    sitemap: str  # the date-range sitemap's URL template
    pid: int
    _stdin: IO[str]
    _stdout: IO[str]

    def requests(self) -> int:
        """How many requests the site has answered so far."""
        self._stdin.write("requests\n")
        self._stdin.flush()
        answer: dict[str, int] = json.loads(self._stdout.readline())
        return answer["requests"]


@contextmanager
def served_site(spec: SiteSpec) -> Iterator[ServedSite]:
    """``python -m news_ingest.local.fixturesite`` in a child process, stopped on exit."""
    command = [
        sys.executable,
        "-m",
        "news_ingest.local.fixturesite",
        f"--pages={spec.pages}",
        f"--feeds={spec.feeds}",
        f"--seed={spec.seed}",
        f"--latency={spec.latency}",
        f"--spacing-minutes={spec.spacing_minutes}",
        *([f"--feed-items={spec.feed_items}"] if spec.feed_items is not None else []),
    ]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        info = json.loads(child.stdout.readline())
        yield ServedSite(
            spec,
            info["base_url"],
            info["feeds"],
            info["sitemap"],
            child.pid,
            child.stdin,
            child.stdout,
        )
    finally:
        child.stdin.close()
        child.wait(timeout=30)


@contextmanager
def scratch_settings(**extra: str) -> Iterator[Settings]:
    """Settings with a private index prefix and staging folder, removed afterwards."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="news-bench-") as staging:
        env = {
            "NEWS_INGEST_INDEX_PREFIX": prefix,
            "NEWS_INGEST_STAGING_URL": Path(staging).as_uri(),
            "NEWS_INGEST_ALLOW_PRIVATE_HOSTS": "true",
            **extra,
        }
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        get_settings.cache_clear()
        settings = get_settings()
        try:
            yield settings
        finally:
            drop_indices(store.connect(settings), prefix)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()


def drop_indices(es: Elasticsearch, prefix: str) -> None:
    existing = es.indices.get(index=f"{prefix}-*", expand_wildcards="all")
    if existing:
        es.indices.delete(index=",".join(existing))
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-*")


def connect_and_install(settings: Settings) -> Elasticsearch:
    es = store.connect(settings)
    indices.install(es, settings.index_prefix)
    return es


def bench_source(feeds: Sequence[str]) -> Source:
    return Source.model_validate(
        {
            "id": "bench",
            "name": "generated Sputnik-layout site",
            "feeds": list(feeds),
            "language": "ar",
            "poll_minutes": 15,
            "profile": "sputnik",
        }
    )


def page_records(spec: SiteSpec, base_url: str) -> list[tuple[dict[str, Any], Page]]:
    """The generated pages as ``pipeline.fetch`` hands them to extraction: (entry, page)."""
    records = []
    for article in generate_articles(spec):
        url = base_url + article.path
        body, content_type = encode_page(article, render_article(article, spec))
        entry = {
            "url": url,
            "canonical_url": canonicalize_url(url),
            "feed_url": base_url,
            "title": article.title,
            "published_at": article.published.isoformat(),
            "categories": [article.section],
            "authors": [],
            "source": "bench",
            "profile": "sputnik",
        }
        page = Page(url, url, 200, content_type, body, article.published)
        records.append((entry, page))
    return records


def timed(func: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def print_table(title: str, rows: Sequence[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    print("-" * len(title))
    for name, value in rows:
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown}")


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"


def quiet_logs() -> None:
    """Errors only: a benchmark prints its table, not the pipeline's log lines (nor the
    alerts of the ``log`` channel). Airflow's SDK configures logging when first imported,
    so it is imported before quieting."""
    import airflow.sdk  # noqa: F401

    logging.getLogger().setLevel(logging.ERROR)
    for name in ("news_ingest", "elastic_transport", "httpx", "airflow"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass
class CpuMeter:
    """Where the core-seconds of a run went: this process, the Elasticsearch node, the site,
    idle, and the rest (the pool's workers, children of the forkserver, not ours to time)."""

    site_pid: int
    used: dict[str, float] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)
    _wall: float = 0.0

    def _now(self) -> dict[str, float]:
        times = psutil.Process().cpu_times()
        java = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "java"]
        return {
            "pipeline process": times.user + times.system,
            "Elasticsearch node": sum(sum(p.cpu_times()[:2]) for p in java),
            "fixture site": sum(psutil.Process(self.site_pid).cpu_times()[:2]),
            "idle": psutil.cpu_times().idle,
        }

    def __enter__(self) -> CpuMeter:
        self._start, self._wall = self._now(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        capacity = (time.perf_counter() - self._wall) * (os.cpu_count() or 1)
        self.used = {k: v - self._start[k] for k, v in self._now().items()}
        self.used["extraction workers and the rest"] = capacity - sum(self.used.values())


@contextmanager
def fresh_indices(es: Elasticsearch) -> Iterator[indices.IndexNames]:
    """Templates and empty indices under a new prefix, removed on exit."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    indices.install(es, prefix)
    try:
        yield indices.IndexNames(prefix)
    finally:
        drop_indices(es, prefix)


def analyze_all(
    pool: Executor, records: list[tuple[dict[str, Any], Page]], settings: Settings
) -> list[dict[str, Any]]:
    """``analyze_page`` over every (entry, page) through ``pool``: the extraction bound."""
    from news_ingest.extract.articles import analyze_page

    analyze = partial(analyze_page, config_dir=str(settings.config_dir))
    entries, pages = zip(*records, strict=True)
    return list(pool.map(analyze, entries, pages, chunksize=8))


def analyzed_documents(
    records: list[tuple[dict[str, Any], Page]], settings: Settings
) -> list[dict[str, Any]]:
    """Article documents as the index step hands them to the store (pool, all cores)."""
    from news_ingest import pipeline
    from news_ingest.extract.articles import LINE_HASHES

    with pipeline.extraction_pool(settings) as pool:
        docs = [d for d in analyze_all(pool, records, settings) if "rejected" not in d]
    for doc in docs:
        del doc[LINE_HASHES]
    return docs


def config_with_sources(folder: Path, sources: list[dict[str, Any]]) -> Path:
    """A copy of include/config whose sources.yaml lists ``sources``."""
    shutil.copytree(PROJECT_ROOT / "include" / "config", folder, dirs_exist_ok=True)
    (folder / "sources.yaml").write_text(
        yaml.safe_dump({"sources": sources}, allow_unicode=True), "utf-8"
    )
    return folder


def source_entry(source_id: str, feeds: Sequence[str]) -> dict[str, Any]:
    return {
        "id": source_id,
        "name": f"generated site {source_id}",
        "feeds": list(feeds),
        "language": "ar",
        "poll_minutes": 15,
        "profile": "sputnik",
    }


def airflow_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """Environment for an Airflow child process with a scratch home and SQLite DB."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        **extra,
    }
