"""Feed health and extraction drift: the figures of the Feed health page and `news-ingest health`.

Per feed, from ``<prefix>-feeds`` (written at every poll) and the articles it led to: last
poll, HTTP status, validators, failure streak, last error, entries published in the last
24 hours and the age of the newest one. Per source, extraction quality over the last 24
hours against the 7 days before: the share of pages without a lede, with a short body,
whose profile found no body container, or that gave no article text at all (rejects), and
the mean body length. A site that changes its layout keeps answering 200 with pages that
extract badly, which no task failure shows; these shares do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch
from news_ingest.es.indices import IndexNames
from news_ingest.settings import Settings

RECENT = timedelta(hours=24)
BASELINE = timedelta(days=7)
# Extraction warnings whose share is watched (news_ingest.extract), and the reject reason of
# a page that gave no article text at all.
WATCHED_WARNINGS = ("no-lede", "short-body", "profile-body-not-found")
NO_TEXT = "no-article-text"
SHARES = (*WATCHED_WARNINGS, NO_TEXT)
# Fewer pages than this in a window say nothing about a share.
MIN_RECENT_PAGES = 3
MIN_BASELINE_PAGES = 5
# Without a baseline (a new source), a share this high is a problem on its own.
ABSOLUTE_SHARE = 0.5
# The body has shrunk when its mean length falls below this fraction of the baseline's.
BODY_SHRINK = 0.5
MAX_SOURCES = 200
MAX_FEEDS = 1000


@dataclass(frozen=True)
class Thresholds:
    max_lag: timedelta = timedelta(hours=48)
    drift: float = 0.25

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(timedelta(hours=settings.health_max_lag_hours), settings.health_drift)


@dataclass
class FeedHealth:
    feed_url: str
    source: str
    polled_at: str | None
    last_status: int | None
    etag: str | None
    last_modified: str | None
    failure_streak: int
    last_error: str | None
    last_success_at: str | None
    entries_24h: int
    newest_entry_at: str | None
    lag_seconds: float | None
    flags: list[str] = field(default_factory=list)


@dataclass
class Quality:
    """Extraction quality of one source over one window."""

    pages: int = 0
    shares: dict[str, float] = field(default_factory=dict)
    mean_body_words: float | None = None


@dataclass
class SourceQuality:
    source: str
    recent: Quality
    baseline: Quality
    flags: list[str] = field(default_factory=list)


@dataclass
class HealthReport:
    generated_at: str
    feeds: list[FeedHealth]
    sources: list[SourceQuality]

    @property
    def flagged(self) -> bool:
        return any(f.flags for f in self.feeds) or any(s.flags for s in self.sources)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flagged": self.flagged}


def feed_flags(feed: FeedHealth, thresholds: Thresholds) -> list[str]:
    flags = []
    if feed.failure_streak > 0:
        flags.append(f"failing ({feed.failure_streak} poll(s) in a row)")
    if feed.lag_seconds is not None and feed.lag_seconds > thresholds.max_lag.total_seconds():
        flags.append(f"stale (newest entry {feed.lag_seconds / 3600:.0f} h old)")
    return flags


def quality_flags(recent: Quality, baseline: Quality, thresholds: Thresholds) -> list[str]:
    """What drifted in ``recent`` against ``baseline`` (or, with no baseline, what is bad)."""
    if recent.pages < MIN_RECENT_PAGES:
        return []
    has_baseline = baseline.pages >= MIN_BASELINE_PAGES
    flags = []
    for name in SHARES:
        now = recent.shares.get(name, 0.0)
        if has_baseline:
            before = baseline.shares.get(name, 0.0)
            if now - before >= thresholds.drift:
                flags.append(f"{name}: {now:.0%} of pages, baseline {before:.0%}")
        elif now >= ABSOLUTE_SHARE:
            flags.append(f"{name}: {now:.0%} of pages (no 7-day baseline yet)")
    words_now, words_before = recent.mean_body_words, baseline.mean_body_words
    shrunk = words_now is not None and words_before and words_now < BODY_SHRINK * words_before
    if has_baseline and shrunk:
        flags.append(f"body length: {words_now:.0f} words, baseline {words_before:.0f}")
    return flags


def _seconds_between(earlier: str | None, now: datetime) -> float | None:
    if not earlier:
        return None
    return round((now - datetime.fromisoformat(earlier.replace("Z", "+00:00"))).total_seconds())


def feed_health(
    state: Mapping[str, Any], activity: Mapping[str, Any], now: datetime, thresholds: Thresholds
) -> FeedHealth:
    """One feed's row from its stored state and its articles' activity (pure)."""
    newest = activity.get("newest_entry_at")
    feed = FeedHealth(
        feed_url=state["feed_url"],
        source=state.get("source") or "",
        polled_at=state.get("polled_at"),
        last_status=state.get("last_status"),
        etag=state.get("etag"),
        last_modified=state.get("last_modified"),
        failure_streak=int(state.get("failure_streak") or 0),
        last_error=state.get("last_error"),
        last_success_at=state.get("last_success_at"),
        entries_24h=int(activity.get("entries_24h") or 0),
        newest_entry_at=newest,
        lag_seconds=_seconds_between(newest, now),
    )
    feed.flags = feed_flags(feed, thresholds)
    return feed


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"gte": start.isoformat(), "lt": end.isoformat()}


def _feed_activity(
    es: Elasticsearch, names: IndexNames, now: datetime, sources: Sequence[str]
) -> dict[str, dict[str, Any]]:
    query: dict[str, Any] = {"terms": {"source": list(sources)}} if sources else {"match_all": {}}
    response = es.search(
        index=names.articles,
        size=0,
        query=query,
        aggs={
            "feeds": {
                "terms": {"field": "feed_url", "size": MAX_FEEDS},
                "aggs": {
                    "newest": {"max": {"field": "published_at"}},
                    "recent": {"filter": {"range": {"published_at": _window(now - RECENT, now)}}},
                },
            }
        },
    )
    return {
        bucket["key"]: {
            "newest_entry_at": bucket["newest"].get("value_as_string"),
            "entries_24h": bucket["recent"]["doc_count"],
        }
        for bucket in response["aggregations"]["feeds"]["buckets"]
    }


def _article_quality(
    es: Elasticsearch, names: IndexNames, start: datetime, end: datetime, sources: Sequence[str]
) -> dict[str, dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"range": {"fetched_at": _window(start, end)}}]
    if sources:
        filters.append({"terms": {"source": list(sources)}})
    response = es.search(
        index=names.articles,
        size=0,
        query={"bool": {"filter": filters}},
        aggs={
            "sources": {
                "terms": {"field": "source", "size": MAX_SOURCES},
                "aggs": {
                    "words": {"avg": {"field": "word_count"}},
                    **{
                        name: {"filter": {"term": {"extraction.warnings": name}}}
                        for name in WATCHED_WARNINGS
                    },
                },
            }
        },
    )
    return {
        bucket["key"]: {
            "pages": bucket["doc_count"],
            "words": bucket["words"]["value"],
            **{name: bucket[name]["doc_count"] for name in WATCHED_WARNINGS},
        }
        for bucket in response["aggregations"]["sources"]["buckets"]
    }


def _no_text_rejects(
    es: Elasticsearch, names: IndexNames, start: datetime, end: datetime, sources: Sequence[str]
) -> dict[str, int]:
    filters: list[dict[str, Any]] = [
        {"term": {"stage": "extract"}},
        {"term": {"reason": NO_TEXT}},
        {"range": {"first_seen_at": _window(start, end)}},
    ]
    if sources:
        filters.append({"terms": {"source": list(sources)}})
    response = es.search(
        index=names.rejects,
        size=0,
        query={"bool": {"filter": filters}},
        aggs={"sources": {"terms": {"field": "source", "size": MAX_SOURCES}}},
    )
    return {b["key"]: b["doc_count"] for b in response["aggregations"]["sources"]["buckets"]}


def quality(articles: Mapping[str, Any] | None, no_text: int) -> Quality:
    """A window's figures from its article aggregation and its no-text rejects (pure)."""
    articles = articles or {}
    extracted = int(articles.get("pages") or 0)
    pages = extracted + no_text
    if not pages:
        return Quality()
    shares = {name: int(articles.get(name) or 0) / pages for name in WATCHED_WARNINGS}
    shares[NO_TEXT] = no_text / pages
    words = articles.get("words")
    return Quality(pages, shares, round(words, 1) if words is not None else None)


