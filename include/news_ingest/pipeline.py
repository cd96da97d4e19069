"""One run of one source, as three steps that the CLI and the Airflow DAG both call.

    plan   poll the feeds (conditional GET) or, for a time window, read its sitemaps too;
           keep entries not yet indexed, and known ones that changed or are due for a
           revisit; stage them in batches of ``batch_size`` -> entries-NNNNN.jsonl.gz
    fetch  fetch one batch's pages concurrently; each page is extracted and enriched in a
           process pool as soon as it arrives; stage the documents and rejects
                                                          -> docs-NNNNN.jsonl.gz
    index  bulk-write a staged batch (an edit keeps the old version in <prefix>-revisions),
           store its alerts and rejects, then remove the file
                                                          -> counts

Documents, not raw pages, are staged: a page is needed only until it is extracted, and a
document is about 7 KB where its page is about 100 KB, so staging costs little. What staging
is for holds: an Elasticsearch outage loses nothing, the index step retries from the file.

Each step returns counts (and paths), never article data, so Airflow's XCom stays small.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from elasticsearch import ConnectionError as ElasticsearchConnectionError
from elasticsearch import Elasticsearch
from news_ingest import staging
from news_ingest.alerting import alerts, delivery, digests, edits, notify, watchlist_store
from news_ingest.alerting.delivery import deliver
from news_ingest.crawl import archive
from news_ingest.crawl.archive import Window
from news_ingest.crawl.feeds import (
    FeedEntry,
    FeedValidators,
    body_digest,
    parse_feed,
    unique_entries,
)
from news_ingest.crawl.fetcher import Fetcher, FetchError, Page, Rejected
from news_ingest.crawl.sitemaps import SitemapUrl, in_window
from news_ingest.es import boilerplate as stored_boilerplate
from news_ingest.es import leases, store
from news_ingest.es import stories as story_store
from news_ingest.es.indices import IndexNames
from news_ingest.extract import boilerplate
from news_ingest.extract.articles import LINE_HASHES, analyze_page, reads_the_same, taxonomy_in
from news_ingest.extract.language import load_profiles
from news_ingest.processes import POOL_PARENT_ENV, die_with_pool_server, worker_context
from news_ingest.settings import Settings
from news_ingest.sources import Source, load_sources
from news_ingest.text.crosslingual import article_figures
from news_ingest.text.stories import fingerprint
from news_ingest.text.watchlists import Watchlist

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

Counts = dict[str, int]
# Mapped index tasks of one source update its boilerplate counts side by side.
BOILERPLATE_WRITE_TRIES = 5


class FeedsUnreachable(RuntimeError):
    """Every feed of a source failed: the run cannot do anything, so it fails loudly."""


def plan(
    source: Source,
    feed_urls: Sequence[str],
    settings: Settings,
    es: Elasticsearch,
    folder: ObjectStoragePath,
    executor: Executor | None = None,
    *,
    window: Window | None = None,
    sweep: bool = False,
) -> tuple[list[str], Counts]:
    """Find what to fetch, stage it in batches; return the batch paths and counts.

    Without ``window`` (a scheduled run): what the feeds list now, polled with conditional
    GETs, plus known articles that a feed says changed or whose revisit is due. With
    ``window`` (a backfill run, the daily sweep): the articles published in it, from the
    source's sitemaps and whatever the feeds still list; feeds are then read without their
    validators, and their state is left alone, so the next scheduled poll still sees its
    news. ``sweep`` also records the feeds' coverage of the window's sitemap articles.

    Feeds are parsed in ``executor`` when one is given (the extraction pool, in one-process
    runs): feedparser costs about 0.5 ms per entry, and many feeds parse side by side.

    Entry batches that an earlier run staged but never fetched are taken into this plan,
    and each feed's validators (ETag, Last-Modified, body hash) are saved only once its
    entries are staged: otherwise a failure in between would turn the next poll into a
    304 and those entries would never be seen again.
    """
    names = IndexNames(settings.index_prefix)
    now = datetime.now(UTC)
    conditional = window is None
    counts: Counter[str] = Counter()
    polls = asyncio.run(_poll_all(feed_urls, settings, es, names, executor, conditional))
    for poll in polls:
        counts.update(poll.counts)
        log.info(
            "event=feed_polled source=%s feed=%s %s", source.id, poll.feed_url, _fmt(poll.counts)
        )
    if feed_urls and counts["feeds_failed"] == len(feed_urls) and window is None:
        _save_feed_states(es, names, source.id, polls)
        reasons = sorted(k.removeprefix("feed_") for k in counts if k.startswith("feed_"))
        raise FeedsUnreachable(
            f"all {len(feed_urls)} feed(s) of {source.id} failed ({', '.join(reasons)}); "
            "see the feed_failed log lines, or `GET <prefix>-feeds` for each feed's last error"
        )
    entries = unique_entries([entry for poll in polls for entry in poll.entries])
    if window is not None:
        entries = [e for e in entries if in_window(e.published_at, window.start, window.end)]
    records = [_entry_record(entry, source, now) for entry in entries]
    scan = None
    if window is not None:
        scan = asyncio.run(_scan_archive(source, feed_urls, settings, window))
        counts.update(scan.counts)
        store.record_rejects(es, names, scan.rejects, source=source.id, run_id=folder.name)
        records += [_sitemap_record(url, source, now) for url in scan.urls]
    records = _first_per_url(records)
    seen = {record["canonical_url"] for record in records}
    # Only polls take over what earlier runs left: window runs stage apart (``staging_key``)
    # and are redone by running the backfill again, so a poll never fetches a backfill's
    # leftovers of another day (nor a backfill the poll's).
    leftovers = [] if window else earlier_batches(settings, source.id, folder.name, "entries")
    for leftover in leftovers:
        for record in staging.read_records(staging.storage_path(leftover)):
            if record["canonical_url"] not in seen:
                seen.add(record["canonical_url"])
                records.append(record)
    known = store.known_articles(es, names, sorted(seen))
    new = [record for record in records if record["canonical_url"] not in known]
    if source.max_items is not None:
        new = new[: source.max_items]
    changed = [
        _known_record(record, stored)
        for record in records
        if (stored := known.get(record["canonical_url"])) and listing_is_newer(record, stored)
    ]
    revisits = [] if window is not None else _due_revisits(source, es, names, now, changed)
    if sweep and window is not None and scan is not None:
        counts.update(_record_coverage(es, names, source, window, scan.urls, known, now))
    counts.update(
        entries_seen=len(records),
        already_indexed=len(known),
        new=len(new),
        changed=len(changed),
        revisits=len(revisits),
        replanned=len(leftovers),
    )
    # New articles first: revisits fill the last batches, and never push a new one out.
    planned = [*new, *changed, *revisits]
    paths = []
    learned = _learned_boilerplate(es, names, source, settings) if planned else frozenset()
    for number, start in enumerate(range(0, len(planned), settings.batch_size), start=1):
        path = folder / staging.batch_name("entries", number)
        if learned:
            # staged before the entries: a batch is fetched only once its entries exist
            staging.write_records(_learned_path(path), [{"lines": sorted(learned)}])
        staging.write_records(path, planned[start : start + settings.batch_size])
        paths.append(str(path))
    for leftover in leftovers:
        leftover_path = staging.storage_path(leftover)
        if _learned_path(leftover_path).exists():
            _learned_path(leftover_path).unlink()
        leftover_path.unlink()
    staging.prune_empty_folders(folder.parent, keep=folder.name)
    if conditional:
        _save_feed_states(es, names, source.id, polls)
    counts["batches"] = len(paths)
    log.info("event=planned source=%s window=%s %s", source.id, window or "now", _fmt(counts))
    return paths, dict(counts)


def listing_is_newer(record: Mapping[str, Any], known: store.KnownArticle) -> bool:
    """Whether a feed's ``updated`` or a sitemap's ``lastmod`` is later than what is stored."""
    listed = _instant(record.get("updated_at"))
    stored = _instant(known.updated_at) or _instant(known.fetched_at)
    return listed is not None and stored is not None and listed > stored


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _known_record(record: dict[str, Any], known: store.KnownArticle) -> dict[str, Any]:
    return {
        **record,
        "first_seen_at": known.first_seen_at or record["first_seen_at"],
        "discovered_via": known.discovered_via or record["discovered_via"],
    }


def _due_revisits(
    source: Source,
    es: Elasticsearch,
    names: IndexNames,
    now: datetime,
    changed: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    taken = {record["canonical_url"] for record in changed}
    due = store.due_revisits(
        es, names, source=source.id, now=now, limit=source.revisit.max_per_run + len(taken)
    )
    # What the listing gave the article first (its date, sections, authors) is carried
    # over: without it the same page would hash differently and pass for an edit.
    records = [
        {
            "feed_url": doc.get("feed_url"),
            "url": doc["url"],
            "canonical_url": doc["canonical_url"],
            "title": "",
            "summary": "",
            "published_at": doc.get("published_at"),
            "updated_at": None,
            "categories": doc.get("categories") or [],
            "authors": doc.get("authors") or [],
            "source": source.id,
            "profile": source.profile,
            "first_seen_at": doc.get("first_seen_at") or now.isoformat(),
            "discovered_via": doc.get("discovered_via"),
            "revisit_after_hours": list(source.revisit.after_hours),
        }
        for doc in due
        if doc["canonical_url"] not in taken
    ]
    return records[: source.revisit.max_per_run]


def _first_per_url(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A feed entry before a sitemap entry for the same article: it has the section."""
    unique: dict[str, dict[str, Any]] = {}
    for record in records:
        unique.setdefault(record["canonical_url"], record)
    return list(unique.values())


