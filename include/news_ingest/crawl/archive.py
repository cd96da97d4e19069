"""What a source published in a time window, found through its sitemaps.

A source's configured sitemaps (date-templated ones expanded to one URL per day of the
window), and the ``Sitemap:`` lines of its hosts' robots.txt, are walked breadth first
through the fetcher, so politeness, robots.txt, the SSRF guard and retries hold as for
pages. Children of an index whose ``lastmod`` is older than the window cannot hold an
article of it and are not fetched. A refused sitemap is a reject with its reason; the walk
goes on with the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from news_ingest.crawl.fetcher import Fetcher, FetchError
from news_ingest.crawl.sitemaps import (
    SitemapRejected,
    SitemapUrl,
    dated_urls,
    in_window,
    is_dated,
    parse_sitemap,
)
from news_ingest.crawl.urls import canonicalize_url

log = logging.getLogger(__name__)

# The protocol forbids indexes of indexes; one more level tolerates sites that nest anyway.
MAX_DEPTH = 2


@dataclass(frozen=True)
class Window:
    """A DAG run's data interval, ``[start, end)``, both timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None or self.end <= self.start:
            raise ValueError(f"bad window {self.start} .. {self.end}")

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def run_window(
    run_type: str, start: datetime | None, end: datetime | None, *, sweep: bool
) -> Window | None:
    """What a DAG run covers: None (the feeds now) for a scheduled or manual poll; its data
    interval for a backfill run and for every run of the daily sweep. A sweep run without a
    usable interval (triggered by hand) covers the UTC day before it."""
    if not sweep and run_type != "backfill":
        return None
    if start is not None and end is not None and end > start:
        return Window(start, end)
    if not sweep:
        raise ValueError(f"backfill run without a data interval ({start} .. {end})")
    midnight = (
        (end or datetime.now(UTC))
        .astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    return Window(midnight - timedelta(days=1), midnight)


@dataclass
class ArchiveScan:
    urls: list[SitemapUrl] = field(default_factory=list)  # in the window, first listing wins
    counts: Counter[str] = field(default_factory=Counter)
    rejects: list[dict[str, str]] = field(default_factory=list)


def sitemap_roots(templates: Sequence[str], window: Window) -> list[str]:
    """The configured sitemaps for ``window``: templates expanded per day, others as is."""
    roots: list[str] = []
    for template in templates:
        if is_dated(template):
            roots.extend(dated_urls(template, window.start, window.end))
        else:
            roots.append(template)
    return roots


def origins(urls: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for url in urls:
        parts = urlsplit(url)
        seen.setdefault(f"{parts.scheme}://{parts.netloc}")
    return list(seen)


async def scan(
    fetcher: Fetcher,
    roots: Sequence[str],
    window: Window,
    *,
    max_bytes: int,
    source_id: str,
) -> ArchiveScan:
    """Walk ``roots`` and keep the URLs whose publication date (or lastmod) is in ``window``."""
    result = ArchiveScan()
    seen_urls: set[str] = set()
    visited: set[str] = set()
    queue = [(root, 0) for root in roots]
    done = 0
    while queue:
        url, depth = queue.pop(0)
        key = canonicalize_url(url)
        if key in visited:
            continue  # two roots (robots.txt and config) naming one sitemap, say
        visited.add(key)
        done += 1
        try:
            response = await fetcher.get(url, {"Accept": "application/xml"}, max_bytes=max_bytes)
            if response.status != 200:
                raise SitemapRejected(f"http-{response.status}", f"status {response.status}")
            parsed = parse_sitemap(response.body, response.final_url, max_bytes=max_bytes)
        except (FetchError, SitemapRejected) as exc:
            _reject(result, url, exc.reason, exc.detail, source_id)
            continue
        result.counts["sitemaps_read"] += 1
        result.counts.update({f"sitemap_entry_{k}": v for k, v in parsed.skipped.items()})
        for child in parsed.children:
            if depth + 1 > MAX_DEPTH:
                _reject(result, child.url, "too-deep", f"index nested {depth + 1} deep", source_id)
            elif canonicalize_url(child.url) in visited:
                _reject(result, child.url, "sitemap-cycle", f"listed again by {url}", source_id)
            elif child.lastmod is not None and child.lastmod < window.start:
                result.counts["sitemaps_pruned"] += 1
            else:
                queue.append((child.url, depth + 1))
        kept = 0
        for entry in parsed.urls:
            if entry.date is None:
                result.counts["sitemap_urls_undated"] += 1
            elif not in_window(entry.date, window.start, window.end):
                result.counts["sitemap_urls_outside_window"] += 1
            elif entry.canonical_url not in seen_urls:
                seen_urls.add(entry.canonical_url)
                result.urls.append(entry)
                kept += 1
        # Progress for the task log: one line per sitemap, with how far the walk is.
        log.info(
            "event=sitemap_scanned source=%s sitemap=%s n=%d/%d urls=%d in_window=%d window=%s",
            source_id,
            url,
            done,
            done + len(queue),
            len(parsed.urls),
            kept,
            window,
        )
    result.counts["sitemap_urls_in_window"] = len(result.urls)
    return result


def _reject(result: ArchiveScan, url: str, reason: str, detail: str, source_id: str) -> None:
    log.error(
        "event=sitemap_rejected source=%s sitemap=%s reason=%s detail=%s",
        source_id,
        url,
        reason,
        detail,
    )
    result.counts["sitemaps_rejected"] += 1
    result.counts[f"sitemap_{reason}"] += 1
    result.rejects.append({"url": url, "stage": "sitemap", "reason": reason, "detail": detail})
