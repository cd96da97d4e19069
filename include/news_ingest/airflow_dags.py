"""Builds one Airflow DAG per source; the DAG only wires ``news_ingest.pipeline`` steps.

Shape of a run (mapped over batches of ``NEWS_INGEST_BATCH_SIZE`` entries, never one task
per article, so a backfill of thousands of articles stays far below ``max_map_length``):

    plan ──> fetch[batch] ──> index[batch] ──┐
    pending ──────────────> index_pending ───┴──> notify ──> report

fetch extracts each page in a process pool as it arrives and stages documents; index only
writes them, so an Elasticsearch outage makes index retry from the staged file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from news_ingest.failures import OpsFailureNotifier
from news_ingest.sources import Source

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch
    from news_ingest.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "news-ingest",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "on_failure_callback": [OpsFailureNotifier()],
}


def _run_id() -> str:
    return str(get_current_context()["run_id"])


@contextmanager
def _source_lease(
    source: Source, settings: Settings, es: Elasticsearch, *, release: bool = False
) -> Iterator[None]:
    """Every task of a DAG run holds the source's run lease under one owner (the DAG run),
    so a CLI run or a backfill of the same source waits; the last task frees it."""
    from news_ingest.es import leases
    from news_ingest.es.indices import IndexNames

    with leases.holding(
        es,
        IndexNames(settings.index_prefix),
        source.id,
        f"airflow:{source.id}:{_run_id()}",
        ttl=settings.run_lease_seconds,
        wait=settings.run_lease_wait,
        release=release,
    ):
        yield


def build_source_dag(source: Source) -> DAG:
    @dag(
        dag_id=source.id,
        description=f"Ingest {source.name} ({len(source.feeds)} feeds) into Elasticsearch",
        schedule=timedelta(minutes=source.poll_minutes),
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        on_failure_callback=[OpsFailureNotifier()],
        tags=["news-ingest", f"lang:{source.language}"],
        params={
            "feeds": Param(
                [],
                type="array",
                description="Poll these feed URLs instead of the configured ones "
                "(e.g. an archive page for a backfill). Empty: the source's feeds.",
            )
        },
        doc_md=__doc__,
    )
    def source_dag() -> None:
        @task
        def plan() -> list[str]:
            from news_ingest import pipeline, staging
            from news_ingest.es import indices, store
            from news_ingest.settings import get_settings

            settings = get_settings()
            feeds = get_current_context()["params"].get("feeds") or source.feed_urls
            es = store.connect(settings)
            indices.install(es, settings.index_prefix)
            folder = staging.run_folder(settings.staging_base, source.id, _run_id())
            try:
                with _source_lease(source, settings, es):
                    paths, counts = pipeline.plan(source, feeds, settings, es, folder)
            except pipeline.FeedsUnreachable as exc:
                # No retries: they would hold the DAG (one active run) for many minutes,
                # manual and backfill runs waiting behind it; the next scheduled run is
                # the retry.
                raise AirflowFailException(str(exc)) from exc
            log.info("planned %d batch(es): %s", len(paths), counts)
            return paths

        @task
        def fetch(entries_path: str) -> dict[str, Any]:
            from news_ingest import pipeline
            from news_ingest.alerting import watchlist_store
            from news_ingest.es import indices, store
            from news_ingest.settings import get_settings

            settings = get_settings()
            names = indices.IndexNames(settings.index_prefix)
            es = store.connect(settings)
            with _source_lease(source, settings, es), pipeline.extraction_pool(settings) as pool:
                watchlists = watchlist_store.snapshot(es, names, settings.config_dir)
                docs_path, counts = pipeline.fetch(entries_path, settings, pool, watchlists)
            log.info("fetched and extracted %s: %s", docs_path, counts)
            return {"docs_path": docs_path, "counts": counts}

        @task
        def pending() -> list[str]:
            from news_ingest import pipeline
            from news_ingest.es import store
            from news_ingest.settings import get_settings

            settings = get_settings()
            with _source_lease(source, settings, store.connect(settings)):
                paths = pipeline.pending_batches(settings, source.id, _run_id())
            log.info("%d document batch(es) left by earlier runs", len(paths))
            return paths

        @task
        def index(docs_path: str) -> dict[str, int]:
            from news_ingest import pipeline
            from news_ingest.es import store
            from news_ingest.settings import get_settings

            settings = get_settings()
            es = store.connect(settings)
            with _source_lease(source, settings, es):
                counts = pipeline.index(
                    docs_path, settings, es, source_id=source.id, run_id=_run_id()
                )
            log.info("indexed %s: %s", docs_path, counts)
            return counts

        @task(trigger_rule="all_done")
        def notify() -> dict[str, int]:
            """Runs even when a batch failed: alerts stored by the others still go out.
            The run's last task with Elasticsearch, so it frees the source's lease."""
            from news_ingest import pipeline
            from news_ingest.es import store
            from news_ingest.settings import get_settings

            settings = get_settings()
            es = store.connect(settings)
            with _source_lease(source, settings, es, release=True):
                return pipeline.notify_pending(settings, es)

        @task(trigger_rule="none_failed")
        def report(
            fetched: list[dict[str, Any]],
            indexed: list[dict[str, int]],
            recovered: list[dict[str, int]],
            delivery: dict[str, int],
        ) -> dict[str, int]:
            from news_ingest import pipeline

            counts = pipeline.merge_counts(
                [f["counts"] for f in fetched] + list(indexed) + list(recovered) + [delivery]
            )
            log.info("run summary for %s: %s", source.id, counts)
            return counts

        fetched = fetch.expand(entries_path=plan())
        indexed = index.expand(docs_path=fetched.map(lambda result: result["docs_path"]))
        recovered = index.override(task_id="index_pending").expand(docs_path=pending())
        delivery = notify()
        [indexed, recovered] >> delivery
        # TaskFlow hands the mapped results over as lists at run time.
        report(fetched, indexed, recovered, delivery)  # type: ignore[arg-type]

    return source_dag()