async def _scan_archive(
    source: Source, feed_urls: Sequence[str], settings: Settings, window: Window
) -> archive.ArchiveScan:
    roots = archive.sitemap_roots(source.sitemaps, window)
    async with Fetcher(settings) as fetcher:
        if source.discover_sitemaps:
            for origin in archive.origins([*feed_urls, *roots]):
                roots.extend(await fetcher.robots_sitemaps(origin))
        return await archive.scan(
            fetcher, roots, window, max_bytes=settings.max_feed_bytes, source_id=source.id
        )


def _record_coverage(
    es: Elasticsearch,
    names: IndexNames,
    source: Source,
    window: Window,
    urls: Sequence[SitemapUrl],
    known: Mapping[str, store.KnownArticle],
    now: datetime,
) -> Counts:
    """The share of the window's sitemap articles that the feeds had brought in already."""
    listed = {url.canonical_url for url in urls}
    from_feeds = sum(
        1 for key in listed if key in known and (known[key].discovered_via or "feed") == "feed"
    )
    swept = sum(1 for key in listed if key not in known)
    coverage = round(from_feeds / len(listed), 4) if listed else None
    day = window.start.astimezone(UTC).date().isoformat()
    store.save_coverage(
        es,
        names,
        source=source.id,
        day=day,
        sitemap_articles=len(listed),
        feed_articles=from_feeds,
        swept_articles=swept,
        coverage=coverage,
        swept_at=now,
    )
    log.info(
        "event=feed_coverage source=%s day=%s sitemap_articles=%d from_feeds=%d swept=%d "
        "coverage=%s",
        source.id,
        day,
        len(listed),
        from_feeds,
        swept,
        "n/a" if coverage is None else f"{coverage:.1%}",
    )
    return {"coverage_sitemap_articles": len(listed), "coverage_from_feeds": from_feeds}


