"""Builds one Airflow DAG per source; the DAG only wires ``news_ingest.pipeline`` steps.

Each source has two DAGs: ``<id>`` polls the feeds every ``poll_minutes``, and
``<id>_daily`` sweeps yesterday's sitemaps once a day (what the feeds missed, and the feeds'
coverage). A backfill run of either (``airflow backfill create``) ingests the articles
published in its data interval, from the sitemaps and whatever the feeds still list.

Shape of a run (mapped over batches of ``NEWS_INGEST_BATCH_SIZE`` entries, never one task
per article, so a backfill of thousands of articles stays far below ``max_map_length``):

    plan ──> fetch[batch] ──> index[batch] ──┐
    pending ──────────────> index_pending ───┴──> notify ──> report

fetch extracts each page in a process pool as it arrives and stages documents; index only
writes them, so an Elasticsearch outage makes index retry from the staged file.

One run per source at a time, whatever its kind: every task of a poll, a sweep or a backfill
run holds the source's run lease (news_ingest.es.leases) under its DAG run's name. Backfill
runs share the source's lease rather than taking one per interval: the per-host politeness
(``NEWS_INGEST_PER_HOST_CONCURRENCY``, robots.txt) lives in one run's fetcher, so two runs of
a source at once would double the load on its site; the plan's "already indexed" check and
the write are separate steps, so a poll and a backfill of today planning side by side could
both fetch and write one article (a spurious revision when the page changed in between);
and learned boilerplate counts and the takeover of leftover batches assume one live run.
The cost: a backfill's intervals run one after another and between polls (a run's task is
rescheduled until the lease is free, up to ``NEWS_INGEST_DAG_LEASE_WAIT``, then fails and is
retried).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import (
    DAG,
    CronDataIntervalTimetable,
    DeltaDataIntervalTimetable,
    Param,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

from news_ingest.failures import OpsFailureNotifier
from news_ingest.sources import Source

if TYPE_CHECKING:  # the crawl stack is imported when tasks run, not at every DAG parse
    from elasticsearch import Elasticsearch
    from news_ingest.crawl.archive import Window
    from news_ingest.settings import Settings

log = logging.getLogger(__name__)

SWEEP_SUFFIX = "_daily"
# How often a task that found its source's lease held looks again.
LEASE_RECHECK = timedelta(seconds=15)

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
    so a CLI run, a sweep or a backfill of the same source waits; the last task frees it.
    The owner names the DAG too: a sweep's run id and a poll's can be the same string
    (both ``scheduled__<midnight>``).

    A task that finds the lease held gives its worker slot back and is rescheduled (not a
    retry) every ``LEASE_RECHECK``, up to ``NEWS_INGEST_DAG_LEASE_WAIT`` in all; then it
    fails and Airflow retries it. Waiting in place would hold one of the executor's few
    slots, the ones the holder's next tasks need: with two slots, two waiting runs starved
    the holder until they timed out, retries with backoff, over and over."""
    from news_ingest.es import leases
    from news_ingest.es.indices import IndexNames

    context = get_current_context()
    with ExitStack() as held:
        try:
            held.enter_context(
                leases.holding(
                    es,
                    IndexNames(settings.index_prefix),
                    source.id,
                    f"airflow:{context['dag'].dag_id}:{context['run_id']}",
                    ttl=settings.run_lease_seconds,
                    wait=0,
                    release=release,
                )
            )
        except leases.LeaseHeld:
            first = context["ti"].get_first_reschedule_date(context)
            waited = (datetime.now(UTC) - first).total_seconds() if first else 0.0
            if waited + LEASE_RECHECK.total_seconds() > settings.dag_lease_wait:
                raise
            log.info("event=run_lease_busy source=%s waited=%.0fs (rescheduled)", source.id, waited)
            retry_at = datetime.now(UTC) + LEASE_RECHECK
            raise AirflowRescheduleException(retry_at) from None  # type: ignore[no-untyped-call]
        yield


def _window(sweep: bool) -> Window | None:
    """A backfill run (and every sweep run) ingests what was published in its data
    interval; a scheduled or manual poll takes what the feeds list now."""
    from news_ingest.crawl.archive import run_window

    context = get_current_context()
    run_type = context["dag_run"].run_type
    window = run_window(
        str(getattr(run_type, "value", run_type)),
        context.get("data_interval_start"),
        context.get("data_interval_end"),
        sweep=sweep,
    )
    log.info("run type %s: window %s", run_type, window or "now (the feeds)")
    return window


def build_source_dags(source: Source) -> list[DAG]:
    """The source's polling DAG (id = source id) and its daily sweep (``<id>_daily``).

    Both use data-interval timetables: Airflow 3's default trigger timetables give a run a
    zero-length interval, and a backfill run must know the stretch of time it covers."""
    return [
        _build(
            source,
            dag_id=source.id,
            schedule=DeltaDataIntervalTimetable(timedelta(minutes=source.poll_minutes)),
            sweep=False,
            description=f"Ingest {source.name} ({len(source.feeds)} feeds) into Elasticsearch",
        ),
        _build(
            source,
            dag_id=f"{source.id}{SWEEP_SUFFIX}",
            schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
            sweep=True,
            description=f"Daily sweep of {source.name}: yesterday's sitemap, feed coverage",
        ),
    ]


def _build(
    source: Source,
    *,
    dag_id: str,
    schedule: CronDataIntervalTimetable | DeltaDataIntervalTimetable,
    sweep: bool,
    description: str,
) -> DAG:
    @dag(
        dag_id=dag_id,
        description=description,
        schedule=schedule,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        on_failure_callback=[OpsFailureNotifier()],
        tags=["news-ingest", f"lang:{source.language}", *(["sweep"] if sweep else [])],
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
            window = _window(sweep)
            es = store.connect(settings)
            indices.install(es, settings.index_prefix)
            key = pipeline.staging_key(source.id, window)
            folder = staging.run_folder(settings.staging_base, key, _run_id())
            try:
                with _source_lease(source, settings, es):
                    paths, counts = pipeline.plan(
                        source, feeds, settings, es, folder, window=window, sweep=sweep
                    )
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

            if _window(sweep) is not None:
                return []  # only polls take over what earlier runs left (see plan)
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
                    docs_path,
                    settings,
                    es,
                    source_id=source.id,
                    run_id=_run_id(),
                    publisher_of=pipeline.publishers(settings),
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
