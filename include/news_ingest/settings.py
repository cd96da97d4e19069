"""Runtime configuration, read from ``NEWS_INGEST_*`` environment variables.

One object holds every knob so the CLI, the DAGs and the tests agree on defaults; the
README's configuration table lists the same names.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_state_dir() -> Path:
    # The local Elasticsearch node runs as an unprivileged user when we are root, and
    # /root is not traversable by that user, so root keeps node state under /var/lib.
    if os.geteuid() == 0:
        return Path("/var/lib/news-ingest")
    xdg = os.environ.get("XDG_STATE_HOME")
    return Path(xdg) / "news-ingest" if xdg else Path.home() / ".local/state/news-ingest"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWS_INGEST_", extra="ignore")

    es_url: str | None = Field(
        default=None, description="Elasticsearch URL; unset means the local node."
    )
    es_user: str | None = None
    es_password: str | None = None
    es_api_key: str | None = None
    es_ca_certs: Path | None = None
    es_port: int = Field(default=9200, description="HTTP port of the local node.")
    es_heap: str = Field(default="1g", description="Heap of the local node (-Xms/-Xmx).")
    es_version: str = Field(default="9.5.4", description="Version of the local node.")
    index_prefix: str = Field(default="news", pattern=r"^[a-z0-9][a-z0-9_.-]*$")

    state_dir: Path = Field(default_factory=_default_state_dir)
    config_dir: Path = PROJECT_ROOT / "include" / "config"
    staging_url: str | None = Field(
        default=None,
        description="Where batches (entries, extracted documents) are staged (file://, s3://...); "
        "defaults to <state_dir>/staging.",
    )

    ops_webhook_url: str | None = Field(
        default=None, description="Failed tasks and DAG runs are POSTed here as JSON."
    )

    health_max_lag_hours: float = Field(
        default=48.0, description="Feed health flags a feed whose newest entry is older."
    )
    health_drift: float = Field(
        default=0.25,
        description="Feed health flags a source whose share of badly extracted pages rose this "
        "much over its 7-day baseline.",
    )

    allow_private_hosts: bool = False
    user_agent: str = "news-ingest/0.1 (+https://github.com/news-ingest/news-ingest)"
    fetch_timeout: float = Field(
        default=20.0, description="Seconds a connection may stay silent (per read)."
    )
    fetch_deadline: float = Field(
        default=60.0,
        description="Seconds one request may take in all (connect, headers and body): a "
        "server that drips bytes resets the read timeout, never this.",
    )
    max_page_bytes: int = 5_000_000
    max_feed_bytes: int = Field(
        default=50_000_000,
        description="Cap of a feed or sitemap, after gzip (the sitemap protocol's 50 MB).",
    )
    max_redirects: int = 5
    per_host_concurrency: int = 4
    fetch_concurrency: int = 16
    fetch_retries: int = 3
    batch_size: int = 200
    extract_workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    airflow_parallelism: int = Field(
        default_factory=lambda: max(2, os.cpu_count() or 1),
        description="Task processes of local mode's LocalExecutor.",
    )
    # Learned boilerplate of sources without a profile (extract.boilerplate).
    boilerplate_threshold: float = Field(
        default=0.5, gt=0, le=1, description="Share of a source's recent pages a line must exceed."
    )
    boilerplate_min_pages: int = Field(
        default=20, ge=1, description="Pages counted before anything is dropped."
    )
    boilerplate_window: int = Field(
        default=200, ge=2, description="Pages after which every count is halved."
    )
    boilerplate_max_lines: int = Field(
        default=2000, ge=1, description="Line hashes kept per source."
    )

    alert_lease_seconds: float = Field(
        default=120.0,
        description="How long a claimed alert delivery is held before another process may "
        "take it over (longer than the slowest channel with its retries).",
    )
    run_lease_seconds: float = Field(
        default=300.0,
        description="Life of a source's run lease; the run renews it every third of that. "
        "A run that died frees its source after this long.",
    )
    run_lease_wait: float = Field(
        default=60.0,
        description="How long a run waits for another run of the same source to finish "
        "before it stops with a message naming that run.",
    )
    dag_lease_wait: float = Field(
        default=1800.0,
        description="How long a DAG task waits for another run of its source, rescheduled "
        "every 15 s (it holds no worker slot meanwhile), before it fails into Airflow's "
        "retries. Longer than run_lease_wait: nobody sits at a terminal for it, and a "
        "backfill's intervals queue behind each other and the polls.",
    )
    alert_max_attempts: int = Field(
        default=10, description="Delivery attempts of an alert before it stays failed."
    )

    stories: bool = Field(
        default=True,
        description="Near-duplicate detection: fingerprints, story ids, <prefix>-stories.",
    )
    story_window_hours: float = Field(
        default=72.0, gt=0, description="How far apart in time two members of a story may be."
    )
    story_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Estimated Jaccard similarity of the shingles that confirms a candidate.",
    )
    # Off by default: precision on the labelled set is printed by bench/crosslingual.py, and
    # a set of 23 hand-written articles is too small to trust a link in production unseen.
    cross_lingual: bool = Field(
        default=False,
        description="Link stories of one publisher across languages (shared figures and names).",
    )
    cross_lingual_hours: float = Field(
        default=12.0, gt=0, description="How far apart in time two linked tellings may be."
    )

    @property
    def staging_base(self) -> str:
        return self.staging_url or (self.state_dir / "staging").as_uri()


@cache
def get_settings() -> Settings:
    return Settings()