def _boilerplate_policy(settings: Settings) -> boilerplate.Policy:
    return boilerplate.Policy(
        threshold=settings.boilerplate_threshold,
        min_pages=settings.boilerplate_min_pages,
        window=settings.boilerplate_window,
        max_lines=settings.boilerplate_max_lines,
    )


def _learned_boilerplate(
    es: Elasticsearch, names: IndexNames, source: Source, settings: Settings
) -> frozenset[str]:
    """The line hashes the source's pages repeat; a profile's sites have none learned."""
    if source.profile is not None:
        return frozenset()
    stored = stored_boilerplate.load_counts(es, names, source.id)
    counts = boilerplate.LineCounts.from_doc(stored.doc)
    learned = boilerplate.learned_lines(counts, _boilerplate_policy(settings))
    log.info(
        "event=boilerplate_loaded source=%s pages=%.0f lines=%d learned=%d",
        source.id,
        counts.pages,
        len(counts.lines),
        len(learned),
    )
    return learned


def _learned_path(entries: ObjectStoragePath) -> ObjectStoragePath:
    return entries.parent / entries.name.replace("entries-", "learned-")


def _count_boilerplate(
    es: Elasticsearch,
    names: IndexNames,
    source_id: str,
    pages: list[list[str]],
    settings: Settings,
) -> None:
    """Add the pages' line hashes to the source's counts (read, add, write if unchanged)."""
    if not pages:
        return
    policy = _boilerplate_policy(settings)
    for _ in range(BOILERPLATE_WRITE_TRIES):
        stored = stored_boilerplate.load_counts(es, names, source_id)
        counts = boilerplate.count_pages(boilerplate.LineCounts.from_doc(stored.doc), pages, policy)
        if stored_boilerplate.save_counts(es, names, source_id, counts.to_doc(), stored):
            return
    log.warning(
        "event=boilerplate_not_counted source=%s pages=%d: the counts kept changing under us",
        source_id,
        len(pages),
    )


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
    feed_urls: Sequence[str],
    settings: Settings,
    es: Elasticsearch,
    names: IndexNames,
    executor: Executor | None,
    conditional: bool,
) -> list[FeedPoll]:
    async with Fetcher(settings) as fetcher:
        polls = (_poll(url, fetcher, es, names, executor, conditional) for url in feed_urls)
        return list(await asyncio.gather(*polls))


async def _poll(
    feed_url: str,
    fetcher: Fetcher,
    es: Elasticsearch,
    names: IndexNames,
    executor: Executor | None,
    conditional: bool,
) -> FeedPoll:
    """Poll one feed; a failing feed is reported and counted, the run goes on."""
    previous = store.feed_state(es, names, feed_url)
    validators = store.feed_validators(previous) if conditional else FeedValidators()
    poll = await _poll_once(feed_url, fetcher, validators, executor)
    return with_streak(poll, previous)