def health_report(
    es: Elasticsearch,
    names: IndexNames,
    now: datetime,
    thresholds: Thresholds,
    sources: Sequence[str] = (),
) -> HealthReport:
    """Every feed's and source's figures (``sources`` narrows it, e.g. to one DAG's)."""
    query: dict[str, Any] = {"terms": {"source": list(sources)}} if sources else {"match_all": {}}
    states = es.search(index=names.feeds, query=query, size=MAX_FEEDS, sort=[{"feed_url": "asc"}])[
        "hits"
    ]["hits"]
    activity = _feed_activity(es, names, now, sources)
    feeds = [
        feed_health(hit["_source"], activity.get(hit["_source"]["feed_url"], {}), now, thresholds)
        for hit in states
    ]
    windows = {
        "recent": (now - RECENT, now),
        "baseline": (now - RECENT - BASELINE, now - RECENT),
    }
    figures = {
        name: (
            _article_quality(es, names, start, end, sources),
            _no_text_rejects(es, names, start, end, sources),
        )
        for name, (start, end) in windows.items()
    }
    seen = sorted(
        {feed.source for feed in feeds}
        | {source for arts, rejects in figures.values() for source in (*arts, *rejects)}
    )
    rows = []
    for source in seen:
        recent, baseline = (
            quality(figures[name][0].get(source), figures[name][1].get(source, 0))
            for name in ("recent", "baseline")
        )
        rows.append(
            SourceQuality(source, recent, baseline, quality_flags(recent, baseline, thresholds))
        )
    return HealthReport(generated_at=now.isoformat(), feeds=feeds, sources=rows)
