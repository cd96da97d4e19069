"""One run of one source, as three steps that the CLI and the Airflow DAG both call.

    plan   poll the feeds (conditional GET), keep entries not yet indexed, stage them in
           batches of ``batch_size``                       -> entries-NNNNN.jsonl.gz
    fetch  fetch one batch's pages concurrently, stage pages and rejects
                                                          -> pages-NNNNN.jsonl.gz
    index  extract and enrich in a process pool, bulk-write, record rejects, then remove
           the staged file                                 -> counts

Each step returns counts (and paths), never article data, so Airflow's XCom stays small.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from elasticsearch import ConnectionError as ElasticsearchConnectionError
from elasticsearch import Elasticsearch
from news_ingest import alerts, notify, staging, store
from news_ingest.articles import analyze_page
from news_ingest.feeds import FeedEntry, body_digest, parse_feed, unique_entries
from news_ingest.fetcher import Fetcher, FetchError, Page, Rejected
from news_ingest.indices import IndexNames
from news_ingest.settings import Settings
from news_ingest.sources import Source

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

Counts = dict[str, int]


class FeedsUnreachable(RuntimeError):
    """Every feed of a source failed: the run cannot do anything, so it fails loudly."""


def plan(
    source: Source,
    feed_urls: Sequence[str],
    settings: Settings,
    es: Elasticsearch,
    folder: ObjectStoragePath,
) -> tuple[list[str], Counts]:
    """Poll feeds, drop entries already indexed, stage the rest; return batch paths.

    Entry batches that an earlier run staged but never fetched are taken into this plan,
    and each feed's validators (ETag, Last-Modified, body hash) are saved only once its
    entries are staged: otherwise a failure in between would turn the next poll into a
    304 and those entries would never be seen again.
    """
    names = IndexNames(settings.index_prefix)
    counts: Counter[str] = Counter()
    polls = asyncio.run(_poll_all(feed_urls, settings, es, names))
    for poll in polls:
        counts.update(poll.counts)
        log.info(
            "event=feed_polled source=%s feed=%s %s", source.id, poll.feed_url, _fmt(poll.counts)
        )
    if feed_urls and counts["feeds_failed"] == len(feed_urls):
        _save_feed_states(es, names, source.id, polls)
        reasons = sorted(k.removeprefix("feed_") for k in counts if k.startswith("feed_"))
        raise FeedsUnreachable(
            f"all {len(feed_urls)} feed(s) of {source.id} failed ({', '.join(reasons)}); "
            "see the feed_failed log lines, or `GET <prefix>-feeds` for each feed's last error"
        )
    entries = unique_entries([entry for poll in polls for entry in poll.entries])
    records = [_entry_record(entry, source) for entry in entries]
    seen = {record["canonical_url"] for record in records}
    leftovers = earlier_batches(settings, source.id, folder.name, "entries")
    for leftover in leftovers:
        for record in staging.read_records(staging.storage_path(leftover)):
            if record["canonical_url"] not in seen:
                seen.add(record["canonical_url"])
                records.append(record)
    known = store.known_url_keys(es, names, sorted(seen))
    new = [record for record in records if record["canonical_url"] not in known]
    if source.max_items is not None:
        new = new[: source.max_items]
    counts.update(
        entries_seen=len(records),
        already_indexed=len(known),
        new=len(new),
        replanned=len(leftovers),
    )
    paths = []
    for number, start in enumerate(range(0, len(new), settings.batch_size), start=1):
        path = folder / staging.batch_name("entries", number)
        staging.write_records(path, new[start : start + settings.batch_size])
        paths.append(str(path))
    for leftover in leftovers:
        staging.storage_path(leftover).unlink()
    staging.prune_empty_folders(folder.parent, keep=folder.name)
    _save_feed_states(es, names, source.id, polls)
    counts["batches"] = len(paths)
    log.info("event=planned source=%s %s", source.id, _fmt(counts))
    return paths, dict(counts)


@dataclass(frozen=True)
class FeedPoll:
    feed_url: str
    entries: list[FeedEntry]
    counts: Counts
    state: dict[str, Any]


def _save_feed_states(
    es: Elasticsearch, names: IndexNames, source_id: str, polls: Sequence[FeedPoll]
) -> None:
    for poll in polls:
        store.save_feed_state(es, names, feed_url=poll.feed_url, source=source_id, state=poll.state)


async def _poll_all(
    feed_urls: Sequence[str], settings: Settings, es: Elasticsearch, names: IndexNames
) -> list[FeedPoll]:
    async with Fetcher(settings) as fetcher:
        return list(await asyncio.gather(*(_poll(url, fetcher, es, names) for url in feed_urls)))


async def _poll(feed_url: str, fetcher: Fetcher, es: Elasticsearch, names: IndexNames) -> FeedPoll:
    """Poll one feed; a failing feed is reported and counted, the run goes on."""
    validators = store.feed_validators(es, names, feed_url)
    now = datetime.now(UTC).isoformat()
    state: dict[str, Any] = {"polled_at": now}
    try:
        response = await fetcher.get(feed_url, validators.request_headers())
    except FetchError as exc:
        log.error("event=feed_failed feed=%s reason=%s detail=%s", feed_url, exc.reason, exc.detail)
        failed = {"feeds_failed": 1, f"feed_{exc.reason}": 1}
        return FeedPoll(feed_url, [], failed, {**state, "last_error": str(exc)})
    state["last_status"] = response.status
    if response.status == 304:
        return FeedPoll(feed_url, [], {"feeds_unchanged": 1}, state)
    if response.status != 200:
        failed = {"feeds_failed": 1, f"feed_http-{response.status}": 1}
        return FeedPoll(feed_url, [], failed, {**state, "last_error": f"status {response.status}"})
    digest = body_digest(response.body)
    state.update(
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        body_sha256=digest,
        last_error=None,
    )
    if digest == validators.body_sha256:
        # Some servers ignore validators and resend the same body with 200.
        return FeedPoll(feed_url, [], {"feeds_unchanged": 1}, state)
    parsed = parse_feed(
        response.body, feed_url, response.headers.get("content-type", "application/xml")
    )
    counts: Counts = {"feeds_polled": 1, **{f"entry_{k}": v for k, v in parsed.skipped.items()}}
    if parsed.bozo:
        log.warning("event=feed_malformed feed=%s bozo=%s", feed_url, parsed.bozo)
        counts["feeds_malformed"] = 1
        state["last_error"] = parsed.bozo
    state.update(entries=len(parsed.entries), changed_at=now)
    return FeedPoll(feed_url, parsed.entries, counts, state)


def _entry_record(entry: FeedEntry, source: Source) -> dict[str, Any]:
    return {**asdict(entry), "source": source.id, "profile": source.profile}


def fetch(
    entries_path: str,
    settings: Settings,
    on_page: Callable[[Page | Rejected], None] | None = None,
) -> tuple[str, Counts]:
    """Fetch one staged batch of entries; stage pages and rejects next to it."""
    source_path = staging.storage_path(entries_path)
    pages_path = source_path.parent / source_path.name.replace("entries-", "pages-")
    if not source_path.exists() and pages_path.exists():
        log.warning("event=fetch_already_done batch=%s (an earlier try staged it)", pages_path)
        return str(pages_path), {}
    entries = list(staging.read_records(source_path))
    results = asyncio.run(_fetch_all([e["url"] for e in entries], settings, on_page))
    counts: Counter[str] = Counter()
    records = []
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, Page):
            counts["fetched"] += 1
            records.append(_page_record(entry, result))
        else:
            counts[f"skipped_{result.reason}"] += 1
            log.warning(
                "event=page_skipped url=%s reason=%s detail=%s",
                result.url,
                result.reason,
                result.detail,
            )
            records.append({"rejected": {**asdict(result), "stage": "fetch"}, "entry": entry})
    staging.write_records(pages_path, records)
    source_path.unlink()
    log.info("event=fetched batch=%s %s", pages_path.name, _fmt(counts))
    return str(pages_path), dict(counts)


async def _fetch_all(
    urls: list[str], settings: Settings, on_page: Callable[[Page | Rejected], None] | None
) -> list[Page | Rejected]:
    async with Fetcher(settings) as fetcher:
        return await fetcher.fetch_pages(urls, on_page)


def _page_record(entry: dict[str, Any], page: Page) -> dict[str, Any]:
    return {
        "entry": entry,
        "source": entry["source"],
        "profile": entry.get("profile"),
        "final_url": page.final_url,
        "charset": page.charset,
        "fetched_at": page.fetched_at,
        "html": page.html,
    }


def index(
    pages_path: str,
    settings: Settings,
    es: Elasticsearch,
    *,
    run_id: str,
    executor: Executor | None = None,
) -> Counts:
    """Extract, enrich and index one staged batch; remove it once all is accounted for."""
    extraction = _start_extraction(pages_path, settings, executor)
    if extraction is None:
        return {}
    return _store_batch(extraction, settings, es, run_id=run_id)


@dataclass
class _Extraction:
    """A batch whose pages are being analysed (in the pool, when there is one)."""

    path: ObjectStoragePath
    source_id: str
    fetch_rejects: list[dict[str, Any]]
    analyzed: Iterator[dict[str, Any]]


def _start_extraction(
    pages_path: str, settings: Settings, executor: Executor | None
) -> _Extraction | None:
    """Read a staged batch and hand its pages to the pool; results are collected later."""
    path = staging.storage_path(pages_path)
    if not path.exists():
        log.warning("event=index_already_done batch=%s (an earlier try indexed it)", path)
        return None
    records = list(staging.read_records(path))
    analyze = partial(_analyze_and_match, config_dir=str(settings.config_dir))
    return _Extraction(
        path=path,
        source_id=(records[0].get("entry") or {}).get("source", "?") if records else "?",
        fetch_rejects=[r["rejected"] for r in records if "rejected" in r],
        analyzed=_map(analyze, [r for r in records if "rejected" not in r], executor),
    )


def _store_batch(
    extraction: _Extraction, settings: Settings, es: Elasticsearch, *, run_id: str
) -> Counts:
    """Collect a batch's documents, bulk-write them, store alerts and rejects, unstage it."""
    names = IndexNames(settings.index_prefix)
    analyzed = list(extraction.analyzed)
    documents = _unique_by_id(a for a in analyzed if "rejected" not in a)
    rejects = extraction.fetch_rejects + [a["rejected"] for a in analyzed if "rejected" in a]
    result = store.index_articles(es, names, documents)
    # New or changed articles only; the alert id makes each (article, watchlist) pair once.
    written = [doc for doc in documents if doc["_id"] in result.written_ids and doc["watchlists"]]
    watchlists = alerts.watchlists_in(str(settings.config_dir))
    new_alerts = alerts.store_alerts(
        es, names, alerts.alerts_for(watchlists, written, datetime.now(UTC))
    )
    rejects += [
        {"url": doc_url, "stage": "index", "reason": "index-error", "detail": reason}
        for doc_url, reason in _failed_urls(result.failed, documents)
    ]
    store.record_rejects(es, names, rejects, source=extraction.source_id, run_id=run_id)
    counts: Counter[str] = Counter(
        indexed=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        failed=len(result.failed),
        alerts=new_alerts,
    )
    counts.update(f"rejected_{r['stage']}_{r['reason']}" for r in rejects)
    # Index failures were recorded as rejects with their reason, so the batch is accounted
    # for; an unreachable Elasticsearch raised above and left the file for the retry.
    extraction.path.unlink()
    log.info("event=indexed batch=%s run=%s %s", extraction.path.name, run_id, _fmt(counts))
    return dict(counts)