def with_streak(poll: FeedPoll, previous: Mapping[str, Any]) -> FeedPoll:
    """The poll's state with its failure streak: consecutive failed polls, 0 after a
    success (a 304 is one). Feed health flags a feed on it."""
    state = dict(poll.state)
    if poll.counts.get("feeds_failed"):
        state["failure_streak"] = int(previous.get("failure_streak") or 0) + 1
        state["last_failure_at"] = state["polled_at"]
    else:
        state["failure_streak"] = 0
        state["last_success_at"] = state["polled_at"]
    return FeedPoll(poll.feed_url, poll.entries, poll.counts, state)


async def _poll_once(
    feed_url: str, fetcher: Fetcher, validators: FeedValidators, executor: Executor | None
) -> FeedPoll:
    now = datetime.now(UTC).isoformat()
    state: dict[str, Any] = {"polled_at": now}
    try:
        # Feeds have their own cap: an archive feed of 100k items is ~33 MB, far above a
        # page's. The body is held once (bounded by the cap) and parsed in one go.
        response = await fetcher.get(
            feed_url, validators.request_headers(), max_bytes=fetcher.settings.max_feed_bytes
        )
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
    parsed = await asyncio.get_running_loop().run_in_executor(
        executor,
        parse_feed,
        response.body,
        feed_url,
        response.headers.get("content-type", "application/xml"),
    )
    counts: Counts = {"feeds_polled": 1, **{f"entry_{k}": v for k, v in parsed.skipped.items()}}
    if parsed.bozo:
        log.warning("event=feed_malformed feed=%s bozo=%s", feed_url, parsed.bozo)
        counts["feeds_malformed"] = 1
        state["last_error"] = parsed.bozo
    state.update(entries=len(parsed.entries), changed_at=now)
    return FeedPoll(feed_url, parsed.entries, counts, state)


def _entry_record(entry: FeedEntry, source: Source, now: datetime) -> dict[str, Any]:
    return {
        **asdict(entry),
        "source": source.id,
        "profile": source.profile,
        "first_seen_at": now.isoformat(),
        "discovered_via": "feed",
        "revisit_after_hours": list(source.revisit.after_hours),
    }


def _sitemap_record(url: SitemapUrl, source: Source, now: datetime) -> dict[str, Any]:
    return {
        "feed_url": url.sitemap_url,
        "url": url.url,
        "canonical_url": url.canonical_url,
        "title": url.title,
        "summary": "",
        "published_at": url.published_at,
        "updated_at": url.lastmod,
        "categories": [],
        "authors": [],
        "source": source.id,
        "profile": source.profile,
        "first_seen_at": now.isoformat(),
        "discovered_via": "sitemap",
        "revisit_after_hours": list(source.revisit.after_hours),
    }


def fetch(
    entries_path: str,
    settings: Settings,
    executor: Executor,
    watchlists: str,
    on_page: Callable[[], None] | None = None,
) -> tuple[str, Counts]:
    """Fetch one staged batch of entries and extract each page as soon as it arrives.

    Pages go to ``executor`` (the extraction pool) while the rest of the batch is still on
    the network, so the cores extract while the fetcher waits. The batch's documents and
    rejects are staged next to the entries, which are then removed. ``on_page`` is called
    once per entry when it is done (extracted or rejected). ``watchlists`` is the run's
    snapshot (``watchlist_store.snapshot``): pages are matched against those versions.
    """
    return start_fetch(entries_path, settings, executor, watchlists, on_page).finish()


def start_fetch(
    entries_path: str,
    settings: Settings,
    executor: Executor,
    watchlists: str,
    on_page: Callable[[], None] | None = None,
) -> FetchedBatch:
    """The first half of ``fetch``: every page fetched and handed to the pool; returns
    while the pool may still be extracting, so the caller can fetch the next batch."""
    entries = staging.storage_path(entries_path)
    docs = entries.parent / entries.name.replace("entries-", "docs-")
    if not entries.exists() and docs.exists():
        log.warning("event=fetch_already_done batch=%s (an earlier try staged it)", docs)
        return FetchedBatch(entries, docs, [], {}, {}, staged_earlier=True)
    entry_by_url = {entry["url"]: entry for entry in staging.read_records(entries)}
    learned_path = _learned_path(entries)
    learned = frozenset(
        line
        for record in (staging.read_records(learned_path) if learned_path.exists() else [])
        for line in record["lines"]
    )
    analyze = partial(
        _analyze_and_match,
        config_dir=str(settings.config_dir),
        watchlists=watchlists,
        learned_boilerplate=learned,
        stories=settings.stories,
        figures=settings.stories and settings.cross_lingual,
    )
    analyses: dict[str, Future[dict[str, Any]]] = {}

    def start_analysis(fetched: Page | Rejected) -> None:
        if isinstance(fetched, Page):
            analyses[fetched.url] = executor.submit(analyze, entry_by_url[fetched.url], fetched)
            if on_page is not None:
                analyses[fetched.url].add_done_callback(lambda _: on_page())
        elif on_page is not None:
            on_page()

    fetched = asyncio.run(_fetch_all(list(entry_by_url), settings, start_analysis))
    # Pages are not kept here: once extracted, their bytes are freed.
    rejects = {r.url: r for r in fetched if isinstance(r, Rejected)}
    return FetchedBatch(entries, docs, [r.url for r in fetched], analyses, rejects)


