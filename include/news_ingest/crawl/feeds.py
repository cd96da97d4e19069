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
from urllib.parse import urljoin

import feedparser
from lxml import etree

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

    A well-formed UTF-8 RSS 2.0 or Atom document (what news sites publish) is read by a
    streaming lxml parser, which keeps one item at a time besides the entries found: a
    100k-item archive feed parses in seconds, where feedparser takes minutes. Anything
    else (malformed XML, a DOCTYPE, another charset or format) goes to feedparser, which
    salvages what it can and reports the error. ``content_type`` is the server's header:
    feedparser reads the charset from it.
    """
    fast = _parse_streaming(body, feed_url, content_type)
    if fast is not None:
        return _parsed([_to_entry(raw, feed_url) for raw in fast], None)
    headers = {"content-location": feed_url, "content-type": content_type}
    parsed = feedparser.parse(body, response_headers=headers)
    bozo = _bozo_message(parsed)
    if not parsed.get("version") and not parsed.entries:
        return ParsedFeed(entries=[], bozo=bozo or "not an RSS or Atom document")
    return _parsed([_to_entry(raw, feed_url) for raw in parsed.entries], bozo)


def _parsed(found: list[FeedEntry | None], bozo: str | None) -> ParsedFeed:
    entries = [entry for entry in found if entry is not None]
    skipped = {"entry-without-link": len(found) - len(entries)} if len(entries) < len(found) else {}
    return ParsedFeed(entries=entries, bozo=bozo, skipped=skipped)


ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_CHUNK = 1 << 20


def _parse_streaming(body: bytes, feed_url: str, content_type: str) -> list[dict[str, Any]] | None:
    """Entries as feedparser-shaped dicts, or None when this document is not for the fast
    path (then feedparser reads it)."""
    charset = content_type.partition("charset=")[2].strip(" \"'").lower()
    head = body[:1024].lower()
    declared = head.partition(b"encoding=")[2][1:6] if b"encoding=" in head else b"utf-8"
    if charset not in ("", "utf-8") or declared != b"utf-8" or b"<!doctype" in body[:4096].lower():
        return None
    parser = etree.XMLPullParser(
        events=("start", "end"), resolve_entities=False, no_network=True, recover=False
    )
    entries: list[dict[str, Any]] = []
    root_checked = False
    try:
        for start in range(0, len(body), _CHUNK):
            parser.feed(body[start : start + _CHUNK])
            for event, element in parser.read_events():
                if not root_checked:
                    if element.tag not in ("rss", f"{ATOM}feed"):
                        return None
                    root_checked = True
                    base = urljoin(feed_url, element.get(XML_BASE) or "")
                elif event == "end" and element.tag in ("item", f"{ATOM}entry"):
                    entries.append(_raw_entry(element, base))
                    # Done with this item: free it and what came before it.
                    element.clear()
                    while element.getprevious() is not None:
                        del element.getparent()[0]
        parser.close()
    except (etree.XMLSyntaxError, ValueError):
        return None
    return entries if root_checked else None


def _raw_entry(item: Any, base: str) -> dict[str, Any]:
    """One RSS item or Atom entry as the fields ``_to_entry`` reads from feedparser."""
    if item.tag == "item":
        link = _text(item, "link")
        guid = item.find("guid")
        if not link and guid is not None and guid.get("isPermaLink", "true") != "false":
            link = (guid.text or "").strip()
        published = _rfc822(_text(item, "pubDate")) or _iso(_text(item, f"{DC}date"))
        authors = [_text(item, "author"), *(c.text or "" for c in item.iter(f"{DC}creator"))]
        return {
            "link": _absolute(base, link),
            "title": _text(item, "title"),
            "summary": _text(item, "description"),
            "published_at": published,
            "updated_at": _iso(_text(item, f"{ATOM}updated")),
            "tags": [{"term": c.text or ""} for c in item.iter("category")],
            "authors": [{"name": _rss_author(a)} for a in authors if a.strip()],
        }
    href = next(
        (
            link.get("href", "")
            for link in item.iter(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ),
        "",
    )
    return {
        "link": _absolute(base, href) or _text(item, f"{ATOM}id"),
        "title": _text(item, f"{ATOM}title"),
        "summary": _text(item, f"{ATOM}summary"),
        "published_at": _iso(_text(item, f"{ATOM}published")),
        "updated_at": _iso(_text(item, f"{ATOM}updated")),
        "tags": [{"term": c.get("term", "")} for c in item.iter(f"{ATOM}category")],
        "authors": [{"name": _text(a, f"{ATOM}name")} for a in item.iter(f"{ATOM}author")],
    }


def _absolute(base: str, link: str) -> str:
    # urljoin costs more than the rest of an entry; feed links are nearly always absolute.
    return link if link.startswith(("https://", "http://")) or not link else urljoin(base, link)


def _text(element: Any, tag: str) -> str:
    return str(element.findtext(tag) or "").strip()


def _rss_author(value: str) -> str:
    """``editor@site (Name)`` -> ``Name``, as feedparser reads RSS authors."""
    value = value.strip()
    if value.endswith(")") and "(" in value:
        return value[value.rindex("(") + 1 : -1].strip()
    return value


def _rfc822(value: str) -> datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return _aware(moment)


def _iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return _aware(moment)


def _aware(moment: datetime | None) -> datetime | None:
    """The offset the feed wrote is kept (an article's times keep their zone); a time
    without one is read as UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
    if f"{key}_at" in raw:
        return raw[f"{key}_at"]  # type: ignore[no-any-return]  # streaming parser's
    if key not in raw:
        # ``in``, not get(): feedparser's get("updated") falls back to ``published``, and
        # an entry the feed never said was updated must not look edited.
        return None
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
