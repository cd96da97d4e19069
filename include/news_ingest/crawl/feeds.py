"""Feed parsing (pure) and the conditional-GET validators kept between polls.

feedparser is lenient on purpose: a feed with an XML error ("bozo") still yields the
entries it could read, and the error is reported instead of failing the poll.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from news_ingest.crawl.urls import canonicalize_url


@dataclass(frozen=True)
class FeedEntry:
    feed_url: str
    url: str
    canonical_url: str
    title: str
    summary: str
    published_at: datetime | None
    categories: tuple[str, ...]
    authors: tuple[str, ...]
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ParsedFeed:
    entries: list[FeedEntry]
    bozo: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedValidators:
    """What the last poll of a feed saw: sent back as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def parse_feed(body: bytes, feed_url: str, content_type: str = "application/xml") -> ParsedFeed:
    """Parse RSS 2.0 / Atom bytes; entries without a usable http(s) link are counted.

    ``content_type`` is the server's header: feedparser reads the charset from it.
    """
    headers = {"content-location": feed_url, "content-type": content_type}
    parsed = feedparser.parse(body, response_headers=headers)
    bozo = _bozo_message(parsed)
    if not parsed.get("version") and not parsed.entries:
        return ParsedFeed(entries=[], bozo=bozo or "not an RSS or Atom document")
    entries: list[FeedEntry] = []
    skipped: dict[str, int] = {}
    for raw in parsed.entries:
        entry = _to_entry(raw, feed_url)
        if entry is None:
            skipped["entry-without-link"] = skipped.get("entry-without-link", 0) + 1
        else:
            entries.append(entry)
    return ParsedFeed(entries=entries, bozo=bozo, skipped=skipped)


def _bozo_message(parsed: Any) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc else "malformed feed"


def _to_entry(raw: Any, feed_url: str) -> FeedEntry | None:
    link = (raw.get("link") or raw.get("id") or "").strip()
    try:
        canonical = canonicalize_url(link)
    except ValueError:
        return None
    return FeedEntry(
        feed_url=feed_url,
        url=link,
        canonical_url=canonical,
        title=(raw.get("title") or "").strip(),
        summary=(raw.get("summary") or "").strip(),
        published_at=_entry_time(raw, "published") or _entry_time(raw, "updated"),
        updated_at=_entry_time(raw, "updated"),
        categories=tuple(
            term for tag in raw.get("tags") or [] if (term := (tag.get("term") or "").strip())
        ),
        authors=tuple(
            name for author in raw.get("authors") or [] if (name := (author.get("name") or ""))
        ),
    )


def _entry_time(raw: Any, key: str) -> datetime | None:
    """The entry's ``published`` or ``updated`` time with the offset the feed wrote (RSS
    dates are RFC 822, Atom's RFC 3339); feedparser's own parse, in UTC, when neither reads."""
    text = (raw.get(key) or "").strip()
    if text:
        for parse in (email.utils.parsedate_to_datetime, datetime.fromisoformat):
            try:
                parsed = parse(text)
            except (TypeError, ValueError, IndexError):
                continue
            if parsed.tzinfo is not None:
                return parsed
    value = raw.get(f"{key}_parsed")
    if value:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def unique_entries(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Keep the first entry per canonical URL: overlapping feeds list the same article."""
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.canonical_url not in seen:
            seen.add(entry.canonical_url)
            unique.append(entry)
    return unique