@dataclass
class FetchedBatch:
    """A batch whose pages are fetched and whose extraction is under way in the pool."""

    entries: ObjectStoragePath
    docs: ObjectStoragePath
    urls: list[str]  # in the order of the entries
    analyses: dict[str, Future[dict[str, Any]]]  # pages fetched, being extracted
    fetch_rejects: dict[str, Rejected]  # pages that could not be fetched
    staged_earlier: bool = False

    def wait(self) -> None:
        """Until every page is extracted (and its page bytes can be freed)."""
        futures.wait(self.analyses.values())

    def finish(self) -> tuple[str, Counts]:
        """Collect the documents and rejects, stage them, unstage the entries."""
        if self.staged_earlier:
            return str(self.docs), {}
        counts: Counter[str] = Counter(fetched=len(self.analyses))
        records = []
        for url in self.urls:
            if url in self.analyses:
                record = _analysis(url, self.analyses[url])
            else:
                record = {"rejected": {**asdict(self.fetch_rejects[url]), "stage": "fetch"}}
            if "rejected" in record:
                rejected = record["rejected"]
                counts[f"rejected_{rejected['stage']}_{rejected['reason']}"] += 1
                log.warning(
                    "event=page_rejected url=%s stage=%s reason=%s detail=%s",
                    rejected["url"],
                    rejected["stage"],
                    rejected["reason"],
                    rejected["detail"],
                )
            records.append(record)
        staging.write_records(self.docs, records)
        learned = _learned_path(self.entries)
        if learned.exists():
            learned.unlink()
        self.entries.unlink()
        log.info("event=fetched batch=%s %s", self.docs.name, _fmt(counts))
        return str(self.docs), dict(counts)


def _analysis(url: str, future: Future[dict[str, Any]]) -> dict[str, Any]:
    """The analysis of one page; one that raised becomes that page's reject. A broken pool
    (a worker killed) is not the page's fault: it fails the batch, which a retry redoes."""
    try:
        return future.result()
    except BrokenExecutor:
        raise
    except Exception as exc:
        log.exception("event=extract_error url=%s", url)
        detail = f"{type(exc).__name__}: {exc}"
        return {"rejected": {"url": url, "stage": "extract", "reason": "error", "detail": detail}}


async def _fetch_all(
    urls: list[str], settings: Settings, on_done: Callable[[Page | Rejected], None]
) -> list[Page | Rejected]:
    async with Fetcher(settings) as fetcher:
        return await fetcher.fetch_pages(urls, on_done)


def _analyze_and_match(
    entry: dict[str, Any],
    page: Page,
    config_dir: str,
    watchlists: str,
    learned_boilerplate: frozenset[str] = frozenset(),
    stories: bool = True,
    figures: bool = False,
) -> dict[str, Any]:
    """analyze_page plus watchlist matching and the story fingerprint, all in the worker:
    they are CPU work too, and done in the parent they would leave the pool idle while one
    core works. Returns ``{"doc", "alerts", "line_hashes"}`` (alerts not yet stamped: see
    index) or ``{"rejected"}``."""
    doc = analyze_page(entry, page, config_dir, learned_boilerplate)
    if "rejected" in doc:
        return doc
    line_hashes = doc.pop(LINE_HASHES)
    if stories:
        doc["fingerprint"] = fingerprint(doc["norm"]).as_fields()
    found = alerts.alerts_for(watchlist_store.from_snapshot(watchlists), doc)
    doc["watchlists"] = [alert["watchlist"] for alert in found]
    if figures:
        doc["figures"] = article_figures(doc, story_store.seen_at(doc).year)
    return {"doc": doc, "alerts": found, "line_hashes": line_hashes}


def publishers(settings: Settings) -> dict[str, str]:
    """Each source's publisher (sources.yaml), for links across languages; read once per
    run. Empty when the links are off."""
    if not (settings.stories and settings.cross_lingual):
        return {}
    return {s.id: s.publisher_id for s in load_sources(settings.config_dir)}


def _story_step(
    settings: Settings,
    es: Elasticsearch,
    names: IndexNames,
    publisher_of: Mapping[str, str],
    prepared: Callable[[story_store.PreparedStories], object],
) -> store.BeforeWrite | None:
    """What the index step does to new and changed articles before writing them: story
    assignment, (optionally) links to the publisher's other languages, and their stories'
    documents, handed to ``prepared`` to be written after them."""
    if not settings.stories:
        return None

    def step(documents: list[dict[str, Any]], indexed_at: str) -> None:
        story_store.assign_stories(
            es,
            names,
            documents,
            threshold=settings.story_threshold,
            window=timedelta(hours=settings.story_window_hours),
        )
        if settings.cross_lingual:
            story_store.link_languages(
                es,
                names,
                documents,
                publisher_of,
                window=timedelta(hours=settings.cross_lingual_hours),
            )
        prepared(story_store.prepare_story_docs(es, names, documents, indexed_at))

    return step