def _analyze_and_match(record: dict[str, Any], config_dir: str) -> dict[str, Any]:
    """analyze_page plus watchlist matching, both in the worker: matching is CPU work too,
    and done in the parent it would leave the pool idle while one core matches."""
    doc = analyze_page(record, config_dir)
    if "rejected" not in doc:
        matches = alerts.match_article(alerts.watchlists_in(config_dir), doc)
        doc["watchlists"] = [m.watchlist_id for m in matches]
    return doc


def _map(
    func: Callable[[dict[str, Any]], dict[str, Any]],
    items: list[dict[str, Any]],
    executor: Executor | None,
) -> Iterator[dict[str, Any]]:
    if executor is None or len(items) < 2:
        return map(func, items)
    return executor.map(func, items, chunksize=max(1, len(items) // 32))


def _unique_by_id(documents: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two entries can lead to one page (redirects, canonical links): keep the first."""
    unique: dict[str, dict[str, Any]] = {}
    for doc in documents:
        unique.setdefault(doc["_id"], doc)
    return list(unique.values())


def _failed_urls(
    failed: list[tuple[str, str]], documents: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    url_by_id = {doc["_id"]: doc["url"] for doc in documents}
    return [(url_by_id.get(doc_id, doc_id), reason) for doc_id, reason in failed]


def notify_pending(settings: Settings, es: Elasticsearch) -> Counts:
    """Deliver every alert not yet delivered (new ones and earlier failures)."""
    names = IndexNames(settings.index_prefix)
    by_id = {w.id: w for w in alerts.watchlists_in(str(settings.config_dir))}
    counts: Counter[str] = Counter()
    for alert in alerts.undelivered(es, names):
        watchlist = by_id.get(alert["watchlist"])
        if watchlist is None:
            delivered, errors = alert.get("delivered") or [], ["watchlist no longer configured"]
        else:
            delivered, errors = notify.deliver(watchlist.channels, alert)
        alerts.record_delivery(es, names, alert, delivered, errors)
        counts["notify_failed" if errors else "notified"] += 1
    if counts:
        # Once for all: a refresh per alert cost ~12 ms each on a busy run.
        es.indices.refresh(index=names.alerts)
    log.info("event=notified %s", _fmt(counts))
    return dict(counts)


def pending_pages(settings: Settings, source_id: str, current_run: str) -> list[str]:
    """Page batches staged by earlier runs that never got indexed (e.g. an ES outage)."""
    current = staging.run_folder(settings.staging_base, source_id, current_run).name
    return earlier_batches(settings, source_id, current, "pages")


def earlier_batches(
    settings: Settings, source_id: str, current_folder: str, kind: str
) -> list[str]:
    """Staged files of one kind left in run folders other than the current one."""
    base = staging.storage_path(settings.staging_base) / source_id
    if not base.exists():
        return []
    return [
        str(path)
        for folder in sorted(base.iterdir())
        if folder.name != current_folder and folder.is_dir()
        for path in staging.batch_paths(folder, kind)
    ]


def merge_counts(all_counts: Sequence[Counts]) -> Counts:
    total: Counter[str] = Counter()
    for counts in all_counts:
        total.update(counts)
    return dict(sorted(total.items()))


def _fmt(counts: Counts | Counter[str]) -> str:
    return " ".join(f"{key}={value}" for key, value in sorted(counts.items()))


def extraction_pool(settings: Settings) -> Executor:
    """A process pool sized to the cores for extraction (trafilatura is CPU-bound).

    forkserver, not fork: Airflow task processes and the CLI's progress display run
    threads, and forking a threaded process can copy a held lock into the child. The
    preload makes each worker start with trafilatura (via this module) already imported.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["news_ingest.pipeline"])
    return ProcessPoolExecutor(max_workers=settings.extract_workers, mp_context=context)


def run_once(
    source: Source,
    feed_urls: Sequence[str],
    settings: Settings,
    es: Elasticsearch,
    *,
    run_id: str,
    on_page: Callable[[Page | Rejected], None] | None = None,
    on_planned: Callable[[int], None] | None = None,
) -> Counts:
    """Plan, fetch and index one source in this process: what ``news-ingest run`` does."""
    folder = staging.run_folder(settings.staging_base, source.id, run_id)
    entry_paths, plan_counts = plan(source, feed_urls, settings, es, folder)
    if on_planned is not None:
        on_planned(plan_counts.get("new", 0))
    all_counts = [plan_counts]
    try:
        _fetch_and_index(source, entry_paths, settings, es, run_id, on_page, all_counts)
    except ElasticsearchConnectionError as exc:
        raise store.StoreUnavailable(
            f"Elasticsearch became unreachable during the run ({exc}); the batches fetched "
            f"so far stay staged under {folder} and the next run indexes them"
        ) from None
    store.refresh(es, IndexNames(settings.index_prefix))
    all_counts.append(notify_pending(settings, es))
    return merge_counts(all_counts)


def _fetch_and_index(
    source: Source,
    entry_paths: list[str],
    settings: Settings,
    es: Elasticsearch,
    run_id: str,
    on_page: Callable[[Page | Rejected], None] | None,
    all_counts: list[Counts],
) -> None:
    # Three stages overlap: one thread fetches batch N+2 while the pool extracts batch N+1
    # and this thread writes batch N to Elasticsearch, so neither the network waits nor the
    # bulk writes leave the cores idle. If a write fails (Elasticsearch down), leaving the
    # block waits for the remaining fetches, so every planned batch ends up staged as pages
    # for the next run's pending step.
    with extraction_pool(settings) as pool, ThreadPoolExecutor(1, "fetch") as fetcher:
        fetches = [fetcher.submit(fetch, path, settings, on_page) for path in entry_paths]

        def pages_paths() -> Iterator[str]:
            yield from pending_pages(settings, source.id, run_id)
            for fetched in fetches:
                pages_path, fetch_counts = fetched.result()
                all_counts.append(fetch_counts)
                yield pages_path

        previous: _Extraction | None = None
        for pages_path in pages_paths():
            extraction = _start_extraction(pages_path, settings, pool)
            if previous is not None:
                all_counts.append(_store_batch(previous, settings, es, run_id=run_id))
            previous = extraction
        if previous is not None:
            all_counts.append(_store_batch(previous, settings, es, run_id=run_id))