def index(
    docs_path: str,
    settings: Settings,
    es: Elasticsearch,
    *,
    source_id: str,
    run_id: str,
    publisher_of: Mapping[str, str],
) -> Counts:
    """Bulk-write one staged batch, store its alerts and rejects, then remove the file.

    ``publisher_of`` is ``publishers(settings)``, read by the caller: once per run by one
    that indexes several batches.

    The file stays until everything in it is written or recorded as a reject with its
    reason: an unreachable Elasticsearch raises before the unlink, and the retry (or the
    next run's pending step) starts from the same file.
    """
    path = staging.storage_path(docs_path)
    if not path.exists():
        log.warning("event=index_already_done batch=%s (an earlier try indexed it)", path)
        return {}
    names = IndexNames(settings.index_prefix)
    records = list(staging.read_records(path))
    articles = _unique_by_id(r for r in records if "doc" in r)
    documents = [article["doc"] for article in articles]
    line_hashes = {a["doc"]["_id"]: a["line_hashes"] for a in articles if a.get("line_hashes")}
    prepared: list[story_store.PreparedStories] = []
    result = store.index_articles(
        es,
        names,
        documents,
        before_write=_story_step(settings, es, names, publisher_of, prepared.append),
        reads_the_same=lambda old, new: reads_the_same(old, new, line_hashes.get(new["_id"], ())),
    )
    # Derived as if every article were written: a story that lost an article, or that
    # another batch wrote meanwhile, is derived again from its indexed members.
    failed = {doc_id for doc_id, _ in result.failed}
    stories = [
        story_store.write_story_docs(es, names, p, [d for d in documents if d["_id"] in failed])
        for p in prepared
    ]
    # New or changed articles only; the alert id makes each (story, watchlist) pair once,
    # and later members of a story are added to its alert without a new notification.
    now = datetime.now(UTC)
    new_alerts = alerts.store_alerts(
        es,
        names,
        [
            alerts.stamped(
                alerts.for_story(alert, article["doc"].get("story_id", alert["article_id"])), now
            )
            for article in articles
            if article["doc"]["_id"] in result.written_ids
            for alert in article["alerts"]
        ],
    )
    stored = watchlist_store.current(es, names)
    edit_alerts = edits.store_edit_alerts(
        es, names, _edit_watchlists(stored), result.revisions, now
    )
    # Delivered now rather than at the end of the run: the watchers hear of an article
    # as soon as its batch is written. Failures stay undelivered for notify_pending.
    # Digest watchlists' alerts wait for their digest (deliver_digests).
    later = {w.id for w in _digest_watchlists(stored)}
    delivered = deliver(
        settings,
        es,
        [a["_id"] for a in [*new_alerts, *edit_alerts] if a["watchlist"] not in later],
    )
    index_rejects = [
        {"url": doc_url, "stage": "index", "reason": "index-error", "detail": reason}
        for doc_url, reason in _failed_urls(result.failed, [a["doc"] for a in articles])
    ]
    rejects = [r["rejected"] for r in records if "rejected" in r] + index_rejects
    store.record_rejects(es, names, rejects, source=source_id, run_id=run_id)
    # Pages written now (not unchanged revisits, which were counted when first written).
    _count_boilerplate(
        es,
        names,
        source_id,
        [
            article["line_hashes"]
            for article in articles
            if article.get("line_hashes") and article["doc"]["_id"] in result.written_ids
        ],
        settings,
    )
    counts: Counter[str] = Counter(
        indexed=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        failed=len(result.failed),
        alerts=len(new_alerts),
        edit_alerts=len(edit_alerts),
        stories_updated=sum(s.written for s in stories),
        stories_rederived=sum(s.rederived for s in stories),
    )
    counts.update(delivered)
    counts.update(f"rejected_index_{r['reason']}" for r in index_rejects)
    path.unlink()
    log.info("event=indexed batch=%s run=%s %s", path.name, run_id, _fmt(counts))
    return dict(counts)


def _unique_by_id(articles: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two entries can lead to one page (redirects, canonical links): keep the first."""
    unique: dict[str, dict[str, Any]] = {}
    for article in articles:
        unique.setdefault(article["doc"]["_id"], article)
    return list(unique.values())


def _failed_urls(
    failed: list[tuple[str, str]], documents: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    url_by_id = {doc["_id"]: doc["url"] for doc in documents}
    return [(url_by_id.get(doc_id, doc_id), reason) for doc_id, reason in failed]


def notify_pending(settings: Settings, es: Elasticsearch, now: datetime | None = None) -> Counts:
    """Store the alerts indexed articles are missing, the edit alerts recent revisions are
    missing, and the story documents recent articles are missing from (a run that died
    after its bulk write, say), then deliver every alert not yet delivered whose claim is
    free: new ones, failed ones, and deliveries whose process died (once their lease
    expired); then the digests whose period is over (at ``now``).

    Stories are looked at over one story window back (``NEWS_INGEST_STORY_WINDOW_HOURS``,
    how long an article stays a candidate): what a run that died longer ago left stale is
    not mended here."""
    names = IndexNames(settings.index_prefix)
    snapshot = watchlist_store.snapshot(es, names, settings.config_dir)
    active = watchlist_store.from_snapshot(snapshot)
    stored = watchlist_store.current(es, names)
    since = datetime.now(UTC) - timedelta(hours=settings.story_window_hours)
    recovered = {
        "stories_repaired": (
            story_store.repair_story_docs(es, names, since) if settings.stories else 0
        ),
        "alerts_recovered": alerts.store_missing_alerts(es, names, active, datetime.now(UTC)),
        "edit_alerts_recovered": edits.store_missing_edit_alerts(
            es, names, _edit_watchlists(stored), datetime.now(UTC)
        ),
    }
    counts: Counter[str] = Counter({key: n for key, n in recovered.items() if n})
    later = [w.id for w in _digest_watchlists(stored)]
    counts.update(deliver(settings, es, alerts.undelivered_ids(es, names, exclude=later)))
    counts.update(deliver_digests(settings, es, now or datetime.now(UTC)))
    log.info("event=notified %s", _fmt(counts))
    return dict(counts)


def deliver_digests(settings: Settings, es: Elasticsearch, now: datetime) -> Counts:
    """One digest per watchlist with hourly/daily delivery whose undelivered alerts are of
    periods that are over. Its alerts are claimed like single alerts (a digest another
    process holds is not sent twice) and the digest's id, derived from its alerts, is the
    idempotency key: a resend after a crash carries the same one."""
    names = IndexNames(settings.index_prefix)
    claims = delivery.claim_store(settings, es, names)
    counts: Counter[str] = Counter()
    for watchlist in _digest_watchlists(watchlist_store.current(es, names)):
        ready = digests.due(alerts.undelivered(es, names, [watchlist.id]), watchlist.delivery, now)
        held = [
            claim
            for alert in ready
            if (claim := claims.claim(alert["_id"], settings.alert_max_attempts)) is not None
        ]
        if not held:
            continue

        def reached(claim: delivery.Claim, channels: list[str]) -> list[str]:
            return sorted({*(claim.alert.get("delivered") or []), *channels})

        def on_progress(channels: list[str], held: list[delivery.Claim] = held) -> None:
            for claim in held:
                claims.progress(claim, reached(claim, channels))

        message = digests.digest(watchlist, [claim.alert for claim in held])
        sent, errors = notify.deliver(watchlist.channels, message, on_progress)
        for claim in held:
            claims.finish(claim, reached(claim, sent), errors)
        counts["digests_failed" if errors else "digests_sent"] += 1
        counts["digest_alerts"] += len(held)
    return dict(counts)


def _digest_watchlists(stored: Sequence[watchlist_store.StoredVersion]) -> list[Watchlist]:
    return [v.watchlist for v in stored if v.watchlist.delivery != "immediate"]


def _edit_watchlists(stored: Sequence[watchlist_store.StoredVersion]) -> set[str]:
    """The watchlists in force that asked for edit alerts."""
    return {v.watchlist.id for v in stored if v.watchlist.edit_alerts and not v.disabled}


WINDOW_STAGING = "{source}__windows"


def staging_key(source_id: str, window: Window | None) -> str:
    """The staging folder of a source's runs: polls share one, window runs another."""
    return source_id if window is None else WINDOW_STAGING.format(source=source_id)


def pending_batches(settings: Settings, source_id: str, current_run: str) -> list[str]:
    """Document batches staged by earlier runs that never got indexed (e.g. an ES outage)."""
    current = staging.run_folder(settings.staging_base, source_id, current_run).name
    return earlier_batches(settings, source_id, current, "docs")


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


def load_worker_state(settings: Settings) -> None:
    """Load what every page's analysis needs: language profiles, taxonomy, watchlists.

    Otherwise each worker loads them at its first page, about 0.4 s per worker and pool.
    The watchlists are the snapshot a run starting now takes; when Elasticsearch cannot be
    asked, or a list changes before the run takes its snapshot, workers compile the run's
    snapshot at their first page instead.
    """
    load_profiles()
    taxonomy_in(str(settings.config_dir))
    try:
        es = store.connect(settings)
        names = IndexNames(settings.index_prefix)
        watchlist_store.from_snapshot(watchlist_store.snapshot(es, names, settings.config_dir))
    except Exception as exc:  # a preload that fails only costs the workers that time
        log.info("event=preload_watchlists_skipped reason=%s", type(exc).__name__)


def extraction_pool(settings: Settings) -> Executor:
    """A process pool sized to the cores for extraction (trafilatura is CPU-bound).

    forkserver, not fork: Airflow task processes and the CLI's progress display run
    threads, and forking a threaded process can copy a held lock into the child. The
    server is started here, and imports the extraction stack in the background while the
    caller goes on (polling feeds, say), so the first pages do not wait for it; workers
    forked from it start with everything ``load_worker_state`` loads (see
    ``news_ingest.extraction_server``) and never re-run the caller's ``__main__`` (see
    ``news_ingest.processes``).
    """
    import multiprocessing.forkserver
    import os
    from concurrent.futures import ProcessPoolExecutor

    context = worker_context(["news_ingest.extraction_server"])
    os.environ[POOL_PARENT_ENV] = str(os.getpid())  # the server's environment
    multiprocessing.forkserver.ensure_running()
    return ProcessPoolExecutor(
        max_workers=settings.extract_workers,
        mp_context=context,
        initializer=die_with_pool_server,
    )


def run_once(
    source: Source,
    feed_urls: Sequence[str],
    settings: Settings,
    es: Elasticsearch,
    *,
    run_id: str,
    on_page: Callable[[], None] | None = None,
    on_planned: Callable[[int], None] | None = None,
    window: Window | None = None,
    sweep: bool = False,
) -> Counts:
    """Plan, fetch and index one source in this process: what ``news-ingest run`` does
    (and, for each day of the range, ``news-ingest backfill``: see ``plan``'s window).

    The whole run holds the source's lease (``news_ingest.es.leases``): a second run of the
    source, whatever its kind, waits for it or stops with a message naming this one.
    """
    folder = staging.run_folder(settings.staging_base, staging_key(source.id, window), run_id)
    names = IndexNames(settings.index_prefix)
    lease = leases.holding(
        es,
        names,
        source.id,
        run_id,
        ttl=settings.run_lease_seconds,
        wait=settings.run_lease_wait,
        pid_bound=True,
    )
    with lease as held, extraction_pool(settings) as pool:
        # Taken once: every batch of the run matches the versions in force at its start.
        watchlists = watchlist_store.snapshot(es, names, settings.config_dir)
        entry_paths, plan_counts = plan(
            source, feed_urls, settings, es, folder, pool, window=window, sweep=sweep
        )
        if on_planned is not None:
            on_planned(sum(plan_counts.get(k, 0) for k in ("new", "changed", "revisits")))
        all_counts = [plan_counts]
        try:
            pending = [] if window else pending_batches(settings, source.id, run_id)
            _fetch_and_index(
                source,
                entry_paths,
                pending,
                settings,
                es,
                pool,
                run_id,
                watchlists,
                on_page,
                all_counts,
                held.check,
            )
        except ElasticsearchConnectionError as exc:
            raise store.StoreUnavailable(
                f"Elasticsearch became unreachable during the run ({exc}); the batches "
                f"fetched so far stay staged under {folder} and the next run indexes them"
            ) from None
        store.refresh(es, names)
        all_counts.append(notify_pending(settings, es))
    return merge_counts(all_counts)


def _fetch_and_index(
    source: Source,
    entry_paths: list[str],
    pending: list[str],
    settings: Settings,
    es: Elasticsearch,
    pool: Executor,
    run_id: str,
    watchlists: str,
    on_page: Callable[[], None] | None,
    all_counts: list[Counts],
    check_lease: Callable[[], None],
) -> None:
    with ThreadPoolExecutor(1, "fetch") as fetcher:
        started: list[Future[FetchedBatch]] = []

        def start(number: int, path: str) -> FetchedBatch:
            # Batch N+1 is fetched while the pool still extracts batch N, so the cores do
            # not wait for the network between batches. Waiting for N-1 first keeps at most
            # two batches of pages in memory.
            if number >= 2:
                started[number - 2].result().wait()
            return start_fetch(path, settings, pool, watchlists, on_page)

        index_batch = partial(
            index,
            settings=settings,
            es=es,
            source_id=source.id,
            run_id=run_id,
            publisher_of=publishers(settings),
        )
        for number, path in enumerate(entry_paths):
            started.append(fetcher.submit(start, number, path))
        for docs_path in pending:
            check_lease()
            all_counts.append(index_batch(docs_path))
        batches = iter(started)
        for batch in batches:
            docs_path, fetch_counts = batch.result().finish()
            all_counts.append(fetch_counts)
            check_lease()
            try:
                all_counts.append(index_batch(docs_path))
            except Exception:
                # Elasticsearch down, say: stage every batch still under way, so the next
                # run's pending step indexes them without fetching anything again.
                for rest in batches:
                    rest.result().finish()
                raise
